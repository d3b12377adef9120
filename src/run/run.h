/* run: bring a plan's cells up to date. Cells that need a run get their
 * agent started (at most jobs at once, in plan order), then are graded;
 * cells that need only a grade are graded. Results go to the store as they
 * finish; a failed cell is an error, kept for `log` but never cached.
 * Without keepgoing no new cell starts after the first error, like make.
 * On SIGINT, SIGTERM or SIGHUP every child is killed, nothing partial is stored. */
#ifndef RUN_H
#define RUN_H

#include "core/loop.h"
#include "plan/plan.h"
#include "store/remote.h"
#include "run/estimate.h"

struct runopts {
	int jobs;
	int keepgoing;
	int verbose, silent;
	int progress;             /* rewrite a [done/total] line on stderr */
	int estimatelines;        /* instead, a line on stderr per estimate that moved (--estimates) */
	int color;
	/* run command agents under the tracer (run/trace.h) and report the
	 * project files each read that its run key does not cover: to traced
	 * when set, else as a line on stderr (-v) */
	int trace;
	void (*traced)(void *arg, struct cell *c, const struct strv *files);
	void *tracedarg;
	/* run the cells that need a run even when another process stored a
	 * result for their key meanwhile (deps: the run is for its trace) */
	int force;
	/* the remote cache (store/remote.h), or NULL: what this run stores
	 * is uploaded as it finishes (when the remote uploads) */
	struct remote *remote;
	/* the progress line also shows the estimate of the suite whose cell
	 * just landed (run/estimate.h); estimated, when set, is called with
	 * every suite estimate that moved (watch --jsonl) */
	void (*estimated)(void *arg, const struct suiteplan *sp, const struct estimate *e);
	void *estimatedarg;
	/* bounds: no new cell starts in a suite whose standard error is at
	 * most untilse (> 0; with 2 scored tasks or more), nor once maxcells
	 * agents have started (> 0), nor when one more would take the cost
	 * past maxcost USD (> 0): the cost so far of the agents that finished
	 * (priced by the Evalfile's pricing) plus, for each one running and
	 * the next, their mean cost; the cells left are CELL_PENDING with
	 * c->stopped saying why */
	double untilse;
	size_t maxcells;
	double maxcost;
	double costguess;         /* the mean cost per agent until one is priced (0: unknown) */
};

#define OUTPUT_CAP (8u << 20)       /* bytes of an agent's stdout kept */
#define TRANSCRIPT_CAP (32u << 20)  /* bytes of its stderr kept */

/* render every prompt the run will need and check API keys; -1 and *err
 * (nothing has run) */
int preparerun(struct plan *p, char **err);
/* the same for one cell */
int preparecell(struct plan *p, struct cell *c, char **err);
/* look up every cell that needs a run in the remote cache, in one
 * concurrent batch (before anything runs), and store what it has, with the
 * grades of its expensive graders (command, judge): those cells need only
 * grading now, and are marked fetched. look (-n): only ask, mark, store
 * nothing. Returns how many cells the remote has. */
size_t fetchcells(struct plan *p, struct remote *r, int look);
/* run every cell the plan needs; returns 0, EXIT_GATE when a cell errored,
 * EXIT_INTR when interrupted */
int runplan(struct plan *p, struct loop *l, const struct runopts *o);

/* The scheduler itself, for watch mode, where it outlives one run. */
struct sched;
struct sched *mksched(struct plan *p, struct loop *l, const struct runopts *o);
/* point the scheduler at a (new) plan: empties the queues and counters */
void schedplan(struct sched *s, struct plan *p);
/* queue a cell that needs work (urgent: before the others) */
void schedqueue(struct sched *s, struct cell *c, int urgent);
/* take back every queued cell that has not started, in queue order, and
 * empty the queues (nothing running is touched): an array of *n cells,
 * for the caller to queue again in another order and free */
struct cell **schedtakeback(struct sched *s, size_t *n);
/* stop working on a cell: a running agent process is killed and nothing is
 * stored; a model call or grade in flight is stored under its old key */
void schedcancel(struct sched *s, struct cell *c);
/* start what the lanes' limits allow */
void schedpump(struct sched *s);
/* is anything running or queued? */
int schedbusy(struct sched *s);
/* how many jobs are running */
int schedrunning(struct sched *s);
/* kill everything running and empty the queues (Ctrl-C, a full replan) */
void schedabort(struct sched *s);
/* the scheduler's estimates (valid until the next schedplan) */
const struct estimator *schedestimates(struct sched *s);
/* cells that errored since schedplan */
int schederrors(struct sched *s);
void freesched(struct sched *s);
/* record the inputs of every cell run or graded now (what explain and -n
 * compare with: what changed since the cell last ran) */
void recordcells(struct plan *p);

#endif
