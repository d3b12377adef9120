/* cost: the tokens a suite's cells used and what they cost, and what the
 * cells a run would start are likely to use (-n).
 *
 * A cell's tokens are those its stored run reported (store.h's runrec: a
 * model API's usage, or a command agent's own report, run/usage.h); its
 * cost is priced with the Evalfile's pricing by the model the run named,
 * else by the suite's configured model. Pricing is for reports only: no
 * key depends on it. */
#ifndef COST_H
#define COST_H

#include <stddef.h>

#include "plan/plan.h"

struct usagesum {
	long long intokens, outtokens;
	size_t cells;       /* cells whose run reported usage */
	double cost;        /* USD, of the priced ones */
	size_t priced;      /* cells whose model pricing names */
};

/* add run r (of a cell of suite su) to u; 0 when it reported no usage */
int addusage(const struct evalfile *ef, const struct suite *su, const struct runrec *r, struct usagesum *u);
/* per suite (an array of p->nsp, zeroed by the caller): the cells that
 * have a stored run now (ran or cached) */
void tallyusage(struct plan *p, struct usagesum *v);

struct usageguess {
	double intokens, outtokens, cost;
	size_t measured;    /* the measured cells it is from; 0: no guess */
	int priced;
};

/* -n: what the suite's cells that need a run are likely to use, from its
 * last measured cells: for each of its cells the stored run of its current
 * key, else of the key it last ran with (the cell's record). Output
 * tokens per cell are the measured cells' mean; input tokens follow the
 * prompt: the measured tokens per prompt byte (over at most USAGE_SAMPLE
 * measured cells whose entry keeps its prompt) times the bytes of the
 * prompts to send, so a longer prompt is guessed longer; the cost is those
 * tokens priced by the model the measured runs named */
#define USAGE_SAMPLE 1000
void guessusage(struct plan *p, const struct suiteplan *sp, struct usageguess *g);
/* "12.3k" for a token count */
void fmttokens(char *buf, size_t len, long long n);

#endif
