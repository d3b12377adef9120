/* lock: Evalfile.lock, the results a change is committed with.
 *
 * A sorted text file beside the Evalfile, named after it (Evalfile.lock,
 * evalfile.example.lock): a header line, then
 *   SUITE PART HASH                  the suite-wide inputs: agent (its
 *                                    config), deps, prompt (the template)
 *                                    and grader (config and files)
 *   SUITE/TASK#K RUNKEY GRADEKEY SCORE   one line per cell
 * Suite lines sort just before their cells. The suite lines let
 * `check --locked` say which input changed, and notice a grader change,
 * without the cache: in CI a fresh checkout can check the lock without
 * calling an agent or holding any result. */
#ifndef LOCK_H
#define LOCK_H

#include <stdio.h>

#include "plan/plan.h"
#include "cmd/project.h"

#define LOCK_VERSION 1

/* the lock's path beside the Evalfile (relative to its directory) */
char *lockpath(const struct evalfile *ef);
/* `evalmake lock`: write the lock when every cell is up to date, else
 * name the cells that are not and return 1 */
int cmdlock(struct opts *o);
/* `check --locked`: compare the plan's cells with the lock at path,
 * printing one line per stale cell to f (all when verbose, else up to 20);
 * full (no targets, no --sample, no --iterations) also reports locked
 * cells that no longer exist. The cells take the locked scores. Returns 0
 * with *nstale, or EXIT_GATE (no lock) or EXIT_USAGE (a malformed lock)
 * with *err. */
int applylock(struct plan *p, const char *path, int full, int verbose, FILE *f, size_t *nstale, char **err);

/* add the run and grade keys of every cell line of the lock at path to
 * runs and grades (gc keeps what any lock names); the cells read, or -1
 * with errno when it cannot be read */
int lockkeys(const char *path, struct htab *runs, struct htab *grades);

#endif
