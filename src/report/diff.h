/* diff: `evalmake diff OLD.json [NEW.json]`, two runs compared: per suite
 * the scores with their standard errors, the change and whether it is more
 * than noise (stats.h), then exactly the tasks whose pass/fail flipped,
 * both ways. NEW defaults to the current cached state, as `status` sees it
 * (nothing is run). With --json FILE the same as JSON. Exit 0, or 2 on bad
 * usage or an unreadable report. */
#ifndef DIFF_H
#define DIFF_H

#include "cmd/project.h"

/* the diff command */
int cmddiff(struct opts *o);

#endif
