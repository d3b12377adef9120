/* history: see history.h. Workload: a few lines appended per run; read
 * whole by `report`, which is rare. Lines are never rewritten. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/history.h"
#include "core/util.h"

static cJSON *num(double v)
{
	return isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(round(v * 1e6) / 1e6);
}

void appendhistory(const char *cachedir, struct plan *p, struct suitesum *sum, const char *command, int partial)
{
	char *path = pathjoin(cachedir, "history");
	char when[32];
	time_t t = time(NULL);
	struct tm tm;

	/* the cache folder appears with its first entry: a run that stored
	 * nothing (interrupted at once) may not have made it yet */
	mkdirs(cachedir, 0755);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		warn("cannot append to %s:", path);
		free(path);
		return;
	}
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	for (size_t i = 0; i < p->nsp; i++) {
		struct suitesum *s = &sum[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "time", when);
		cJSON_AddStringToObject(o, "suite", p->sp[i].suite->name);
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
		char *line = xasprintf("%s\n", js);
		cJSON_free(js);
		size_t n = strlen(line);
		ssize_t w;
		/* one write per line: O_APPEND places it whole at the end */
		do
			w = write(fd, line, n);
		while (w < 0 && errno == EINTR);
		if (w != (ssize_t)n)
			warn("cannot append to %s%s", path, w < 0 ? ":" : ": short write");
		free(line);
	}
	close(fd);
	free(path);
}

cJSON *readhistory(const char *cachedir)
{
	char *path = pathjoin(cachedir, "history");
	char *text = readfile(path, NULL);
	cJSON *arr = cJSON_CreateArray();

	free(path);
	if (!text)
		return arr;
	for (char *line = text, *next; *line; line = next) {
		char *nl = strchr(line, '\n');
		if (!nl) /* a torn last line */
			break;
		*nl = '\0';
		next = nl + 1;
		cJSON *o = cJSON_Parse(line);
		if (!cJSON_IsObject(o) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "suite"))
		    || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "time"))) {
			cJSON_Delete(o);
			continue;
		}
		cJSON_AddItemToArray(arr, o);
	}
	free(text);
	return arr;
}
