/* convert: see convert.h. The formats read here are frozen: evalmake 1's
 *   log:   "evalmake-log 1", then lines of tab-separated fields ending in
 *          the XXH32 (8 hex digits) of the rest of the line:
 *            R KEY OUTHASH EXIT SECONDS | G KEY SCORE [REASON]
 *            U KEY DAY | D DAY (the lines after it were written that day)
 *   cells: "evalmake-cells 1", C CELL RUN GRADE AGENT PROMPT TASK DEPS ENV
 *          ITERATION, checksummed the same way
 *   state: "evalmake-state 2", then "F SIZE MTIME CTIME INO DEV HASH
 *          DERIVED|- PATH" and "M KEY A B", space-separated, unchecked
 * Tabs, newlines and backslashes in REASON and CELL are escaped. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include <cjson/cJSON.h>

#include "store/convert.h"
#include "core/hash.h"
#include "core/util.h"

static const char *const oldfiles[] = {"log", "cells", "state"};

static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (*r == '\\' && r[1]) {
			r++;
			*w++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : *r;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* run sql with text arguments (NULL binds NULL) */
static int exec(sqlite3 *db, const char *sql, int n, const char *const *args)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return rc;
	for (int i = 0; i < n; i++)
		if (args[i])
			sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int ishash(const char *s)
{
	hash h;

	return hashparse(s, &h) == 0 && strlen(s) == 32;
}

/* one checked line of the log or cells file, split in fields */
static int logline(sqlite3 *db, char **f, int n, char *day)
{
	char used[32];

	if (f[0][0] == 'D' && n == 2) {
		snprintf(day, 32, "%lu", strtoul(f[1], NULL, 10));
		return SQLITE_OK;
	}
	if (n < 2 || !ishash(f[1]))
		return SQLITE_OK;
	snprintf(used, sizeof(used), "%s", day);
	if (f[0][0] == 'R' && n == 5 && ishash(f[2])) {
		const char *a[] = {f[1], f[2], f[3], f[4], used};
		return exec(db,
		            "INSERT OR REPLACE INTO runs(key, out, exit, seconds, used) VALUES (?1, ?2, CAST(?3 AS INTEGER),"
		            " CAST(?4 AS REAL), CAST(?5 AS INTEGER))",
		            5, a);
	}
	if (f[0][0] == 'G' && (n == 3 || n == 4)) {
		if (n == 4)
			unescape(f[3]);
		const char *a[] = {f[1], f[2], n == 4 ? f[3] : "", used};
		return exec(db, "INSERT OR REPLACE INTO grades VALUES (?1, CAST(?2 AS REAL), ?3, CAST(?4 AS INTEGER))", 4, a);
	}
	if (f[0][0] == 'U' && n == 3) {
		const char *a[] = {f[1], f[2]};
		int rc = exec(db, "UPDATE runs SET used = max(used, CAST(?2 AS INTEGER)) WHERE key = ?1", 2, a);
		return rc != SQLITE_OK ? rc
		                       : exec(db, "UPDATE grades SET used = max(used, CAST(?2 AS INTEGER)) WHERE key = ?1", 2, a);
	}
	return SQLITE_OK;
}

static int cellline(sqlite3 *db, char **f, int n)
{
	if (f[0][0] != 'C' || n != 10)
		return SQLITE_OK;
	for (int i = 2; i < 9; i++)
		if (!ishash(f[i]))
			return SQLITE_OK;
	unescape(f[1]);
	return exec(db, "INSERT OR REPLACE INTO cells VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, CAST(?9 AS INTEGER))", 9,
	            (const char *const *)f + 1);
}

