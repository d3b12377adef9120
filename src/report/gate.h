/* gate: what `check` requires of each suite, judged on results (so the
 * same gates apply to a fresh run, to the cache, and to a lock's scores).
 *
 *   threshold   the suite's `threshold` from the Evalfile: score >= it
 *   min score   --min-score X: every suite's score >= X
 *   max drop    --baseline FILE --max-drop D: score >= baseline - D (D is
 *               0 when not given), with a paired test saying whether the
 *               change is more than noise
 *   errors      no targeted cell errored
 * A suite with no scored task fails every score gate. Scores are compared
 * with a 1e-9 allowance, so 0.6 >= 0.6 holds whatever the rounding. */
#ifndef GATE_H
#define GATE_H

#include "report/results.h"
#include "report/stats.h"

enum gatekind { GATE_THRESHOLD, GATE_MINSCORE, GATE_MAXDROP, GATE_ERRORS };

struct gate {
	enum gatekind kind;
	const struct suiteres *suite;
	const struct suiteres *base;   /* GATE_MAXDROP: the baseline's suite */
	double limit;                  /* the threshold, min score or max drop */
	int failed;
	struct pairedtest test;        /* GATE_MAXDROP */
	char *line;                    /* "FAIL  suite  score ±se  gate; tasks" */
};

struct gates {
	struct gate *v;
	size_t n, cap;
	size_t failed;
};

struct gateopts {
	double minscore;               /* < 0: none */
	double maxdrop;                /* < 0: 0 when there is a baseline */
	const struct results *base;    /* NULL: no baseline */
};

/* judge every suite of cur; one gate per rule that applies */
void evalgates(const struct results *cur, const struct gateopts *o, struct gates *g);
/* the gates of one suite, in order: the first, and *n of them */
const struct gate *suitegates(const struct gates *g, const char *suite, size_t *n);
/* "threshold 0.6", "min score 0.5", "max drop 0.05", "errors" */
char *gatename(const struct gate *gt);
/* free g's gates and lines */
void freegates(struct gates *g);

#endif
