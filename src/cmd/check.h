/* check: `evalmake check [TARGET...]`, the CI gate. Brings the targeted
 * cells up to date as the default command does (-B, -j, -k, --iterations,
 * --sample), or with --locked takes the scores from Evalfile.lock and runs
 * nothing; then applies the gates of gate.h and writes what CI systems read
 * (--junit, --markdown and $GITHUB_STEP_SUMMARY, --json).
 * Exit 0 when every gate holds, 1 when one fails, a cell errored or the
 * lock is stale, 2 on bad usage (nothing is run), 130 interrupted (143 by SIGTERM, 129 by SIGHUP). */
#ifndef CHECK_H
#define CHECK_H

#include "cmd/project.h"

/* the check command */
int cmdcheck(struct opts *o);

#endif
