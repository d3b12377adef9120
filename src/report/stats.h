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
 * confident with a handful of tasks. When the two disagree the verdict
 * is "not significant" and the line says which test found no change, so
 * the words never contradict the interval printed beside them.
 *
 * Also here: how a task's iterations are reduced to its score (reduce:),
 * flaky tasks, and the suite-level error bars (standard error, clustered
 * standard error, Wilson interval, minimum detectable effect). */
#ifndef STATS_H
#define STATS_H

#include <stddef.h>

#include "load/evalfile.h"

#define BOOT_SEED 20240601u

struct pairedtest {
	size_t n;            /* tasks both runs scored */
	double delta;        /* mean of new - old */
	double lo, hi;       /* 95% paired-bootstrap interval of delta */
	size_t worse, better; /* tasks whose score went down, up */
	double psign;        /* exact sign test, two-sided */
	int significant;     /* lo..hi excludes 0 and psign < 0.05 */
	double sd;           /* standard deviation of the differences (n-1) */
	double mde;          /* mde(n, sd): the change it could detect; NAN when n < 2 */
};

/* compare the scores old[i] and new[i] of n tasks */
void pairedtest(const double *old, const double *new, size_t n, struct pairedtest *t);
/* the exact two-sided sign test of k tasks one way and m the other */
double signtest(size_t k, size_t m);
/* one line whose verdict never contradicts the numbers it shows:
 * "significant: ...", "not significant: ..." naming which of the two
 * tests said no when they disagree, or "no task's score changed", then
 * the minimum detectable effect; caller frees */
char *testline(const struct pairedtest *t);

/* reduce (the suite key): a task's score from the scores v[0..n-1] of its
 * scored iterations (n >= 1; v is sorted in place). mean, max, min,
 * median (the mean of the middle two for an even n); pass@K is the
 * unbiased estimator of Chen et al. 2021 and pass^K its all-K sibling
 * (passatk, passallk), with an iteration passing when its score is 1, as
 * a task does (results.h). NAN when pass@K or pass^K has fewer than K
 * scored iterations (errors): the task then has no score. */
double reducescores(double *v, size_t n, enum reducekind kind, int k);
/* the chance that at least one of k iterations drawn without replacement
 * from n, of which c pass, passes: 1 - C(n-c,k)/C(n,k), computed as the
 * product 1 - prod_{i=n-c+1..n} (1 - k/i) (no large binomials) */
double passatk(size_t n, size_t c, size_t k);
/* the chance that all k iterations drawn without replacement from n, of
 * which c pass, pass: C(c,k)/C(n,k) = prod_{i=0..k-1} (c-i)/(n-i) */
double passallk(size_t n, size_t c, size_t k);
/* do the scored iterations v[0..n-1] disagree on pass/fail? (flaky) */
int isflaky(const double *v, size_t n);
/* "mean", "max", "min", "median", "pass@K", "pass^K"; caller frees */
char *reducename(enum reducekind kind, int k);

/* the standard error of the mean of n task scores s, clustered by cl[i]
 * (tasks with the same cl share a cluster: a passage, a repo, a
 * template). Miller 2024, "Adding Error Bars to Evals", eq. 4, with the
 * usual small-sample factor G/(G-1) for G clusters:
 *     SE = sqrt( G/(G-1) * sum_c ( sum_{i in c} (s_i - mean) )^2 ) / n
 * With every task its own cluster this is the plain standard error
 * sqrt( sum (s_i - mean)^2 / (n-1) / n ) that the table shows without
 * cluster:. *nclusters is G; NAN when G < 2 (nothing to estimate from). */
double clusteredse(const double *s, const size_t *cl, size_t n, size_t *nclusters);
/* the plain standard error of the mean of n scores: NAN when n < 2 */
double stderrmean(const double *s, size_t n);
/* Wilson's 95% score interval for pass successes out of n (n >= 1) */
void wilson(size_t pass, size_t n, double *lo, double *hi);
/* binary task scores on fewer tasks than this get a Wilson interval,
 * where the normal one (score +- 1.96 SE) is poor, worst near 0 and 1 */
#define WILSON_MAXTASKS 30
/* the minimum detectable effect of a paired comparison of n tasks whose
 * differences have standard deviation sd: the smallest true mean change a
 * two-sided test at alpha 0.05 finds with 80% power, (z_0.975 + z_0.8) *
 * sd / sqrt(n) (the normal approximation); NAN when n < 2 */
double mde(size_t n, double sd);

#endif
