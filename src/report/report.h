/* report: scores from a plan's cells, for people and for scripts.
 *
 * A task's score is its scored iterations reduced as the suite's reduce:
 * says (the mean by default; max, min, median, pass@K, pass^K: stats.h);
 * a suite's score is the mean over its scored tasks, with the standard
 * error of that mean (the tasks' spread over sqrt(n): iterations of one
 * task are clustered, so tasks, not cells, are the independent samples;
 * with cluster: the clustered standard error over groups of tasks; none,
 * NAN, with fewer than two tasks or clusters). A task is flaky when its
 * scored iterations disagree on pass/fail. Errors and pending cells
 * have no score and are counted apart, never as 0. A task fails when its
 * score is below 1. A suite with several graders also gets each grader's
 * score, reckoned the same way from that grader's cell scores. */
#ifndef REPORT_H
#define REPORT_H

#include <stdio.h>

#include "plan/plan.h"
#include "report/cost.h"

struct suitesum {
	struct suiteplan *sp;
	double score, se;         /* se: clustered with cluster:; NAN when n/a */
	double setasks;           /* the standard error over tasks, unclustered */
	size_t clusters;          /* cluster: how many clusters the scored tasks form */
	double cilo, cihi;        /* Wilson 95% interval (binary task scores on fewer
	                             than WILSON_MAXTASKS tasks); else NAN */
	size_t flaky;             /* tasks whose iterations disagree on pass/fail */
	char *taskflaky;          /* per task: 1 when flaky */
	size_t tasks, scoredtasks, cells, ran, cached, errors, pending;
	size_t regraded;          /* cached cells graded again in this invocation */
	size_t remote;            /* cells whose run came from the remote cache now */
	double *taskscore;        /* per task; < 0 when no cell is scored */
	int *taskcells;           /* targeted cells per task */
	/* a suite with several graders: the score by each, reckoned as the
	 * suite's (NAN when none), and each task's ([task * ngraders + grader],
	 * < 0 when none); NULL with one grader */
	double *gscore, *gtaskscore;
	/* tokens and cost of its cells with a stored run (report/cost.h) */
	struct usagesum usage;
};

/* tally every suite of the plan (an array of p->nsp) */
struct suitesum *summarize(struct plan *p);
void freesummary(struct plan *p, struct suitesum *s);

struct reportopts {
	int color, verbose;
	const char *title;        /* a line above the table, or NULL */
};

/* the score table, then a line per failing task (expected vs got) */
void printtable(FILE *f, struct plan *p, struct suitesum *s, const struct reportopts *o);
/* is the suite's score from part of its cells (some errored or are
 * pending)? The table says "partial" beside it, the JSON report's suite
 * has "partial": true */
int suitepartial(const struct suitesum *s);
/* after the table: the errored cells grouped by cause (the error's first
 * line), most frequent first, each naming a cell to `evalmake log`;
 * nothing when no cell errored */
void printerrors(FILE *f, struct plan *p, const struct reportopts *o);
/* the JSON report of PRODUCT.md as one line; trigger (NULL-terminated) adds
 * "trigger" for watch mode */
char *jsonreport(struct plan *p, struct suitesum *s, char *const *trigger);
/* a line of watch --jsonl: as jsonreport (with trigger) plus "full"; with
 * changed (a byte per cell of the plan), only the cells it marks and
 * their tasks are listed ("full": false): its size is what changed, not
 * the plan's. The suites' fields are always there. NULL: every cell. */
char *jsonupdate(struct plan *p, struct suitesum *s, char *const *trigger, const unsigned char *changed);
/* write the JSON report to path atomically; -1 with errno */
int writejson(struct plan *p, struct suitesum *s, const char *path);
/* a short one-line view of a cell's stored output, for "got ..." */
char *gotline(struct plan *p, const struct cell *c);

#endif
