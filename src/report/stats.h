/* stats: is a change in a suite's score a regression or noise?
 *
 * Two runs of the same tasks are compared pairwise, task by task (a task's
 * score is the mean over its iterations, as in report.h). Two tests, both
 * deterministic:
 *   - a paired bootstrap: the tasks' score differences are resampled with
 *     replacement (a fixed seed, so the same inputs give the same answer)
 *     and the 2.5th and 97.5th percentiles of the resampled means give a
 *     95% interval of the mean difference;
 *   - an exact sign test over the tasks whose score went down or up (for
 *     pass/fail scores this is McNemar's exact test).
 * A change is called significant when the interval excludes 0 and the
 * sign test's two-sided p is below 0.05: the bootstrap alone is too
 * confident with a handful of tasks. */
#ifndef STATS_H
#define STATS_H

#include <stddef.h>

#define BOOT_SEED 20240601u

struct pairedtest {
	size_t n;            /* tasks both runs scored */
	double delta;        /* mean of new - old */
	double lo, hi;       /* 95% paired-bootstrap interval of delta */
	size_t worse, better; /* tasks whose score went down, up */
	double psign;        /* exact sign test, two-sided */
	int significant;     /* lo..hi excludes 0 and psign < 0.05 */
};

/* compare the scores old[i] and new[i] of n tasks */
void pairedtest(const double *old, const double *new, size_t n, struct pairedtest *t);
/* the exact two-sided sign test of k tasks one way and m the other */
double signtest(size_t k, size_t m);
/* one line: "significant (95% CI [...], sign test p=...: ...)", "not
 * significant (...)" or "no task's score changed (...)"; caller frees */
char *testline(const struct pairedtest *t);

#endif
