/* gate: see gate.h. Each gate carries its own printable line, so check's
 * terminal output, the Markdown summary and the JUnit properties all say
 * the same thing. */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/gate.h"
#include "core/util.h"

#define EPS 1e-9
#define MAXNAMES 10    /* task names listed in one gate line */

static void addscore(struct buf *b, const struct suiteres *s)
{
	if (isnan(s->score))
		bufadds(b, "    -        ");
	else
		bufaddf(b, isnan(s->se) ? "%.3f n/a" : "%.3f ±%.3f", s->score, s->se); /* n/a: one task */
	if (!isnan(s->score) && s->partial)
		bufadds(b, " (partial)"); /* a score from part of the suite */
}

/* the failing tasks of s, or with a baseline the tasks that flipped */
static void addtasks(struct buf *b, const struct suiteres *s, const struct suiteres *base)
{
	const char **ids = xcalloc(s->ntasks + 1, sizeof(*ids));
	size_t n = 0;

	if (base) {
		struct flip *f;
		size_t nfail, nf = flips(base, s, &f, &nfail);
		for (size_t i = 0; i < nfail; i++)
			ids[n++] = f[i].id;
		if (n) {
			bufadds(b, "; pass->fail: ");
			addidlist(b, ids, n, MAXNAMES);
		}
		n = 0;
		for (size_t i = nfail; i < nf; i++)
			ids[n++] = f[i].id;
		if (n) {
			bufadds(b, "; fail->pass: ");
			addidlist(b, ids, n, MAXNAMES);
		}
		if (!nf)
			bufadds(b, "; no task flipped");
		free(f);
	} else {
		for (size_t i = 0; i < s->ntasks; i++)
			if (!isnan(s->tasks[i].score) && !taskpasses(s->tasks[i].score))
				ids[n++] = s->tasks[i].id;
		if (n) {
			bufadds(b, "; failing: ");
			addidlist(b, ids, n, MAXNAMES);
		}
	}
	free(ids);
}

static struct gate *addgate(struct gates *g, enum gatekind kind, const struct suiteres *s)
{
	xgrow(&g->v, &g->cap, g->n + 1, sizeof(*g->v));
	struct gate *gt = &g->v[g->n++];
	memset(gt, 0, sizeof(*gt));
	gt->kind = kind;
	gt->suite = s;
	return gt;
}

static void finish(struct gates *g, struct gate *gt, struct buf *b)
{
	gt->line = bufdetach(b);
	if (gt->failed)
		g->failed++;
}

static void start(struct buf *b, const struct gate *gt, int w)
{
	bufaddf(b, "%-5s %-*s  ", gt->failed ? "FAIL" : "ok", w, gt->suite->name);
}

static void scoregate(struct gates *g, enum gatekind kind, const struct suiteres *s, double limit,
                      const struct results *base, int w)
{
	struct gate *gt = addgate(g, kind, s);
	struct buf b = {0};

	gt->limit = limit;
	gt->failed = isnan(s->score) || s->score < limit - EPS;
	start(&b, gt, w);
	addscore(&b, s);
	bufaddf(&b, "  %s %.3g", kind == GATE_THRESHOLD ? "threshold" : "min score", limit);
	if (isnan(s->score))
		bufadds(&b, ": no scored task");
	else if (gt->failed)
		bufaddf(&b, ": short by %.3f", limit - s->score);
	if (gt->failed)
		addtasks(&b, s, findsuiteres(base, s->name));
	finish(g, gt, &b);
}

static void dropgate(struct gates *g, const struct suiteres *s, const struct gateopts *o, int w)
{
	struct gate *gt = addgate(g, GATE_MAXDROP, s);
	const struct suiteres *bs = findsuiteres(o->base, s->name);
	struct buf b = {0};

	gt->limit = o->maxdrop >= 0 ? o->maxdrop : 0;
	gt->base = bs;
	if (bs && !isnan(bs->score)) {
		double *old, *new;
		size_t n = sharedscores(bs, s, &old, &new);
		pairedtest(old, new, n, &gt->test);
		free(old);
		free(new);
		gt->failed = isnan(s->score) || bs->score - s->score > gt->limit + EPS;
	}
	start(&b, gt, w);
	addscore(&b, s);
	bufaddf(&b, "  max drop %.3g vs baseline ", gt->limit);
	if (!bs || isnan(bs->score)) {
		bufadds(&b, bs ? "(no score there): nothing to compare" : "(suite not in it): nothing to compare");
		finish(g, gt, &b);
		return;
	}
	addscore(&b, bs);
	if (isnan(s->score)) {
		bufadds(&b, ": no scored task");
	} else {
		double d = s->score - bs->score;
		char *t = testline(&gt->test);
		if (d == 0)
			bufaddf(&b, ": unchanged, %s", t);
		else
			bufaddf(&b, ": %s %.3f, %s", d < 0 ? "down" : "up", fabs(d), t);
		free(t);
	}
	addtasks(&b, s, bs);
	finish(g, gt, &b);
}

static void errorgate(struct gates *g, const struct suiteres *s, int w)
{
	struct gate *gt = addgate(g, GATE_ERRORS, s);
	struct buf b = {0};
	size_t n = 0;

	gt->failed = 1;
	start(&b, gt, w);
	bufaddf(&b, "%zu cell%s errored:", s->errors, s->errors == 1 ? "" : "s");
	for (size_t i = 0; i < s->ntasks; i++)
		for (size_t k = 0; k < s->tasks[i].errors; k++, n++)
			if (n < MAXNAMES)
				bufaddf(&b, " %s/%s#%d", s->name, s->tasks[i].id, s->tasks[i].erriters[k]);
	if (n > MAXNAMES)
		bufaddf(&b, " (+%zu more)", n - MAXNAMES);
	bufadds(&b, " (evalmake log CELL says why)");
	finish(g, gt, &b);
}

void evalgates(const struct results *cur, const struct gateopts *o, struct gates *g)
{
	int w = 0;

	memset(g, 0, sizeof(*g));
	for (size_t i = 0; i < cur->nsuites; i++)
		if ((int)strlen(cur->suites[i].name) > w)
			w = (int)strlen(cur->suites[i].name);
	for (size_t i = 0; i < cur->nsuites; i++) {
		const struct suiteres *s = &cur->suites[i];
		if (s->errors)
			errorgate(g, s, w);
		if (s->threshold >= 0)
			scoregate(g, GATE_THRESHOLD, s, s->threshold, o->base, w);
		if (o->minscore >= 0)
			scoregate(g, GATE_MINSCORE, s, o->minscore, o->base, w);
		if (o->base)
			dropgate(g, s, o, w);
	}
}

const struct gate *suitegates(const struct gates *g, const char *suite, size_t *n)
{
	size_t first = g->n;

	*n = 0;
	for (size_t i = 0; i < g->n; i++) {
		if (strcmp(g->v[i].suite->name, suite))
			continue;
		if (first == g->n)
			first = i;
		(*n)++;
	}
	return *n ? &g->v[first] : NULL;
}

char *gatename(const struct gate *gt)
{
	switch (gt->kind) {
	case GATE_THRESHOLD: return xasprintf("threshold %.3g", gt->limit);
	case GATE_MINSCORE: return xasprintf("min score %.3g", gt->limit);
	case GATE_MAXDROP: return xasprintf("max drop %.3g", gt->limit);
	default: return xstrdup("no errors");
	}
}

void freegates(struct gates *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->v[i].line);
	free(g->v);
	memset(g, 0, sizeof(*g));
}
