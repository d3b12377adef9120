/* plan: from the loaded Evalfile to cells, their keys, and what each needs.
 *
 * A cell is one (suite, task, iteration). Its run key is the hash of the
 * cache format version, the agent's canonical config, the rendered prompt,
 * what the agent sees of the task (not its expected answer), the agent's
 * file inputs (deps, folders under them, files on its command line), the
 * values of its env_inputs and the iteration; its grade key the hash of
 * the run's output, the grader's config, files and env_inputs, and the
 * expected answer (and the task's content for a grader that sees more of
 * it, the iteration with shuffled choices). A cell needs a run when no entry has its run
 * key, a grade when no grade has its grade key, else nothing.
 *
 * A suite with several graders gives each grader its own grade key (the
 * same formula with that grader's config, files and env_inputs), so adding
 * or changing one grader grades only with it; the cell's gradekey is then
 * the hash of them all (what lock files and explain compare), and its score
 * the first grader's, or with weights their weighted mean. With one grader
 * gradekey is that grader's key, as it always was.
 *
 * Cells are ordered iteration-major (every task's first iteration before
 * any task's second), so a partial run already covers the whole suite.
 * A no-op plan reads no task file: hashes come from the stat cache, the
 * rendered prompt's hash from a memo keyed by template and task content. */
#ifndef PLAN_H
#define PLAN_H

#include "load/evalfile.h"
#include "core/hash.h"
#include "store/state.h"
#include "store/store.h"
#include "load/tasks.h"
#include "load/template.h"

/* 2: a task's part of the run key leaves its expected answer out */
#define CACHE_VERSION 2

enum need { NEED_NOTHING, NEED_GRADE, NEED_RUN };
enum cellstatus { CELL_PENDING, CELL_RAN, CELL_CACHED, CELL_ERROR };
/* why a pending cell was not started (run.h's bounds) */
enum { STOP_NONE, STOP_STDERR, STOP_CELLS, STOP_COST };

struct idxlist {
	size_t *v;
	size_t n, cap;
};

struct suiteplan {
	struct suite *suite;
	struct template *tmpl;    /* NULL: the prompt is the task's input */
	struct template *rubric;  /* a judge grader's rubric */
	char *system;             /* a model agent's system prompt text */
	hash tmplhash;
	struct tasklist tasks;
	char **prompts;           /* per task: rendered when a cell must run */
	hash agenthash, depshash, graderhash;  /* graderhash: the first grader's */
	hash *graderhashes;       /* several graders: each one's (NULL with one) */
	struct template **rubrics; /* several graders: each judge's rubric ([0] is rubric) */
	hash envhash;             /* the agent's env_inputs' values; zero when none */
	int iterations;
	size_t ncells;            /* targeted cells of this suite */
	struct idxlist *cellsof;  /* per task: its cells' indices in the plan */
	int broken;               /* watch: its prompt or files are invalid now */
	struct stamp *depdirseen; /* run/inputs.c: the agent's depdirs' stat data when a
	                             walk last found no new input in them, or NULL */
};

struct cell {
	struct suiteplan *sp;
	struct task *task;
	size_t taskno;            /* index in sp->tasks */
	int iteration;
	char *id;                 /* SUITE/TASK#K */
	hash runkey, gradekey;    /* gradekey: with several graders, of them all */
	hash *gradekeys;          /* several graders: each one's grade key (else NULL) */
	double *scores;           /* several graders: each one's score, NAN until graded */
	hash parts[NPARTS];
	hash expectedhash;
	enum need need;
	char *why;                /* why it needs what it needs */
	/* the outcome */
	enum cellstatus status;
	int scored;
	double score, seconds;
	hash out;
	char *error;              /* what went wrong, when status is CELL_ERROR */
	int graded_now;           /* graded in this invocation */
	int fetched;              /* its run came from the remote cache now (-n: would) */
	int queued;               /* waiting in or taken by the scheduler */
	int failed;               /* watch: it failed at the last update */
	int stopped;              /* STOP_*: not started, a bound of the run was reached */
	void *job;                /* the scheduler's job working on it */
	int othershard;           /* left to another shard or to the job array
	                           * (plan/shard.h): pending here, not run */
	int recorded;             /* its cell record is written (recordcells) */
	const struct runrec *keptrun; /* plankept: its run's usage as the record
	                           * kept it (cellrun); NULL: the store's */
};

struct plan {
	struct evalfile *ef;
	struct state *st;
	struct store *store;
	struct suiteplan *sp;
	size_t nsp;
	struct cell *cells;
	size_t ncells;
	int rebuild;              /* -B: fresh results replace stored ones */
	struct runrec *keptruns;  /* plankept: the cells' keptrun */
};

