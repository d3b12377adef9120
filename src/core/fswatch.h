/* fswatch: the OS layer for watching files, behind the one loop. This is
 * the inotify back end (Linux; BSD's libinotify offers the same API over
 * kqueue); a kqueue back end can replace this file alone.
 *
 * Directories are watched, not files, so a file replaced by rename (how
 * editors save) stays watched. Events are reduced to "this path may have
 * changed": writes count when the file is closed, and creations, deletions
 * and renames in and out count at once. Editor droppings are ignored (vim's
 * .*.swp and 4913 probe, backups ending in ~, emacs's .#locks). Paths are
 * collected until no event arrived for a quiet period (50 ms), then handed
 * over as one batch: an editor's burst of renames, or a git checkout of
 * many files, becomes one change. The receiver looks at each path's final
 * state, so a create-then-delete cancels out and a delete-then-recreate is
 * a modification. A queue overflow is reported as such: rescan all. */
#ifndef FSWATCH_H
#define FSWATCH_H

#include "core/loop.h"

#define QUIET_PERIOD 0.05

struct fswatch;
/* paths are as watched (dir "/" name); overflow: events were lost */
typedef void (*batchfn)(void *arg, char **paths, size_t n, int overflow);

/* NULL and *err when the OS refuses (no inotify, too many instances) */
struct fswatch *mkfswatch(struct loop *l, batchfn fn, void *arg, char **err);
/* watch a directory (again: no-op); -1 with errno */
int fswatchdir(struct fswatch *w, const char *dir);
/* a count of the events read so far: every kind (IN_MODIFY and IN_ATTRIB
 * too, though they make no batch), in every watched folder, editor
 * droppings too, and a lost-events overflow. Equal counts, with the
 * queue drained at each, mean nothing in a watched folder changed */
unsigned long long fswatchepoch(struct fswatch *w);
/* read the events queued so far now, not when the loop gets to them */
void fswatchdrain(struct fswatch *w);
/* is dir watched? ("", "./x/" name "." and "x") */
int fswatchwatched(struct fswatch *w, const char *dir);
/* how many directories are watched */
size_t fswatchcount(struct fswatch *w);
void freefswatch(struct fswatch *w);

#endif
