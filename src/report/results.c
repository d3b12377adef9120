/* results: see results.h. Reports come from our own writer or from a
 * file a user kept; both are read defensively: a missing field is a
 * default, a wrong top-level shape is an error naming the file. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "report/results.h"
#include "core/util.h"

static double numor(const cJSON *o, const char *key, double dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static size_t countof(const cJSON *o, const char *key)
{
	double v = numor(o, key, 0);

	return v > 0 ? (size_t)v : 0;
}

static void readtask(const cJSON *t, struct taskres *tr)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(t, "id"), *c;
	const cJSON *cells = cJSON_GetObjectItemCaseSensitive(t, "cells");

	tr->id = xstrdup(cJSON_IsString(id) ? id->valuestring : "?");
	tr->score = numor(t, "score", NAN);
	tr->erriters = xcalloc((size_t)cJSON_GetArraySize(cells) + 1, sizeof(int));
	cJSON_ArrayForEach(c, cells) {
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "status");
		tr->cells++;
		if (cJSON_IsString(st) && !strcmp(st->valuestring, "error"))
			tr->erriters[tr->errors++] = (int)numor(c, "iteration", 0);
	}
}

int parseresults(const char *json, const char *name, struct results *r, char **err)
{
	cJSON *root = cJSON_Parse(json);
	const cJSON *suites = cJSON_GetObjectItemCaseSensitive(root, "suites"), *s;

	memset(r, 0, sizeof(*r));
	if (!root || !cJSON_IsArray(suites)) {
		*err = xasprintf("%s: not an evalmake JSON report (expected an object with \"suites\"; write one with --json)",
		                 name);
		cJSON_Delete(root);
		return -1;
	}
	r->ran = countof(root, "ran");
	r->cached = countof(root, "cached");
	r->errors = countof(root, "errors");
	r->suites = xcalloc((size_t)cJSON_GetArraySize(suites) + 1, sizeof(*r->suites));
	cJSON_ArrayForEach(s, suites) {
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(s, "name"), *t;
		const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(s, "tasks");
		if (!cJSON_IsString(nm)) {
			*err = xasprintf("%s: a suite without a \"name\"", name);
			cJSON_Delete(root);
			freeresults(r);
			return -1;
		}
		struct suiteres *sr = &r->suites[r->nsuites++];
		sr->name = xstrdup(nm->valuestring);
		sr->score = numor(s, "score", NAN);
		sr->se = numor(s, "stderr", NAN);
		sr->threshold = numor(s, "threshold", -1);
		sr->cells = countof(s, "cells_total");
		sr->errors = countof(s, "errors");
		sr->ran = countof(s, "ran");
		sr->cached = countof(s, "cached");
		sr->partial = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "partial"));
		sr->tasks = xcalloc((size_t)cJSON_GetArraySize(tasks) + 1, sizeof(*sr->tasks));
		sr->index = mkhtab((size_t)cJSON_GetArraySize(tasks) + 1);
		cJSON_ArrayForEach(t, tasks) {
			struct taskres *tr = &sr->tasks[sr->ntasks++];
			readtask(t, tr);
			htabput(sr->index, tr->id, strlen(tr->id), tr);
		}
	}
	cJSON_Delete(root);
	return 0;
}

/* a report named on the command line may come through a pipe, as in
 * `evalmake diff <(git show main:r.json)`, or be '-' (stdin); readfile
 * refuses those (it never blocks on a FIFO), so they are read to their
 * end here, up to READ_MAX bytes */
static char *readreport(const char *path)
{
	struct stat st;

	if (strcmp(path, "-") && (stat(path, &st) < 0 || !(S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode))))
		return readfile(path, NULL);
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f)
		return NULL;
	struct buf b = {.max = READ_MAX};
	char chunk[65536];
	size_t n;
	int err = 0;
	while (!err && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (bufadd(&b, chunk, n) < 0)
			err = EFBIG;
	if (!err && ferror(f))
		err = errno ? errno : EIO;
	if (f != stdin)
		fclose(f);
	if (err) {
		buffree(&b);
		errno = err;
		return NULL;
	}
	return bufdetach(&b);
}

int loadresults(const char *path, struct results *r, char **err)
{
	char *text = readreport(path);

	if (!text) {
		*err = xasprintf("cannot read %s: %s", path, filewhy(errno));
		return -1;
	}
	int ret = parseresults(text, path, r, err);
	free(text);
	return ret;
}

void planresults(struct plan *p, struct suitesum *sum, struct results *r)
{
	char *json = jsonreport(p, sum, NULL), *err;

	if (parseresults(json, "report", r, &err) < 0) /* our own writer: cannot happen */
		fatal(EXIT_USAGE, "%s", err);
	free(json);
}

void freeresults(struct results *r)
{
	for (size_t i = 0; i < r->nsuites; i++) {
		struct suiteres *s = &r->suites[i];
		for (size_t j = 0; j < s->ntasks; j++) {
			free(s->tasks[j].id);
			free(s->tasks[j].erriters);
		}
		free(s->tasks);
		free(s->name);
		htabfree(s->index, NULL);
	}
	free(r->suites);
	memset(r, 0, sizeof(*r));
}

struct suiteres *findsuiteres(const struct results *r, const char *name)
{
	for (size_t i = 0; r && i < r->nsuites; i++)
		if (!strcmp(r->suites[i].name, name))
			return &r->suites[i];
	return NULL;
}

struct taskres *findtaskres(const struct suiteres *s, const char *id)
{
	return s ? htabget(s->index, id, strlen(id)) : NULL;
}

int taskpasses(double score)
{
	return !isnan(score) && score >= 1;
}

size_t flips(const struct suiteres *base, const struct suiteres *s, struct flip **out, size_t *nfail)
{
	size_t n = 0;

	*out = xcalloc(s->ntasks + 1, sizeof(**out));
	*nfail = 0;
	/* two passes: pass -> fail first, then fail -> pass */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < s->ntasks; i++) {
			const struct taskres *t = &s->tasks[i], *b = findtaskres(base, t->id);
			if (!b || isnan(b->score) || isnan(t->score) || taskpasses(b->score) == taskpasses(t->score))
				continue;
			if (taskpasses(t->score) != pass)
				continue;
			(*out)[n++] = (struct flip){t->id, b->score, t->score};
			if (!pass)
				(*nfail)++;
		}
	}
	return n;
}

size_t sharedscores(const struct suiteres *base, const struct suiteres *s, double **old, double **new)
{
	size_t n = 0;

	*old = xcalloc(s->ntasks + 1, sizeof(double));
	*new = xcalloc(s->ntasks + 1, sizeof(double));
	for (size_t i = 0; i < s->ntasks; i++) {
		const struct taskres *t = &s->tasks[i], *b = findtaskres(base, t->id);
		if (!b || isnan(b->score) || isnan(t->score))
			continue;
		(*old)[n] = b->score;
		(*new)[n] = t->score;
		n++;
	}
	return n;
}

void addidlist(struct buf *b, const char *const *ids, size_t n, size_t max)
{
	for (size_t i = 0; i < n && i < max; i++)
		bufaddf(b, "%s%s", i ? " " : "", ids[i]);
	if (n > max)
		bufaddf(b, " (+%zu more)", n - max);
}
