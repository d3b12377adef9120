/* watch: `evalmake watch`: run once, then keep every targeted score up to
 * date as files are saved, and say what moved.
 *
 * A reverse index maps each input file (a task's file or folder, a suite's
 * prompt, deps, system prompt or grader files, the Evalfile) to what reads
 * it. A batch of saved paths re-keys only the tasks and suites it names,
 * so the cost of an update scales with the change, not the project; a
 * save that changes no content runs nothing; a file no cell reads does
 * nothing. The Evalfile, a new or deleted task, a .jsonl edit or a lost
 * event (queue overflow) reloads and re-plans everything; an invalid
 * Evalfile is reported and the last good one keeps serving. A running cell
 * whose inputs changed is cancelled and queued again; others keep running.
 * Cells that failed last time run first. With --serve, the live view
 * (report/live.h) serves the report's page on the same loop and is pushed
 * every change as cells land. */
#ifndef WATCH_H
#define WATCH_H

#include "load/evalfile.h"
#include "plan/plan.h"
#include "run/run.h"
#include "store/state.h"
#include "store/store.h"

struct watchopts {
	struct runopts run;
	struct planopts plan;
	const char *evalfile;     /* its path from the current directory */
	const char *display;      /* ... as the user named it */
	int jsonl;                /* one JSON report line per update */
	int full;                 /* ... each the whole report, not what changed */
	int estimates;            /* with jsonl: an {"estimate": ...} line per estimate update */
	const char *serve;        /* --serve [ADDR:PORT]: the live view ("" for the default); NULL: none */
	const char *cache;        /* the cache folder (the live view's history) */
	const struct remoteopts *remote; /* the remote cache, or NULL */
};

/* watch until interrupted; *ef may be replaced by a reloaded Evalfile.
 * Returns EXIT_INTR on Ctrl-C, EXIT_USAGE when the first plan fails. */
int watchrun(struct evalfile **ef, struct state *st, struct store *store, const struct watchopts *o);

#endif
