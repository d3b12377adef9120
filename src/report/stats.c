/* stats: see stats.h. The bootstrap's cost is reps x n additions; reps
 * shrinks for very large suites so a comparison stays well under a second,
 * and never below 1,000 resamples. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "report/stats.h"
#include "core/util.h"

/* splitmix64: small, fast, and the same everywhere */
static uint64_t nextrand(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static int cmpdouble(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double signtest(size_t k, size_t m)
{
	size_t n = k + m, lo = k < m ? k : m;
	double p = 0;

	if (n == 0)
		return 1;
	/* P(X <= lo) for X ~ Binomial(n, 1/2), doubled */
	for (size_t i = 0; i <= lo; i++)
		p += exp(lgamma((double)n + 1) - lgamma((double)i + 1) - lgamma((double)(n - i) + 1) - (double)n * log(2));
	p *= 2;
	return p > 1 ? 1 : p;
}

void pairedtest(const double *old, const double *new, size_t n, struct pairedtest *t)
{
	double *d, *means, sum = 0;
	size_t reps = 10000;

	*t = (struct pairedtest){.n = n, .psign = 1};
	if (n == 0)
		return;
	d = xcalloc(n, sizeof(*d));
	for (size_t i = 0; i < n; i++) {
		d[i] = new[i] - old[i];
		sum += d[i];
		if (d[i] < 0)
			t->worse++;
		else if (d[i] > 0)
			t->better++;
	}
	t->delta = sum / (double)n;
	t->psign = signtest(t->worse, t->better);
	if (n > 2000) {
		reps = 20000000 / n;
		if (reps < 1000)
			reps = 1000;
	}
	means = xcalloc(reps, sizeof(*means));
	uint64_t seed = BOOT_SEED;
	for (size_t r = 0; r < reps; r++) {
		double s = 0;
		for (size_t i = 0; i < n; i++)
			s += d[nextrand(&seed) % n];
		means[r] = s / (double)n;
	}
	qsort(means, reps, sizeof(*means), cmpdouble);
	t->lo = means[(size_t)(0.025 * (double)(reps - 1))];
	t->hi = means[(size_t)ceil(0.975 * (double)(reps - 1))];
	t->significant = (t->hi < 0 || t->lo > 0) && t->psign < 0.05;
	free(means);
	free(d);
}

char *testline(const struct pairedtest *t)
{
	if (t->n == 0)
		return xstrdup("no shared tasks to compare");
	if (!t->worse && !t->better)
		return xasprintf("no task's score changed (%zu shared tasks)", t->n);
	return xasprintf("%s (95%% CI [%+.3f, %+.3f], sign test p=%.3g: %zu worse, %zu better of %zu shared tasks)",
	                 t->significant ? "significant" : "not significant", t->lo, t->hi, t->psign, t->worse, t->better,
	                 t->n);
}
