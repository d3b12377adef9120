/* history: see history.h. Workload: a few rows appended per run, in one
 * transaction; read whole by `report`, which is rare. Rows are never
 * rewritten. It has a connection of its own: it is used once per run. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/history.h"
#include "store/db.h"
#include "core/util.h"

static cJSON *num(double v)
{
	return isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(round(v * 1e6) / 1e6);
}

char *historyline(const char *when, const char *suite, const struct suitesum *s, const char *command, int partial)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "time", when);
	cJSON_AddStringToObject(o, "suite", suite);
	cJSON_AddItemToObject(o, "score", s->scoredtasks ? num(s->score) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "stderr", s->scoredtasks ? num(s->se) : cJSON_CreateNull());
	cJSON_AddNumberToObject(o, "tasks", (double)s->tasks);
	cJSON_AddNumberToObject(o, "cells", (double)s->cells);
	cJSON_AddNumberToObject(o, "ran", (double)s->ran);
	cJSON_AddNumberToObject(o, "cached", (double)s->cached);
	cJSON_AddNumberToObject(o, "errors", (double)s->errors);
	cJSON_AddStringToObject(o, "command", command);
	cJSON_AddBoolToObject(o, "partial", partial);
	char *js = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	char *r = xstrdup(js);
	cJSON_free(js);
	return r;
}

void historynow(char when[HISTORY_TIME_LEN + 1])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, HISTORY_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void appendlines(const char *cachedir, const char *when, size_t n, char *const *suites, char *const *lines)
{
	sqlite3_stmt *st = NULL;

	/* the cache folder appears with its first entry: a run that stored
	 * nothing (interrupted at once) may not have made it yet */
	sqlite3 *db = opendb(cachedir, 1);
	if (!db)
		return; /* opendb said why */
	/* every suite's line in one transaction */
	int ok = dbexec(db, "BEGIN IMMEDIATE") == 0
	         && sqlite3_prepare_v2(db, "INSERT INTO history(time, suite, line) VALUES (?1, ?2, ?3)", -1, &st, NULL)
	                    == SQLITE_OK;
	for (size_t i = 0; ok && i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, when, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, suites[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, lines[i], -1, SQLITE_STATIC);
		ok = dbdone(db, st, "appending to the history") == 0;
	}
	sqlite3_finalize(st);
	if (ok)
		ok = dbexec(db, "COMMIT") == 0;
	if (!ok) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		warn("cannot append to the history in %s/%s", cachedir, DB_NAME);
	}
	closedb(db);
}

void appendhistory(const char *cachedir, struct plan *p, struct suitesum *sum, const char *command, int partial)
{
	char when[HISTORY_TIME_LEN + 1];
	char **suites = xcalloc(p->nsp + 1, sizeof(char *)), **lines = xcalloc(p->nsp + 1, sizeof(char *));

	historynow(when);
	for (size_t i = 0; i < p->nsp; i++) {
		suites[i] = p->sp[i].suite->name;
		lines[i] = historyline(when, p->sp[i].suite->name, &sum[i], command, partial);
	}
	appendlines(cachedir, when, p->nsp, suites, lines);
	for (size_t i = 0; i < p->nsp; i++)
		free(lines[i]);
	free(lines);
	free(suites);
}

cJSON *readhistory(const char *cachedir)
{
	cJSON *arr = cJSON_CreateArray();
	sqlite3 *db = opendb(cachedir, 0);
	sqlite3_stmt *st = NULL;
	int rc;

	if (!db)
		return arr;
	if (sqlite3_prepare_v2(db, "SELECT line FROM history ORDER BY seq", -1, &st, NULL) == SQLITE_OK) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			cJSON *o = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
			if (cJSON_IsObject(o))
				cJSON_AddItemToArray(arr, o);
			else
				cJSON_Delete(o);
		}
		if (rc != SQLITE_DONE)
			dberror(db, rc, "reading the history");
	}
	sqlite3_finalize(st);
	closedb(db);
	return arr;
}
