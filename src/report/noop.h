/* noop: a plan that needed nothing, remembered, so that the same command
 * on the same inputs says so again without planning: one stat per path it
 * looked at, no file read, no per-cell lookup (ninja's no-op costs two
 * stats per edge and a read of its log).
 *
 * While the default command, -q or status plans, core/seen.h records every
 * path the plan looked at (the Evalfile, each task file and the folders
 * the globs listed, prompts, rubrics, deps, files on command lines and
 * the folders on their way, .gitignore; and what the table reads: a
 * failing task's run entry under runs/) and every variable it read
 * (env_inputs, API keys: as hashes). When every targeted cell was up to
 * date, the record is kept in the cache's index (db.h: noops) with what
 * the command printed (the table, plain and coloured) and the history
 * lines it appended, under a key of the evalmake binary (its inode and
 * times), the Evalfile's folder and name and the plan's options (targets,
 * --iterations, --sample).
 *
 * A later run with the same key replays the record only when:
 *  - every path has the stat data it had (type, size, mtime, ctime, inode,
 *    device; a path that was missing is missing with the same error);
 *  - every variable has the value it had;
 *  - no run, grade or entry was stored, changed or removed since, by any
 *    process (the results generation, db.h), and it is the same UTC day
 *    (a no-op marks the results it finds used, once a day, for gc).
 * A record made while a file it covers changed, or of files changed
 * within a second before (a later write could keep the same stat data:
 * seen.h), is not kept. In every other case the command plans as before,
 * which is always right; a run that changes nothing then keeps a record.
 *
 * EVALMAKE_NOOP_VERIFY=1 is for tests: a record that would be replayed is
 * checked against planning instead (exit 70 when they disagree), and
 * records are kept of files older than 20 ms, not a second. */
#ifndef NOOP_H
#define NOOP_H

#include <stdio.h>

#include "core/hash.h"
#include "plan/plan.h"
#include "report/report.h"
#include "store/store.h"

struct noop;

/* the record for this plan: key made of the binary, the current folder
 * (the Evalfile's), the Evalfile's name and the plan options; the results
 * generation is read now, before any lookup. NULL when there is no index */
struct noop *noopopen(struct store *st, const char *cachedir, const char *evalfile, const struct planopts *po);
/* is there a record that holds now? 0 (it is loaded), 1 when it holds
 * but for some task files (noopplan), else -1. A watch
 * running on the cache (noopserve) is asked first: when it vouches for
 * the record's paths, none is stat-ed */
int noopholds(struct noop *n);
/* 1 from noopholds: the record holds but for some task files (.json, at
 * most 64 paths) and the folders the task globs list (a save by rename,
 * a stray file). The plan as the record kept it, those tasks keyed again
 * (rekeytask), every other cell up to date as it was, after checking
 * that the globs, listed again, find the same tasks and that each
 * suite's config hashes (agent, prompt, deps, env_inputs, graders) are
 * the record's; NULL when it cannot be made (then plan as ever: a task
 * file that is bad now says so there), with *experr set when listing the
 * task globs failed (exit 2 material, as planning says it) */
struct plan *noopplan(struct noop *n, struct evalfile *ef, struct state *st, struct store *store,
                      const struct planopts *po, char **experr);
/* under EVALMAKE_NOOP_VERIFY: exit 70 unless noopplan's plan has the
 * cells, keys, needs, scores and table of planning everything */
void noopcompare(struct plan *kept, struct plan *full);
/* did a watch vouch for the record that holds? */
int noopvouched(const struct noop *n);
/* what the recorded command printed: the table, coloured or not */
void noopprint(struct noop *n, FILE *out, int color);
/* append the recorded history lines (with the time now) */
void noophistory(struct noop *n, const char *cachedir);
/* after planning (and running: ok is 1 when the command succeeded): keep
 * a record of this plan (its table and the history lines a plain run
 * appends, "partial" as given) when every cell was up to date, seen.h's
 * record can be trusted and the results did not change since noopopen.
 * Under EVALMAKE_NOOP_VERIFY, when a record held at noopholds, exit 70
 * unless this plan is up to date and prints the same table */
void noopsave(struct noop *n, struct plan *p, struct suitesum *sum, int partial, int ok);
/* is EVALMAKE_NOOP_VERIFY set? */
int noopverifying(void);
void noopfree(struct noop *n);

/* A watch serves no-op questions on an abstract unix socket named after
 * its cache folder ("evalmake-noop-" and the folder's hash): a client in
 * the watch's folder sends "evalmake-noop-ask 1 KEY BODYHASH CWD" and gets
 * "yes" when no path of that record (the one in the index with that body)
 * can have changed: the watch reads the events queued so far, and either
 * none came since it last found every path as recorded, or it stats them
 * now. It vouches only for paths whose folders it watches, up to the
 * project's, none a symbolic link, that are no symbolic or hard links,
 * and only while its folder's name still names its folder; the client
 * still checks the results generation, the day and the variables itself,
 * and believes only a watch of its own user (SO_PEERCRED: an abstract
 * socket has no permissions, another user could bind the name first). */
struct noopserver;
struct fswatch;
struct loop;
/* serve on the loop; NULL when the socket cannot be made, or another
 * watch serves this cache already */
struct noopserver *noopserve(struct loop *l, struct store *st, struct fswatch *fw, const char *cachedir);
void freenoopserver(struct noopserver *s);

#endif
