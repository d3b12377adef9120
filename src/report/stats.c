/* stats: see stats.h. The bootstrap's cost is reps x n additions; reps
 * shrinks for very large suites so a comparison stays well under a second,
 * and never below 1,000 resamples. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
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
	double sq = 0;
	for (size_t i = 0; i < n; i++)
		sq += (d[i] - t->delta) * (d[i] - t->delta);
	t->sd = n > 1 ? sqrt(sq / (double)(n - 1)) : 0;
	t->mde = mde(n, t->sd);
	free(means);
	free(d);
}

/* "; it could detect a change of 0.250 or more (80% power)", or why not */
static void addmde(struct buf *b, const struct pairedtest *t)
{
	if (isnan(t->mde))
		bufadds(b, "; too few shared tasks to say what change it could detect");
	else
		bufaddf(b, "; with %zu tasks it detects a change of %.3f or more at 80%% power (MDE)", t->n, t->mde);
}

char *testline(const struct pairedtest *t)
{
	struct buf b = {0};
	int ciout = t->hi < 0 || t->lo > 0, signout = t->psign < 0.05;
	char ci[64], sign[128];

	if (t->n == 0)
		return xstrdup("no shared tasks to compare");
	if (!t->worse && !t->better)
		return xasprintf("no task's score changed (%zu shared tasks)", t->n);
	snprintf(ci, sizeof(ci), "95%% CI [%+.3f, %+.3f]", t->lo, t->hi);
	snprintf(sign, sizeof(sign), "sign test p=%.3g: %zu worse, %zu better of %zu shared tasks", t->psign, t->worse,
	         t->better, t->n);
	/* one verdict, from both tests; when they disagree, the words say
	 * which one held the change back */
	if (ciout && signout)
		bufaddf(&b, "significant (paired bootstrap %s excludes 0; %s)", ci, sign);
	else if (!ciout && !signout)
		bufaddf(&b, "not significant (paired bootstrap %s includes 0; %s)", ci, sign);
	else if (ciout)
		bufaddf(&b, "not significant: the sign test finds no clear direction (%s), although the paired bootstrap "
		            "%s excludes 0 (with few tasks the bootstrap alone is over-confident)", sign, ci);
	else
		bufaddf(&b, "not significant: the paired bootstrap %s includes 0, although the sign test leans one way "
		            "(%s)", ci, sign);
	addmde(&b, t);
	return bufdetach(&b);
}

int isflaky(const double *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if ((v[i] >= 1) != (v[0] >= 1))
			return 1;
	return 0;
}

double passatk(size_t n, size_t c, size_t k)
{
	double prod = 1;

	if (n - c < k) /* every draw of k holds a passing iteration */
		return 1;
	for (size_t i = n - c + 1; i <= n; i++)
		prod *= 1 - (double)k / (double)i;
	return 1 - prod;
}

double passallk(size_t n, size_t c, size_t k)
{
	double prod = 1;

	if (c < k)
		return 0;
	for (size_t i = 0; i < k; i++)
		prod *= (double)(c - i) / (double)(n - i);
	return prod;
}

double reducescores(double *v, size_t n, enum reducekind kind, int k)
{
	double sum = 0;
	size_t pass = 0;

	if (!n)
		return NAN;
	switch (kind) {
	case REDUCE_MAX:
	case REDUCE_MIN:
	case REDUCE_MEDIAN:
		qsort(v, n, sizeof(*v), cmpdouble);
		return kind == REDUCE_MIN ? v[0] : kind == REDUCE_MAX ? v[n - 1]
		       : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	case REDUCE_PASSAT:
	case REDUCE_PASSALL:
		if (n < (size_t)k)
			return NAN;
		for (size_t i = 0; i < n; i++)
			pass += v[i] >= 1;
		return kind == REDUCE_PASSAT ? passatk(n, pass, (size_t)k) : passallk(n, pass, (size_t)k);
	default:
		for (size_t i = 0; i < n; i++)
			sum += v[i];
		return sum / (double)n;
	}
}

char *reducename(enum reducekind kind, int k)
{
	switch (kind) {
	case REDUCE_MAX: return xstrdup("max");
	case REDUCE_MIN: return xstrdup("min");
	case REDUCE_MEDIAN: return xstrdup("median");
	case REDUCE_PASSAT: return xasprintf("pass@%d", k);
	case REDUCE_PASSALL: return xasprintf("pass^%d", k);
	default: return xstrdup("mean");
	}
}

double stderrmean(const double *s, size_t n)
{
	double sum = 0, sq = 0;

	if (n < 2)
		return NAN;
	for (size_t i = 0; i < n; i++)
		sum += s[i];
	double mean = sum / (double)n;
	for (size_t i = 0; i < n; i++)
		sq += (s[i] - mean) * (s[i] - mean);
	return sqrt(sq / (double)(n - 1) / (double)n);
}

double clusteredse(const double *s, const size_t *cl, size_t n, size_t *nclusters)
{
	double sum = 0, total = 0;
	size_t g = 0, maxcl = 0;

	*nclusters = 0;
	if (!n)
		return NAN;
	for (size_t i = 0; i < n; i++) {
		sum += s[i];
		if (cl[i] > maxcl)
			maxcl = cl[i];
	}
	double mean = sum / (double)n;
	/* cluster ids are small indices (the caller numbers them densely) */
	double *res = xcalloc(maxcl + 1, sizeof(*res));
	char *seen = xcalloc(maxcl + 1, 1);
	for (size_t i = 0; i < n; i++) {
		res[cl[i]] += s[i] - mean;
		if (!seen[cl[i]]) {
			seen[cl[i]] = 1;
			g++;
		}
	}
	for (size_t c = 0; c <= maxcl; c++)
		total += res[c] * res[c];
	free(res);
	free(seen);
	*nclusters = g;
	if (g < 2)
		return NAN;
	return sqrt((double)g / (double)(g - 1) * total) / (double)n;
}

void wilson(size_t pass, size_t n, double *lo, double *hi)
{
	const double z = 1.959963984540054;
	double p = (double)pass / (double)n, z2n = z * z / (double)n;
	double centre = (p + z2n / 2) / (1 + z2n);
	double half = z / (1 + z2n) * sqrt(p * (1 - p) / (double)n + z2n / (4 * (double)n));

	*lo = centre - half < 0 ? 0 : centre - half;
	*hi = centre + half > 1 ? 1 : centre + half;
}

double mde(size_t n, double sd)
{
	/* z_0.975 + z_0.8 */
	return n < 2 ? NAN : (1.959963984540054 + 0.8416212335729143) * sd / sqrt((double)n);
}
