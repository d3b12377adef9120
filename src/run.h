/* run: bring a plan's cells up to date. Cells that need a run get their
 * agent started (at most jobs at once, in plan order), then are graded;
 * cells that need only a grade are graded. Results go to the store as they
 * finish; a failed cell is an error, kept for `log` but never cached.
 * Without keepgoing no new cell starts after the first error, like make.
 * On SIGINT or SIGTERM every child is killed, nothing partial is stored. */
#ifndef RUN_H
#define RUN_H

#include "loop.h"
#include "plan.h"

struct runopts {
	int jobs;
	int keepgoing;
	int verbose, silent;
	int progress;             /* rewrite a [done/total] line on stderr */
	int color;
};

#define OUTPUT_CAP (8u << 20)       /* bytes of an agent's stdout kept */
#define TRANSCRIPT_CAP (32u << 20)  /* bytes of its stderr kept */

/* render every prompt the run will need; -1 and *err (nothing has run) */
int preparerun(struct plan *p, char **err);
/* run; returns 0, EXIT_GATE when a cell errored, EXIT_INTR when interrupted */
int runplan(struct plan *p, struct loop *l, const struct runopts *o);
/* record every resolved cell in the store (what explain compares with) */
void recordcells(struct plan *p);

#endif
