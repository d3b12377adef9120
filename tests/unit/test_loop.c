/* the training loop's pieces: the running estimate (run/estimate.h)
 * against a direct computation, and a command agent's usage report
 * (run/usage.h) */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "run/estimate.h"
#include "run/usage.h"
#include "core/util.h"

/* a plan of one suite of nt tasks x it iterations, iteration-major, held
 * in memory: all the estimator reads */
struct fake {
	struct plan p;
	struct suiteplan sp;
	struct suite su;
	struct task *tasks;
};

static void mkfake(struct fake *f, size_t nt, int it)
{
	memset(f, 0, sizeof(*f));
	f->tasks = xcalloc(nt, sizeof(*f->tasks));
	f->su.name = "s";
	f->sp.suite = &f->su;
	f->sp.tasks.v = f->tasks;
	f->sp.tasks.n = nt;
	f->sp.ncells = nt * (size_t)it;
	f->p.sp = &f->sp;
	f->p.nsp = 1;
	f->p.ncells = f->sp.ncells;
	f->p.cells = xcalloc(f->p.ncells, sizeof(*f->p.cells));
	for (size_t i = 0; i < f->p.ncells; i++) {
		struct cell *c = &f->p.cells[i];
		c->sp = &f->sp;
		c->taskno = i % nt;
		c->iteration = (int)(i / nt) + 1;
		c->status = CELL_PENDING;
	}
}

/* what report.h's summarize computes, directly */
static void reference(const struct fake *f, double *score, double *se, size_t *tasks, size_t *scored)
{
	size_t nt = f->sp.tasks.n, k = 0;
	double *sum = xcalloc(nt, sizeof(double)), total = 0, sq = 0;
	size_t *n = xcalloc(nt, sizeof(size_t));

	*scored = 0;
	for (size_t i = 0; i < f->p.ncells; i++) {
		const struct cell *c = &f->p.cells[i];
		if (c->scored && c->status != CELL_ERROR) {
			sum[c->taskno] += c->score;
			n[c->taskno]++;
			(*scored)++;
		}
	}
	for (size_t t = 0; t < nt; t++)
		if (n[t]) {
			total += sum[t] / (double)n[t];
			k++;
		}
	*score = k ? total / (double)k : NAN;
	for (size_t t = 0; t < nt; t++)
		if (n[t])
			sq += (sum[t] / (double)n[t] - *score) * (sum[t] / (double)n[t] - *score);
	*se = k > 1 ? sqrt(sq / (double)(k - 1) / (double)k) : NAN;
	*tasks = k;
	free(sum);
	free(n);
}

static int same(double a, double b)
{
	return (isnan(a) && isnan(b)) || fabs(a - b) < 1e-9;
}

TEST(estimate_matches_the_final_reckoning_cell_by_cell)
{
	struct fake f;
	mkfake(&f, 7, 3);
	struct estimator *e = mkestimator(&f.p);
	const struct estimate *es = estimateof(e, 0);
	CHECK_INT(es->cells, 21);
	CHECK_INT(es->scored, 0);
	CHECK(isnan(es->score) && isnan(es->se));
	unsigned seed = 7;
	int bad = 0;
	for (int step = 0; step < 400; step++) {
		seed = seed * 1103515245u + 12345u;
		struct cell *c = &f.p.cells[(seed >> 8) % f.p.ncells];
		int what = (int)((seed >> 20) % 4);
		if (what == 0) { /* it runs again: its score no longer counts */
			estimatedrop(e, c);
			c->scored = 0;
		} else if (what == 1) { /* it errors */
			c->status = CELL_ERROR;
			c->scored = 0;
			estimateadd(e, c);
		} else { /* it lands with a score, maybe again with another */
			c->status = CELL_RAN;
			c->scored = 1;
			c->score = (double)((seed >> 12) % 5) / 4;
			estimateadd(e, c);
		}
		double score, se;
		size_t tasks, scored;
		reference(&f, &score, &se, &tasks, &scored);
		if (!same(es->score, score) || !same(es->se, se) || es->tasks != tasks || es->scored != scored)
			bad++;
	}
	CHECK_INT(bad, 0);
	freeestimator(e);
	free(f.p.cells);
	free(f.tasks);
}

TEST(estimate_counts_cached_cells_and_prints_n_of_n)
{
	struct fake f;
	mkfake(&f, 4, 1);
	for (size_t i = 0; i < 2; i++) {
		f.p.cells[i].status = CELL_CACHED;
		f.p.cells[i].scored = 1;
		f.p.cells[i].score = (double)i;
	}
	struct estimator *e = mkestimator(&f.p);
	char *line = estimateline(estimateof(e, 0));
	CHECK_STR(line, "0.500 ±0.500 (2 of 4 cells)");
	free(line);
	estimatedrop(e, &f.p.cells[1]);
	line = estimateline(estimateof(e, 0));
	CHECK_STR(line, "0.000 ±n/a (1 of 4 cells)");
	free(line);
	freeestimator(e);
	free(f.p.cells);
	free(f.tasks);
}

TEST(usage_from_a_file_a_stderr_line_or_none)
{
	const char *d = tmpdir();
	struct usage u;
	char *err;
	const char *tr = "working\nevalmake-usage: {\"input_tokens\": 5, \"output_tokens\": 6}\n"
	                 "evalmake-usage: {\"input_tokens\": 7, \"output_tokens\": 8, \"model\": \"m\"}\nbye";

	CHECK_INT(agentusage(d, "nothing here\n", 13, &u, &err), 0);
	CHECK_INT(agentusage(d, tr, strlen(tr), &u, &err), 1);
	CHECK_INT(u.intokens, 7);
	CHECK_INT(u.outtokens, 8);
	CHECK_STR(u.model, "m");
	free(u.model);
	/* the last line need not end with a newline */
	const char *end = "evalmake-usage: {\"input_tokens\": 1, \"output_tokens\": 2}";
	CHECK_INT(agentusage(d, end, strlen(end), &u, &err), 1);
	CHECK_INT(u.outtokens, 2);
	CHECK(u.model == NULL);
	char *path = pathjoin(d, "usage.json");
	put(path, "{\"input_tokens\": 100, \"output_tokens\": 10}");
	CHECK_INT(agentusage(d, tr, strlen(tr), &u, &err), 1);
	CHECK_INT(u.intokens, 100); /* the file wins */
	put(path, "{\"input_tokens\": -1, \"output_tokens\": 10}");
	CHECK_INT(agentusage(d, tr, strlen(tr), &u, &err), -1);
	CHECK_HAS(err, "usage.json");
	free(err);
	unlink(path);
	free(path);
	const char *bad = "evalmake-usage: {\"input_tokens\": \"many\"}\n";
	CHECK_INT(agentusage(d, bad, strlen(bad), &u, &err), -1);
	CHECK_HAS(err, "expected {\"input_tokens\": N");
	free(err);
}
