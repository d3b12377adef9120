/* evalfile: load, merge and validate an Evalfile (YAML; JSON is valid YAML).
 *
 * The loader is the only place that knows the Evalfile's syntax. It returns
 * a fully checked configuration: every key known, every type right, every
 * named file present and every glob matching something. Errors name
 * FILE:LINE:COLUMN and what was expected; nothing else runs before the
 * whole file is valid. The loader runs in the Evalfile's directory (main
 * changes there first), so paths in the result are relative to it. */
#ifndef EVALFILE_H
#define EVALFILE_H

#include <stddef.h>

#include "core/regex.h"

enum agentkind { AGENT_COMMAND, AGENT_HTTP };
enum gradertype { GRADE_EXACT, GRADE_CONTAINS, GRADE_REGEX, GRADE_NUMERIC, GRADE_COMMAND, GRADE_JUDGE, GRADE_CHOICE };

struct strv {
	char **v;
	size_t n, cap;
};

/* append a copy of s */
void strvadd(struct strv *sv, const char *s);
void strvfree(struct strv *sv);

/* sandbox: run a command agent or grader under bubblewrap (run/sandbox.h) */
struct sandbox {
	int on;
	int network;            /* network: true keeps the network */
	struct strv writable;   /* writable: folders or files it may write, absolute */
};

struct agent {
	enum agentkind kind;
	char *command;          /* command agents: run with /bin/sh -c in the Evalfile's dir */
	struct strv depglobs;   /* as written */
	struct strv deps;       /* every file input: deps' files (a folder: the files
	                           under it) and files named on the command line;
	                           sorted, de-duplicated */
	struct strv depdirs;    /* folders deps looked into: where a new file may
	                           become an input (watch mode watches them) */
	struct strv env;        /* "NAME=value" */
	struct strv envinputs;  /* env_inputs: variables whose values are inputs, sorted */
	/* HTTP agents */
	char *provider, *model, *base_url, *api_key_env;
	char *system;           /* a file's path, or text when no such file */
	char *params;           /* canonical JSON object or NULL */
	int max_connections;
	int retries;            /* HTTP: per call (default 5); command: attempts
	                           after a failed one (default 0) */
	char *canon;            /* the agent section in canonical JSON: part of the run key */
	struct sandbox sandbox; /* command agents; its key is in canon */
};

struct grader {
	char *name;             /* its name (graders:), else its type's */
	double weight;          /* its weight in the cell's score; < 0 when not given */
	enum gradertype type;
	int trim, ignore_case;
	char *pattern;          /* regex: pattern (else each expected value is one) */
	struct regex *re;       /* ... compiled (core/regex.h) */
	char *output_pattern;   /* its first group is the answer graded */
	struct regex *outre;    /* ... compiled */
	int shuffle;            /* the suite's shuffle_choices (choice grader) */
	double tolerance;       /* numeric */
	int relative;           /* numeric: tolerance is relative */
	char *command;          /* command grader */
	char *rubric;           /* judge grader: template file */
	struct agent judge;     /* judge grader: the model */
	struct strv choices;    /* judge grader: answers the judge may give ... */
	double *choicescore;    /* ... and the score of each */
	struct strv files;      /* the grader's own files: part of the grade key (its
	                           script, files on its command line, its deps,
	                           a judge's rubric and system prompt) */
	struct strv depglobs;   /* command grader: deps as written */
	struct strv depdirs;    /* folders its deps looked into */
	struct strv envinputs;  /* env_inputs: variables whose values are inputs */
	char *canon;            /* grader section in canonical JSON */
	struct sandbox sandbox; /* command grader; its key is in canon */
};

/* caps no real use reaches, so that a typo fails at once instead of
 * planning for minutes and gigabytes */
#define MAX_ITERATIONS 10000        /* iterations of a suite */
#define MAX_CELLS 10000000          /* tasks x iterations of a suite */

/* a suite's field mapping (its `fields` and `expected_pattern` keys): which
 * task field is what; all zero means the defaults (input; expected, ideal,
 * target or answer; id; choices). Applied by load/dataset.c. */
struct fieldmap {
	char *id, *input, *expected;  /* dotted paths, or NULL */
	struct strv choices;          /* one path to a list, or several columns */
	struct strv columns;          /* a CSV without a header row: its columns */
	int choicecols;               /* choices named a list of columns */
	char *expected_pattern;       /* its first group is the expected answer */
	void *re;                     /* expected_pattern compiled (PCRE2) */
	int needexpected;             /* the grader compares with an expected answer */
	char *canon;                  /* all of the above as text, for memo keys */
};

/* reduce: how a task's iterations become its score (report/stats.h);
 * reporting only, in no run or grade key */
enum reducekind { REDUCE_MEAN, REDUCE_MAX, REDUCE_MIN, REDUCE_MEDIAN, REDUCE_PASSAT, REDUCE_PASSALL };