/* the checked lines of a log or cells text */
static int checkedlines(sqlite3 *db, char *text, size_t len, const char *header, int cells)
{
	char day[32] = "0";
	size_t hl = strlen(header);

	if (len < hl || strncmp(text, header, hl))
		return SQLITE_OK; /* not ours, or damaged: its runs are found on disk */
	for (char *p = text + hl, *end; p < text + len; p = end + 1) {
		end = memchr(p, '\n', (size_t)(text + len - p));
		if (!end)
			break; /* a torn last line */
		*end = '\0';
		char *tab = end - 9, *cend;
		if (end - p < 10 || *tab != '\t')
			continue;
		unsigned long check = strtoul(tab + 1, &cend, 16);
		if (cend != end || check != (unsigned long)XXH32(p, (size_t)(tab - p), 0))
			continue;
		*tab = '\0';
		char *f[12], *save = NULL;
		int n = 0;
		for (char *t = strtok_r(p, "\t", &save); t && n < 12; t = strtok_r(NULL, "\t", &save))
			f[n++] = t;
		if (n == 0)
			continue;
		int rc = cells ? cellline(db, f, n) : logline(db, f, n, day);
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

static int statelines(sqlite3 *db, char *text, size_t len)
{
	const char *header = "evalmake-state 2\n";

	if (len < strlen(header) || strncmp(text, header, strlen(header)))
		return SQLITE_OK;
	for (char *p = text + strlen(header), *end; p < text + len; p = end + 1) {
		end = memchr(p, '\n', (size_t)(text + len - p));
		if (!end)
			break;
		*end = '\0';
		char *f[9];
		int n = 0;
		if (p[0] == 'F' && p[1] == ' ') {
			/* the path is the rest of the line and may hold spaces */
			char *q = p + 2;
			for (; n < 7 && q; n++) {
				f[n] = q;
				if ((q = strchr(q, ' ')))
					*q++ = '\0';
			}
			if (n < 7 || !q || !*q || !ishash(f[5]) || (strcmp(f[6], "-") && !ishash(f[6])))
				continue;
			const char *a[] = {q, f[0], f[1], f[2], f[3], f[4], f[5], strcmp(f[6], "-") ? f[6] : NULL};
			int rc = exec(db, "INSERT OR REPLACE INTO files VALUES (?1, CAST(?2 AS INTEGER), CAST(?3 AS INTEGER),"
			              " CAST(?4 AS INTEGER), CAST(?5 AS INTEGER), CAST(?6 AS INTEGER), ?7, ?8)", 8, a);
			if (rc != SQLITE_OK)
				return rc;
		} else if (p[0] == 'M' && p[1] == ' ') {
			char *save = NULL;
			for (char *t = strtok_r(p + 2, " ", &save); t && n < 4; t = strtok_r(NULL, " ", &save))
				f[n++] = t;
			if (n != 3 || !ishash(f[0]) || !ishash(f[1]) || !ishash(f[2]))
				continue;
			int rc = exec(db, "INSERT OR REPLACE INTO memos VALUES (?1, ?2, ?3)", 3, (const char *const *)f);
			if (rc != SQLITE_OK)
				return rc;
		}
	}
	return SQLITE_OK;
}

int convertold(sqlite3 *db, const char *cachedir, int *found)
{
	int rc = SQLITE_OK;

	*found = 0;
	for (size_t i = 0; i < LEN(oldfiles) && rc == SQLITE_OK; i++) {
		size_t len;
		char *p = pathjoin(cachedir, oldfiles[i]);
		char *text = readfile(p, &len);
		free(p);
		if (!text)
			continue;
		*found = 1;
		if (i == 0)
			rc = checkedlines(db, text, len, "evalmake-log 1\n", 0);
		else if (i == 1)
			rc = checkedlines(db, text, len, "evalmake-cells 1\n", 1);
		else
			rc = statelines(db, text, len);
		free(text);
	}
	return rc;
}

void removeold(const char *cachedir)
{
	for (size_t i = 0; i < LEN(oldfiles); i++) {
		char *p = pathjoin(cachedir, oldfiles[i]);
		unlink(p);
		free(p);
	}
	char *p = pathjoin(cachedir, "history");
	unlink(p);
	free(p);
}

int converthistory(sqlite3 *db, const char *cachedir, int *found)
{
	char *p = pathjoin(cachedir, "history");
	char *text = readfile(p, NULL);
	sqlite3_stmt *st = NULL;
	int rc = SQLITE_OK;

	free(p);
	if (!text)
		return SQLITE_OK;
	*found = 1;
	rc = sqlite3_prepare_v2(db, "INSERT INTO history(time, suite, line) VALUES (?1, ?2, ?3)", -1, &st, NULL);
	for (char *line = text, *next; rc == SQLITE_OK && *line; line = next) {
		char *nl = strchr(line, '\n');
		if (!nl) /* a torn last line */
			break;
		*nl = '\0';
		next = nl + 1;
		cJSON *o = cJSON_Parse(line);
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "time"), *s = cJSON_GetObjectItemCaseSensitive(o, "suite");
		if (cJSON_IsObject(o) && cJSON_IsString(t) && cJSON_IsString(s)) {
			sqlite3_reset(st);
			sqlite3_bind_text(st, 1, t->valuestring, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 2, s->valuestring, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 3, line, -1, SQLITE_STATIC);
			rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
		}
		cJSON_Delete(o);
	}
	sqlite3_finalize(st);
	free(text);
	return rc;
}
