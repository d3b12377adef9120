/* Unit tests of report/stats.c's reductions and error bars against
 * reference values computed with python3 (math.comb, statistics.NormalDist,
 * and the formulas of stats.h written out), so a slip in the C products is
 * caught by an independent computation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/stats.h"
#include "test.h"

#define NEAR(a, b) CHECK(fabs((a) - (b)) < 1e-9)

/* pass@K and pass^K against 1 - C(n-c,k)/C(n,k) and C(c,k)/C(n,k) */
TEST(stats2_passk)
{
	static const struct { size_t n, c, k; double at, all; } ref[] = {
		{5, 3, 2, 0.9, 0.3},
		{5, 1, 2, 0.4, 0.0},
		{10, 3, 1, 0.3, 0.3},
		{10, 3, 5, 0.9166666666666666, 0.0},
		{200, 7, 10, 0.3055988116177335, 0.0},
		{20, 0, 3, 0.0, 0.0},
		{4, 4, 4, 1.0, 1.0},
		{10, 8, 3, 1.0, 0.4666666666666667},
	};
	for (size_t i = 0; i < sizeof(ref) / sizeof(ref[0]); i++) {
		NEAR(passatk(ref[i].n, ref[i].c, ref[i].k), ref[i].at);
		NEAR(passallk(ref[i].n, ref[i].c, ref[i].k), ref[i].all);
	}
}

/* the fixture of tests/e2e/reduce.sh: 4 tasks of 5 iterations passing
 * 3, 1, 5 and 0 times */
TEST(stats2_reduce)
{
	static const double it[4][5] = {{1, 1, 1, 0, 0}, {0, 1, 0, 0, 0}, {1, 1, 1, 1, 1}, {0, 0, 0, 0, 0}};
	static const struct { enum reducekind kind; int k; double want[4]; } ref[] = {
		{REDUCE_MEAN, 0, {0.6, 0.2, 1, 0}},
		{REDUCE_MAX, 0, {1, 1, 1, 0}},
		{REDUCE_MIN, 0, {0, 0, 1, 0}},
		{REDUCE_MEDIAN, 0, {1, 0, 1, 0}},
		{REDUCE_PASSAT, 2, {0.9, 0.4, 1, 0}},
		{REDUCE_PASSALL, 2, {0.3, 0, 1, 0}},
	};
	for (size_t r = 0; r < sizeof(ref) / sizeof(ref[0]); r++)
		for (size_t t = 0; t < 4; t++) {
			double v[5];
			memcpy(v, it[t], sizeof(v));
			NEAR(reducescores(v, 5, ref[r].kind, ref[r].k), ref[r].want[t]);
		}
	double even[] = {0.9, 0.1, 0.5, 0.3};
	NEAR(reducescores(even, 4, REDUCE_MEDIAN, 0), 0.4);
	double few[] = {1};
	CHECK(isnan(reducescores(few, 1, REDUCE_PASSAT, 2))); /* fewer than K scored: no score */
	CHECK(isflaky(it[0], 5));
	CHECK(!isflaky(it[2], 5));
	CHECK(!isflaky(it[3], 5));
	double partial[] = {0.5, 0.9};
	CHECK(!isflaky(partial, 2)); /* both below 1: they agree, both fail */
	char *n = reducename(REDUCE_PASSALL, 3);
	CHECK_STR(n, "pass^3");
	free(n);
}

TEST(stats2_clustered)
{
	static const double s[] = {0.9, 0.1, 0.5, 1.0, 0.0, 0.3, 0.8};
	static const size_t cl[] = {0, 0, 1, 1, 1, 2, 2}, own[] = {0, 1, 2, 3, 4, 5, 6}, one[7] = {0};
	size_t g;

	NEAR(clusteredse(s, cl, 7, &g), 0.015407825378103578);
	CHECK_INT(g, 3);
	/* every task its own cluster: the plain standard error */
	NEAR(clusteredse(s, own, 7, &g), 0.1502831794100905);
	NEAR(stderrmean(s, 7), 0.1502831794100905);
	CHECK_INT(g, 7);
	CHECK(isnan(clusteredse(s, one, 7, &g))); /* one cluster: n/a */
	CHECK_INT(g, 1);
	CHECK(isnan(stderrmean(s, 1)));           /* one task: n/a, never 0 */
}

TEST(stats2_wilson)
{
	static const struct { size_t x, n; double lo, hi; } ref[] = {
		{3, 10, 0.10779126740630099, 0.6032218525388546},
		{0, 5, 0, 0.43448246478317476},
		{5, 5, 0.5655175352168251, 1},
		{12, 20, 0.38658150076225317, 0.7811934676271829},
	};
	for (size_t i = 0; i < sizeof(ref) / sizeof(ref[0]); i++) {
		double lo, hi;
		wilson(ref[i].x, ref[i].n, &lo, &hi);
		NEAR(lo, ref[i].lo);
		NEAR(hi, ref[i].hi);
	}
}

TEST(stats2_mde)
{
	NEAR(mde(20, 0.5), 0.31322674962295854);
	CHECK(isnan(mde(1, 0.5)));
}

/* the line of issue 13: "up 0.400, not significant (95% CI [+0.100,
 * +0.700])" read as a contradiction; now the verdict names the test that
 * held it back, and says what the suite could detect */
TEST(stats2_testline)
{
	static const double old[] = {0, 0, 0, 0, 0}, new[] = {0.1, 0.2, 0.4, 0.6, 0.7};
	struct pairedtest t;

	pairedtest(old, new, 5, &t);
	CHECK(t.lo > 0);        /* the bootstrap interval excludes 0 ... */
	CHECK(t.psign >= 0.05); /* ... but 5 of 5 up is p=0.0625 */
	CHECK(!t.significant);
	char *l = testline(&t);
	CHECK_HAS(l, "not significant: the sign test finds no clear direction");
	CHECK_HAS(l, "excludes 0");
	CHECK_HAS(l, "MDE");
	CHECK(!strstr(l, "not significant (95% CI"));
	free(l);
	/* agreeing tests: "significant (... excludes 0; ...)" */
	double o2[12] = {0}, n2[12];
	for (int i = 0; i < 12; i++)
		n2[i] = 0.5 + 0.01 * i;
	pairedtest(o2, n2, 12, &t);
	CHECK(t.significant);
	l = testline(&t);
	CHECK_HAS(l, "significant (paired bootstrap 95% CI [");
	free(l);
}
