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

struct agent {
	enum agentkind kind;
	char *command;          /* command agents: run with /bin/sh -c in the Evalfile's dir */
	struct strv depglobs;   /* as written */
	struct strv deps;       /* matched files, sorted */
	struct strv env;        /* "NAME=value" */
	/* HTTP agents */
	char *provider, *model, *base_url, *api_key_env;
	char *system;           /* a file's path, or text when no such file */
	char *params;           /* canonical JSON object or NULL */
	int max_connections, retries;
	char *canon;            /* the agent section in canonical JSON: part of the run key */
};

struct grader {
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
	struct strv files;      /* the grader's own files: part of the grade key */
	char *canon;            /* grader section in canonical JSON */
};

struct suite {
	char *name;
	struct strv taskglobs;  /* as written */
	struct strv taskpaths;  /* matched, sorted, de-duplicated */
	char *prompt;           /* template file, or NULL: the input alone */
	int iterations;
	double timeout;
	double threshold;       /* < 0 when none */
	int shuffle_choices;    /* {{choices}} shown in an order seeded by task and iteration */
	struct agent agent;
	struct grader grader;
	char *where;            /* "FILE:LINE:COL" of the suite, for messages */
};

struct evalfile {
	char *path;             /* as given */
	char *dir;              /* its directory */
	char *cache;            /* cache folder */
	int jobs;
	struct suite *suites;
	size_t nsuites;
};

/* the Evalfile to use: path when given, else ./Evalfile, else ./evalfile;
 * NULL when there is none */
char *findevalfile(const char *path);
/* load and validate; on error return NULL and set *err (caller frees) */
struct evalfile *loadevalfile(const char *path, char **err);
void freeevalfile(struct evalfile *ef);
/* the suite named name, or NULL */
struct suite *findsuite(struct evalfile *ef, const char *name);

#endif
