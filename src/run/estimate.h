/* estimate: each suite's score and standard error, kept up to date cell by
 * cell while a run or a watch update goes on, so the first estimate is
 * there after the first few cells rather than after the last.
 *
 * Reckoned as report.h reckons the final score: a task's score is the mean
 * of its scored iterations, the suite's the mean of its scored tasks, and
 * the standard error is the tasks' sample standard deviation over
 * sqrt(tasks) (tasks, not cells, are the independent samples). Each update
 * costs O(1): the sum and the sum of squares of the task means are kept. */
#ifndef ESTIMATE_H
#define ESTIMATE_H

#include <stddef.h>

#include "plan/plan.h"

struct estimate {
	size_t cells;     /* the suite's targeted cells (N) */
	size_t scored;    /* ... of which have a score now (n) */
	size_t tasks;     /* tasks with at least one scored cell */
	double score;     /* NAN while no cell is scored */
	double se;        /* NAN while fewer than 2 tasks are scored */
};

struct estimator;

/* an estimator over the plan's suites, counting the cells scored already
 * (cached ones) */
struct estimator *mkestimator(const struct plan *p);
/* the cell has its score now (c->scored): add it */
void estimateadd(struct estimator *e, const struct cell *c);
/* the cell no longer counts (it runs again): its score as it was added goes */
void estimatedrop(struct estimator *e, const struct cell *c);
/* suite i's estimate (of p->sp) */
const struct estimate *estimateof(const struct estimator *e, size_t i);
/* "0.750 ±0.100 (12 of 200 cells)": score, standard error (n/a below two
 * scored tasks), scored and targeted cells; caller frees */
char *estimateline(const struct estimate *s);
/* free it (its plan may be freed already) */
void freeestimator(struct estimator *e);

#endif