struct planopts {
	char **targets;           /* SUITE, SUITE/TASK or SUITE/TASK#K; none: all */
	int ntargets;
	int iterations;           /* > 0: overrides every suite's */
	int sample;               /* > 0: this many tasks per suite */
	int rebuild;              /* -B: every targeted cell needs a run */
};

/* plan the targeted cells; NULL and *err (exit 2 material) on bad targets,
 * bad task files or templates */
struct plan *makeplan(struct evalfile *ef, struct state *st, struct store *store, const struct planopts *o, char **err);
/* A plan as a no-op record kept it (report/noop.h): every suite of the
 * Evalfile, each of .json tasks (a listing found them before), every
 * cell up to date with the run key and scores the store gave it then
 * (what the table and the record read: a kept cell's grade key and its
 * task's content hash are zero, a task keyed again gets both). The
 * record's paths all hold but its changed tasks', which rekeytask keys
 * again; nothing else is read but the suites' config (prompt, deps,
 * graders), as makeplan does. Strings are copied. */
struct kepttask {
	const char *id, *path;
	hash full;                /* its content's hash (content: not kept) */
};

/* a suite's part of its cells' keys, as planning has it: plankept plans
 * only when they are the record's */
enum { KEPT_AGENT, KEPT_PROMPT, KEPT_DEPS, KEPT_ENV, KEPT_GRADERS, NKEPT };

struct keptsuite {
	const char *name;
	const struct kepttask *tasks;
	size_t ntasks;
	hash config[NKEPT];
};

/* the suite's config hashes (KEPT_*), to keep with its plan */
void keptconfig(const struct suiteplan *sp, hash out[NKEPT]);

struct keptcell {
	size_t suite, taskno;     /* suite: index in the Evalfile's suites */
	int iteration, scored;
	hash runkey;              /* (its grade key is not kept: zero) */
	double score, seconds;
	const double *scores;     /* several graders: each one's; else NULL */
	long long intokens, outtokens; /* the run's usage; -1: none reported */
	const char *model;
};

struct keptplan {
	const struct keptsuite *suites;
	size_t nsuites;
	const struct keptcell *cells;
	size_t ncells;
};

/* NULL and *err (what disagrees with the Evalfile, or a suite's config
 * error: makeplan would say it) */
struct plan *plankept(struct evalfile *ef, struct state *st, struct store *store, const struct planopts *o,
                      const struct keptplan *k, char **err);
/* a cell's stored run, for its usage: the one kept, else the store's */
const struct runrec *cellrun(struct plan *p, const struct cell *c);
/* the rendered prompt of a cell (loading its task); NULL and *err */
const char *cellprompt(struct plan *p, struct cell *c, char **err);
/* compute a cell's grade key from its output hash (every grader's, and
 * forget the scores of the graders it had) */
void setgradekey(struct plan *p, struct cell *c, hash out);
/* the grade key of the cell's grader i (setgradekey computed it) */
hash gradekeyof(const struct cell *c, size_t i);
/* the score its grader i gave, NAN while it has none */
double scoreof(const struct cell *c, size_t i);
/* record grader i's score; once every grader has one, the cell is scored:
 * its score is the first grader's, or the weighted mean with weights */
void setscore(struct cell *c, size_t i, double score);
/* the hash of every grader's config of the suite (graderhash with one) */
hash gradershash(const struct suiteplan *sp);
/* the template of grader i's rubric (a judge's), or NULL */
const struct template *rubricof(const struct suiteplan *sp, size_t i);
/* after a task's files changed: rehash it, then recompute its cells' keys
 * and what they need; -1 and *err when the task is now unreadable */
int rekeytask(struct plan *p, struct suiteplan *sp, size_t taskno, char **err);
/* the hash a list of files had in a key (tag "deps": a cell's
 * parts[PART_DEPS]) computed from the stat cache's records alone, no file
 * read: what the records say now, to compare with what a key was made of */
hash recordedlisthash(struct state *st, const char *tag, const struct strv *files);
/* the same for a grader: its hash (a part of its grade keys) from the
 * records of its files */
hash recordedgraderhash(struct plan *p, const struct grader *g);
/* after a suite's prompt, deps, system prompt or grader files changed */
int rekeysuite(struct plan *p, struct suiteplan *sp, char **err);
/* the names of the input parts (PART_*), as -n and explain print them */
extern const char *const partnames[NPARTS];
/* the agent's declared variables whose values differ from those the env
 * part hash was stands for ("MODEL, TEMP"), or NULL when that cannot be
 * told (the state that remembers them was lost) */
char *envchanges(struct plan *p, const struct cell *c, hash was);
/* the cell named id (SUITE/TASK#K), or NULL */
struct cell *findcellid(struct plan *p, const char *id);
void freeplan(struct plan *p);

#endif
