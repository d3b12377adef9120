/* estimate: see estimate.h. Per task the sum and count of its scored
 * cells; per suite the sum and sum of squares of its task means, adjusted
 * as one task's mean moves. Scores lie in [0,1], so the one-pass variance
 * loses nothing that matters at three decimals. */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>

#include "run/estimate.h"
#include "core/util.h"

struct suiteest {
	struct estimate e;
	double *sum;       /* per task: its scored cells' scores */
	size_t *n;         /* per task: how many */
	double s1, s2;     /* over scored tasks: sum of means, of squared means */
};

struct estimator {
	const struct plan *p;
	size_t nsp;        /* p->nsp: freeing must not read a plan freed first */
	struct suiteest *v;
	double *counted;   /* per cell: the score it counts with, NAN if none */
};

static void settle(struct suiteest *s)
{
	size_t k = s->e.tasks;

	s->e.score = k ? s->s1 / (double)k : NAN;
	if (k < 2) {
		s->e.se = NAN;
		return;
	}
	double var = (s->s2 - s->s1 * s->s1 / (double)k) / (double)(k - 1);
	s->e.se = var > 0 ? sqrt(var / (double)k) : 0;
}

/* move task t's mean from its old count to one more (d = 1) or one
 * fewer (d = -1) cell of score x */
static void update(struct suiteest *s, size_t t, double x, int d)
{
	if (s->n[t]) {
		double m = s->sum[t] / (double)s->n[t];
		s->s1 -= m;
		s->s2 -= m * m;
		s->e.tasks--;
	}
	s->sum[t] += d * x;
	s->n[t] = d > 0 ? s->n[t] + 1 : s->n[t] - 1;
	s->e.scored = d > 0 ? s->e.scored + 1 : s->e.scored - 1;
	if (s->n[t]) {
		double m = s->sum[t] / (double)s->n[t];
		s->s1 += m;
		s->s2 += m * m;
		s->e.tasks++;
	} else {
		s->sum[t] = 0; /* no rounding left behind */
	}
	if (!s->e.tasks)
		s->s1 = s->s2 = 0;
	settle(s);
}

struct estimator *mkestimator(const struct plan *p)
{
	struct estimator *e = xcalloc(1, sizeof(*e));

	e->p = p;
	e->nsp = p->nsp;
	e->v = xcalloc(p->nsp + 1, sizeof(*e->v));
	e->counted = xcalloc(p->ncells + 1, sizeof(*e->counted));
	for (size_t i = 0; i < p->ncells; i++)
		e->counted[i] = NAN;
	for (size_t i = 0; i < p->nsp; i++) {
		struct suiteest *s = &e->v[i];
		s->sum = xcalloc(p->sp[i].tasks.n + 1, sizeof(*s->sum));
		s->n = xcalloc(p->sp[i].tasks.n + 1, sizeof(*s->n));
		s->e.cells = p->sp[i].ncells;
		settle(s);
	}
	for (size_t i = 0; i < p->ncells; i++)
		estimateadd(e, &p->cells[i]);
	return e;
}

/* a cell counts at most once, with the score it was added with: a cell
 * re-keyed behind the scheduler's back cannot be counted twice */
void estimatedrop(struct estimator *e, const struct cell *c)
{
	size_t i = (size_t)(c - e->p->cells);

	if (isnan(e->counted[i]))
		return;
	update(&e->v[c->sp - e->p->sp], c->taskno, e->counted[i], -1);
	e->counted[i] = NAN;
}

void estimateadd(struct estimator *e, const struct cell *c)
{
	estimatedrop(e, c);
	if (!c->scored || c->status == CELL_ERROR)
		return;
	update(&e->v[c->sp - e->p->sp], c->taskno, c->score, 1);
	e->counted[c - e->p->cells] = c->score;
}

const struct estimate *estimateof(const struct estimator *e, size_t i)
{
	return &e->v[i].e;
}

char *estimateline(const struct estimate *s)
{
	char score[16] = "-", se[16] = "n/a";

	if (!isnan(s->score))
		snprintf(score, sizeof(score), "%.3f", s->score);
	if (!isnan(s->se))
		snprintf(se, sizeof(se), "%.3f", s->se);
	return xasprintf("%s ±%s (%zu of %zu cells)", score, se, s->scored, s->cells);
}

void freeestimator(struct estimator *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nsp; i++) {
		free(e->v[i].sum);
		free(e->v[i].n);
	}
	free(e->v);
	free(e->counted);
	free(e);
}