/* where a suite's cells run (run/slurm.h): here, or as one SLURM job
 * array; EXEC_DEFAULT: not said (the top level's for a command agent,
 * here for a model behind an API, whose limit is the provider's rate) */
enum executor { EXEC_DEFAULT, EXEC_LOCAL, EXEC_SLURM };

/* the top level's slurm: settings of executor slurm */
struct slurmconf {
	char *partition;        /* NULL: the cluster's default partition */
	int max_parallel;       /* array tasks running at once; 0: no limit */
	char *time;             /* each task's time limit, as sbatch --time takes it; NULL: the partition's */
	struct strv sbatch_args; /* more sbatch options, one word each (never through a shell) */
	int shards;             /* at most this many array tasks; 0: one per cell that needs a run, at most 1000 */
};

struct suite {
	char *name;
	struct strv taskglobs;  /* as written */
	int *taskglobat;        /* each one's line and column in the Evalfile */
	char *taskwhere;        /* "suites.NAME.tasks", for messages */
	struct strv taskpaths;  /* matched, sorted, de-duplicated */
	struct strv taskdirs;   /* folders the task globs looked into (for watch) */
	char *prompt;           /* template file, or NULL: the input alone */
	int iterations;
	double timeout;
	double threshold;       /* < 0 when none */
	int shuffle_choices;    /* {{choices}} shown in an order seeded by task and iteration */
	struct agent agent;
	struct grader grader;   /* the first (or only) grader */
	struct grader *others;  /* graders: the ones after the first */
	size_t ngraders;        /* how many it has, the first included (>= 1) */
	int weighted;           /* graders give weights: the score is their weighted mean */
	struct fieldmap fields; /* which task field is the id, input, expected, choices */
	char *where;            /* "FILE:LINE:COL" of the suite, for messages */
	enum reducekind reduce; /* reduce: (default mean); reporting only */
	int reducek;            /* pass@K, pass^K: K (<= iterations); else 0 */
	char *cluster;          /* cluster: a task field (dotted path) grouping tasks
	                           for the clustered standard error; NULL: none */
	enum executor executor; /* executor: as written (EXEC_DEFAULT when not) */
};

/* remote: a shared cache of results (store/remote.h); url NULL: none */
struct remotecfg {
	char *url;              /* http(s)://... or s3://bucket/prefix?region=..&endpoint=.. */
	int upload;             /* write what this run computes (default: read only) */
	char *token_env;        /* a variable holding a bearer token, or NULL */
	double timeout;         /* seconds per request, and for the last uploads */
	int required;           /* a remote fault is an error (exit 2), not a warning */
};

/* pricing: what a model's tokens cost, in USD per million (reporting
 * only: no cell's key depends on it) */
struct price {
	char *model;
	double input, output;
};

struct evalfile {
	char *path;             /* as given */
	char *dir;              /* its directory */
	char *cache;            /* cache folder */
	int jobs;
	int keepgoing;          /* keep_going: as -k */
	struct remotecfg remote;
	enum executor executor; /* executor: at the top level (EXEC_DEFAULT: local) */
	struct slurmconf slurm; /* slurm: */
	struct suite *suites;
	size_t nsuites;
	int lazytasks;          /* loadevalfilelazy: task globs not expanded yet */
	struct price *prices;   /* pricing: */
	size_t nprices;
};

/* the Evalfile to use: path when given, else ./Evalfile, else ./evalfile;
 * NULL when there is none */
char *findevalfile(const char *path);
/* load and validate; on error return NULL and set *err (caller frees) */
struct evalfile *loadevalfile(const char *path, char **err);
/* the same without expanding the task globs (taskpaths and taskdirs stay
 * empty): for a command that may not need them (plan/noop.h); expandtasks
 * does it later, failing as loadevalfile would ("FILE:LINE:COL: ...") */
struct evalfile *loadevalfilelazy(const char *path, char **err);
int expandtasks(struct evalfile *ef, char **err);
void freeevalfile(struct evalfile *ef);
/* what is wrong with a remote cache URL, or NULL: http:// or https:// with
 * a host, or s3://BUCKET[/PREFIX][?region=R][&endpoint=http(s)://HOST:PORT] */
const char *badremoteurl(const char *url);
/* the price of a model's tokens, or NULL when pricing does not name it */
const struct price *findprice(const struct evalfile *ef, const char *model);
/* what in and out tokens of model cost in USD (model NULL or "": the
 * fallback, e.g. the agent's configured model); *priced is 0 (and the
 * cost 0) when pricing names neither */
double tokencost(const struct evalfile *ef, const char *model, const char *fallback, long long in, long long out,
                 int *priced);
/* the suite named name, or NULL */
struct suite *findsuite(struct evalfile *ef, const char *name);
/* the suite's grader i (0: the first, s->grader), i < s->ngraders */
struct grader *suitegrader(const struct suite *s, size_t i);
/* the names of the grader types, in the order of enum gradertype */
extern const char *const gradertypes[];

#endif
