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
/* how many directories are watched */
size_t fswatchcount(struct fswatch *w);
void freefswatch(struct fswatch *w);

#endif
