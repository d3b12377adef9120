/* history: the history table of CACHE/index.db (db.h), a row per suite
 * per run of the default command or of check, holding one JSON line:
 *   {"time": "2026-01-31T12:00:00Z", "suite": "arith", "score": 0.6,
 *    "stderr": 0.16, "tasks": 10, "cells": 20, "ran": 3, "cached": 17,
 *    "errors": 0, "command": "check", "partial": false}
 * "partial" is true when targets, --sample or --iterations narrowed the
 * run, so its score is not the whole suite's. A run's rows are one
 * transaction. (Before schema 2 it was the file CACHE/history, JSON
 * lines: imported on the first run.) The report command plots scores over
 * time from it. */
#ifndef HISTORY_H
#define HISTORY_H

#include <cjson/cJSON.h>

#include "plan/plan.h"
#include "report/report.h"

/* append a line per suite of the plan; a failure is a warning only */
void appendhistory(const char *cachedir, struct plan *p, struct suitesum *sum, const char *command, int partial);
/* the pieces of appendhistory: a suite's line (its first field the time
 * when, HISTORY_TIME_LEN characters: "2026-01-31T12:00:00Z"), the time
 * now, and appending n lines of the time when in one transaction */
#define HISTORY_TIME_LEN 20
char *historyline(const char *when, const char *suite, const struct suitesum *s, const char *command, int partial);
void historynow(char when[HISTORY_TIME_LEN + 1]);
void appendlines(const char *cachedir, const char *when, size_t n, char *const *suites, char *const *lines);
/* every whole line of the history, oldest first, as a JSON array */
cJSON *readhistory(const char *cachedir);

#endif
