/* cost: see cost.h. Every lookup is findrun's: the plan looked up each
 * cell's run already, so tallying is a hash lookup per cell. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/cost.h"
#include "core/util.h"

int addusage(const struct evalfile *ef, const struct suite *su, const struct runrec *r, struct usagesum *u)
{
	int priced;

	if (!r || r->intokens < 0 || r->outtokens < 0)
		return 0;
	u->intokens += r->intokens;
	u->outtokens += r->outtokens;
	u->cells++;
	u->cost += tokencost(ef, r->model, su->agent.kind == AGENT_HTTP ? su->agent.model : NULL, r->intokens,
	                     r->outtokens, &priced);
	u->priced += (size_t)priced;
	return 1;
}

void tallyusage(struct plan *p, struct usagesum *v)
{
	for (size_t i = 0; i < p->ncells; i++) {
		const struct cell *c = &p->cells[i];
		if (c->status != CELL_RAN && c->status != CELL_CACHED)
			continue;
		addusage(p->ef, c->sp->suite, cellrun(p, c), &v[c->sp - p->sp]);
	}
}

/* the stored run a cell's guess is measured from, and its key */
static const struct runrec *measured(struct plan *p, const struct cell *c, hash *key)
{
	const struct runrec *r = findrun(p->store, c->runkey);

	*key = c->runkey;
	if (!r) {
		const struct cellrec *last = findcell(p->store, c->id);
		if (last) {
			*key = last->run;
			r = findrun(p->store, last->run);
		}
	}
	return r;
}

void guessusage(struct plan *p, const struct suiteplan *sp, struct usageguess *g)
{
	struct usagesum u = {0};
	double inbytes = 0, intok = 0, sendbytes = 0;
	size_t sampled = 0, torun = 0, rendered = 0;
	char model[sizeof(((struct runrec *)0)->model)] = ""; /* the model the measured runs named */

	memset(g, 0, sizeof(*g));
	for (size_t t = 0; sp->cellsof && t < sp->tasks.n; t++) {
		for (size_t k = 0; k < sp->cellsof[t].n; k++) {
			struct cell *c = &p->cells[sp->cellsof[t].v[k]];
			hash key;
			const struct runrec *r = measured(p, c, &key);
			int got = addusage(p->ef, sp->suite, r, &u);
			if (got && r->model[0])
				memcpy(model, r->model, sizeof(model));
			if (got && sampled < USAGE_SAMPLE) {
				size_t len;
				char *prompt = entrypart(p->store, key, "prompt", &len);
				if (prompt && len) {
					inbytes += (double)len;
					intok += (double)r->intokens;
					sampled++;
				}
				free(prompt);
			}
			if (c->need != NEED_RUN)
				continue;
			torun++;
			char *err = NULL;
			const char *prompt = cellprompt(p, c, &err);
			free(err);
			if (prompt) {
				sendbytes += (double)strlen(prompt);
				rendered++;
			}
		}
	}
	if (!u.cells || !torun)
		return;
	g->measured = u.cells;
	g->outtokens = (double)u.outtokens / (double)u.cells * (double)torun;
	g->intokens = (double)u.intokens / (double)u.cells * (double)torun;
	if (sampled && inbytes > 0 && rendered == torun)
		g->intokens = intok / inbytes * sendbytes;
	int priced;
	g->cost = tokencost(p->ef, model, sp->suite->agent.kind == AGENT_HTTP ? sp->suite->agent.model : NULL,
	                    llround(g->intokens), llround(g->outtokens), &priced);
	g->priced = priced;
}

void fmttokens(char *buf, size_t len, long long n)
{
	if (n < 10000)
		snprintf(buf, len, "%lld", n);
	else if (n < 10000000)
		snprintf(buf, len, "%.1fk", (double)n / 1e3);
	else
		snprintf(buf, len, "%.1fM", (double)n / 1e6);
}
