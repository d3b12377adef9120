/* report: tallies, the terminal table and the JSON report. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "report/markup.h"
#include "report/report.h"
#include "core/util.h"

/* each grader's task and suite scores, for a suite with several */
static void graderscores(struct plan *p, struct suitesum *s)
{
	size_t ng = s->sp->suite->ngraders, nt = s->sp->tasks.n;

	if (ng < 2)
		return;
	double *acc = xcalloc(nt * ng + 1, sizeof(double));
	int *cnt = xcalloc(nt * ng + 1, sizeof(int));
	s->gscore = xcalloc(ng, sizeof(double));
	s->gtaskscore = xcalloc(nt * ng + 1, sizeof(double));
	for (size_t i = 0; i < p->ncells; i++) {
		const struct cell *c = &p->cells[i];
		if (c->sp != s->sp || c->status == CELL_ERROR)
			continue;
		for (size_t g = 0; g < ng; g++) {
			double v = scoreof(c, g);
			if (!isnan(v)) {
				acc[c->taskno * ng + g] += v;
				cnt[c->taskno * ng + g]++;
			}
		}
	}
	for (size_t g = 0; g < ng; g++) {
		double total = 0;
		size_t n = 0;
		for (size_t t = 0; t < nt; t++) {
			size_t k = t * ng + g;
			s->gtaskscore[k] = cnt[k] ? acc[k] / cnt[k] : -1;
			if (cnt[k]) {
				total += s->gtaskscore[k];
				n++;
			}
		}
		s->gscore[g] = n ? total / (double)n : NAN;
	}
	free(acc);
	free(cnt);
}

struct suitesum *summarize(struct plan *p)
{
	struct suitesum *sum = xcalloc(p->nsp + 1, sizeof(*sum));
	double **acc = xcalloc(p->nsp + 1, sizeof(*acc));
	int **cnt = xcalloc(p->nsp + 1, sizeof(*cnt));

	for (size_t i = 0; i < p->nsp; i++) {
		size_t n = p->sp[i].tasks.n;
		sum[i].sp = &p->sp[i];
		sum[i].taskscore = xcalloc(n + 1, sizeof(double));
		sum[i].taskcells = xcalloc(n + 1, sizeof(int));
		acc[i] = xcalloc(n + 1, sizeof(double));
		cnt[i] = xcalloc(n + 1, sizeof(int));
	}
	for (size_t i = 0; i < p->ncells; i++) {
		const struct cell *c = &p->cells[i];
		size_t k = (size_t)(c->sp - p->sp);
		struct suitesum *s = &sum[k];
		s->cells++;
		s->taskcells[c->taskno]++;
		if (c->status == CELL_RAN)
			s->ran++;
		else if (c->status == CELL_CACHED && c->graded_now)
			s->cached++, s->regraded++;
		else if (c->status == CELL_CACHED)
			s->cached++;
		else if (c->status == CELL_ERROR)
			s->errors++;
		else
			s->pending++;
		if (c->scored) {
			acc[k][c->taskno] += c->score;
			cnt[k][c->taskno]++;
		}
	}
	for (size_t i = 0; i < p->nsp; i++)
		graderscores(p, &sum[i]);
	for (size_t i = 0; i < p->nsp; i++) {
		struct suitesum *s = &sum[i];
		double total = 0, sq = 0;
		for (size_t t = 0; t < p->sp[i].tasks.n; t++) {
			if (s->taskcells[t])
				s->tasks++;
			if (!cnt[i][t]) {
				s->taskscore[t] = -1;
				continue;
			}
			s->taskscore[t] = acc[i][t] / cnt[i][t];
			total += s->taskscore[t];
			s->scoredtasks++;
		}
		s->score = s->scoredtasks ? total / (double)s->scoredtasks : NAN;
		for (size_t t = 0; t < p->sp[i].tasks.n; t++)
			if (s->taskscore[t] >= 0)
				sq += (s->taskscore[t] - s->score) * (s->taskscore[t] - s->score);
		s->se = s->scoredtasks > 1 ? sqrt(sq / (double)(s->scoredtasks - 1) / (double)s->scoredtasks) : 0;
		free(acc[i]);
		free(cnt[i]);
	}
	free(acc);
	free(cnt);
	return sum;
}

void freesummary(struct plan *p, struct suitesum *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < p->nsp; i++) {
		free(s[i].taskscore);
		free(s[i].taskcells);
		free(s[i].gscore);
		free(s[i].gtaskscore);
	}
	free(s);
}

/* a copy of s with control characters shown as ^X (ESC as ^[), so an
 * agent's ANSI escapes cannot recolour or rewrite the table; newlines and
 * tabs stay */
static char *visiblectl(const char *s)
{
	struct buf b = {0};

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f) {
			bufaddc(&b, '^');
			bufaddc(&b, ch == 0x7f ? '?' : ch + '@');
		} else {
			bufaddc(&b, ch);
		}
	}
	return b.s ? bufdetach(&b) : xstrdup("");
}

char *gotline(struct plan *p, const struct cell *c)
{
	char *out = entrypart(p->store, c->runkey, "output", NULL);
	char *r;

	if (!out)
		return xstrdup("?");
	char *clean = cleantext(out);
	free(out);
	out = visiblectl(clean);
	free(clean);
	char *t = trim(out);
	size_t n = strcspn(t, "\n");
	if (n > 60)
		r = xasprintf("%.57s...", t);
	else
		r = xasprintf("%.*s%s", (int)n, t, t[n] ? "..." : "");
	free(out);
	return r;
}

static const char *col(const struct reportopts *o, const char *c)
{
	return o->color ? c : "";
}

int suitepartial(const struct suitesum *s)
{
	return s->errors + s->pending > 0;
}

/* "partial" at the end of a suite's row whose score covers only part of
 * its cells: a score from 1 task of 10 must not read as the suite's */
static void printpartial(FILE *f, const struct suitesum *s, const struct reportopts *o)
{
	if (!suitepartial(s))
		return;
	fprintf(f, "  %spartial%s: %zu of %zu cells scored", col(o, "\033[33m"), col(o, "\033[0m"),
	        s->cells - s->errors - s->pending, s->cells);
}

struct cause {
	const char *msg;          /* the error's first line (the cell's) */
	size_t n;
	const struct cell *first; /* the first cell with it, for `log` */
};

static int bycount(const void *a, const void *b)
{
	const struct cause *x = a, *y = b;

	return x->n < y->n ? 1 : x->n > y->n ? -1 : 0;
}

void printerrors(FILE *f, struct plan *p, const struct reportopts *o)
{
	struct cause *v = NULL;
	size_t n = 0, cap = 0, shown;
	struct htab *seen = NULL;

	for (size_t i = 0; i < p->ncells; i++) {
		const struct cell *c = &p->cells[i];
		if (c->status != CELL_ERROR)
			continue;
		const char *msg = c->error ? c->error : "unknown error";
		size_t len = strcspn(msg, "\n");
		if (!seen)
			seen = mkhtab(16);
		void **slot = htabslot(seen, msg, len, 1);
		if (*slot) {
			v[(uintptr_t)*slot - 1].n++;
			continue;
		}
		xgrow(&v, &cap, n + 1, sizeof(*v));
		v[n] = (struct cause){msg, 1, c};
		*slot = (void *)(uintptr_t)++n;
	}
	if (!n)
		return;
	qsort(v, n, sizeof(*v), bycount); /* ties: plan order is not kept, which is fine */
	shown = o->verbose || n <= 10 ? n : 10;
	fprintf(f, "%serrors%s (not scored; errors are not cached and run again next time):\n", col(o, "\033[31m"),
	        col(o, "\033[0m"));
	for (size_t i = 0; i < shown; i++) {
		char *one = xstrndup(v[i].msg, strcspn(v[i].msg, "\n"));
		char *clean = cleantext(one), *vis = visiblectl(clean);
		fprintf(f, "  %zu cell%s: %s (see evalmake log %s)\n", v[i].n, v[i].n == 1 ? "" : "s", vis, v[i].first->id);
		free(vis);
		free(clean);
		free(one);
	}
	if (shown < n)
		fprintf(f, "  ... and %zu more causes (-v shows all)\n", n - shown);
	htabfree(seen, NULL);
	free(v);
}

void printtable(FILE *f, struct plan *p, struct suitesum *sum, const struct reportopts *o)
{
	int w = 5;
	int anypending = 0, anyregraded = 0, anygraders = 0;

	for (size_t i = 0; i < p->nsp; i++) {
		int n = (int)strlen(p->sp[i].suite->name);
		if (n > w)
			w = n;
		anypending |= sum[i].pending > 0;
		anyregraded |= sum[i].regraded > 0;
		anygraders |= sum[i].gscore != NULL;
	}
	if (o->title)
		fprintf(f, "%s\n", o->title);
	fprintf(f, "%s%-*s  %6s  %7s  %5s  %5s  %5s  %6s%s  %6s%s%s%s\n", col(o, "\033[1m"), w, "suite", "score", "stderr",
	        "tasks", "cells", "ran", "cached", anyregraded ? "  regraded" : "", "errors", anypending ? "  pending" : "",
	        anygraders ? "  graders" : "",
	        col(o, "\033[0m"));
	for (size_t i = 0; i < p->nsp; i++) {
		struct suitesum *s = &sum[i];
		char score[32], se[32];
		if (s->scoredtasks) {
			snprintf(score, sizeof(score), "%.3f", s->score);
			snprintf(se, sizeof(se), "±%.3f", s->se);
		} else {
			snprintf(score, sizeof(score), "-");
			snprintf(se, sizeof(se), "-");
		}
		double th = s->sp->suite->threshold;
		const char *sc = th >= 0 && s->scoredtasks ? (s->score >= th ? "\033[32m" : "\033[31m") : "";
		fprintf(f, "%-*s  %s%6s%s  %7s  %5zu  %5zu  %5zu  %6zu", w, s->sp->suite->name, col(o, sc), score,
		        col(o, *sc ? "\033[0m" : ""), se, s->tasks, s->cells, s->ran, s->cached);
		if (anyregraded)
			fprintf(f, "  %8zu", s->regraded);
		fprintf(f, "  %s%6zu%s", col(o, s->errors ? "\033[31m" : ""), s->errors, col(o, s->errors ? "\033[0m" : ""));
		if (anypending)
			fprintf(f, "  %7zu", s->pending);
		/* several graders: each one's score, "exact 0.667  judged 1.000" */
		for (size_t g = 0; s->gscore && g < s->sp->suite->ngraders; g++) {
			if (isnan(s->gscore[g]))
				fprintf(f, "  %s -", suitegrader(s->sp->suite, g)->name);
			else
				fprintf(f, "  %s %.3f", suitegrader(s->sp->suite, g)->name, s->gscore[g]);
		}
		printpartial(f, s, o);
		fputc('\n', f);
	}
	/* failing tasks: expected vs got, the first failing iteration's output */
	for (size_t i = 0; i < p->nsp; i++) {
		struct suitesum *s = &sum[i];
		size_t shown = 0, failing = 0;
		char **seen = xcalloc(s->sp->tasks.n + 1, sizeof(*seen));
		for (size_t j = 0; j < p->ncells; j++) {
			const struct cell *c = &p->cells[j];
			if (c->sp != s->sp || !c->scored || c->score >= 1 || seen[c->taskno])
				continue;
			if (s->taskscore[c->taskno] >= 1)
				continue;
			seen[c->taskno] = (char *)"";
			failing++;
			if (!o->verbose && shown >= 10)
				continue;
			shown++;
			char *got = gotline(p, c), *lerr = NULL;
			if (loadtask(c->task, &lerr) < 0)
				free(lerr);
			const char *exp = firstexpected(c->task);
			char *ex0 = utf8cut(exp, strcspn(exp, "\n") > 60 ? 60 : strcspn(exp, "\n"));
			char *ex = cleantext(ex0);
			free(ex0);
			if (c->task->loaded && c->task->expected.n)
				fprintf(f, "%sFAIL%s %s/%s  %.2f  expected \"%s\", got \"%s\"\n", col(o, "\033[31m"),
				        col(o, "\033[0m"), s->sp->suite->name, c->task->id, s->taskscore[c->taskno], trim(ex), got);
			else
				fprintf(f, "%sFAIL%s %s/%s  %.2f  got \"%s\"\n", col(o, "\033[31m"), col(o, "\033[0m"),
				        s->sp->suite->name, c->task->id, s->taskscore[c->taskno], got);
			free(ex);
			free(got);
		}
		if (failing > shown)
			fprintf(f, "... and %zu more failing task%s in %s (-v shows all)\n", failing - shown,
			        failing - shown == 1 ? "" : "s", s->sp->suite->name);
		free(seen);
	}
	printerrors(f, p, o);
}

static const char *statusname(enum cellstatus st)
{
	switch (st) {
	case CELL_RAN: return "ran";
	case CELL_CACHED: return "cached";
	case CELL_ERROR: return "error";
	default: return "pending";
	}
}

static cJSON *num(double v)
{
	return isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(round(v * 1e6) / 1e6);
}

/* {"NAME": score or null, ...} in the graders' order */
static cJSON *gradersjson(const struct suiteplan *sp, const double *v)
{
	cJSON *o = cJSON_CreateObject();

	for (size_t g = 0; g < sp->suite->ngraders; g++)
		cJSON_AddItemToObject(o, suitegrader(sp->suite, g)->name, num(v[g]));
	return o;
}

/* where a streamed report goes: a FILE or a buffer */
struct sink {
	FILE *f;
	struct buf *b;
};

static void put(struct sink *k, const char *s, size_t n)
{
	if (k->f)
		fwrite(s, 1, n, k->f);
	else
		bufadd(k->b, s, n);
}

static void puts_(struct sink *k, const char *s)
{
	put(k, s, strlen(s));
}

/* o printed as cJSON prints it (valid UTF-8, no key: cleanjson), then
 * freed; open: without its closing brace, so fields can follow */
static void putobj(struct sink *k, cJSON *o, int open)
{
	cleanjson(o); /* whatever a cache from before holds */
	char *t = cJSON_PrintUnformatted(o);
	size_t n = strlen(t);

	put(k, t, open && n ? n - 1 : n);
	cJSON_free(t);
	cJSON_Delete(o);
}

/* The JSON report, written as it is made: the tree of one cell (or one
 * suite's or task's own fields) at a time, never the whole report, so
 * its memory does not grow with the plan (a status --json of 100,000
 * cells). Byte for byte what cJSON prints of the whole tree. */
/* full < 0: the JSON report; 0 or 1: a watch line saying "full" (0: only
 * the cells changed marks) */
static void streamreport(struct sink *k, struct plan *p, struct suitesum *sum, char *const *trigger, int full,
                         const unsigned char *changed)
{
	cJSON *r = cJSON_CreateObject();
	size_t ran = 0, cached = 0, errors = 0, regraded = 0;
	char hx[33];

	for (size_t i = 0; i < p->nsp; i++) {
		ran += sum[i].ran;
		cached += sum[i].cached;
		regraded += sum[i].regraded;
		errors += sum[i].errors;
	}
	cJSON_AddNumberToObject(r, "version", 1);
	cJSON_AddNumberToObject(r, "ran", (double)ran);
	cJSON_AddNumberToObject(r, "cached", (double)cached);
	cJSON_AddNumberToObject(r, "errors", (double)errors);
	cJSON_AddNumberToObject(r, "regraded", (double)regraded);
	if (trigger) {
		cJSON *t = cJSON_AddArrayToObject(r, "trigger");
		for (char *const *s = trigger; *s; s++)
			cJSON_AddItemToArray(t, cJSON_CreateString(*s));
	}
	if (full >= 0)
		cJSON_AddBoolToObject(r, "full", full);
	putobj(k, r, 1);
	puts_(k, ",\"suites\":[");
	/* each suite's cells by task, in plan order within a task */
	size_t *order = xcalloc(p->ncells + 1, sizeof(*order));
	for (size_t i = 0; i < p->nsp; i++) {
		struct suitesum *s = &sum[i];
		struct suiteplan *sp = s->sp;
		cJSON *so = cJSON_CreateObject();
		cJSON_AddStringToObject(so, "name", sp->suite->name);
		cJSON_AddItemToObject(so, "score", num(s->score));
		cJSON_AddItemToObject(so, "stderr", s->scoredtasks ? num(s->se) : cJSON_CreateNull());
		if (s->gscore)
			cJSON_AddItemToObject(so, "scores", gradersjson(sp, s->gscore));
		if (sp->suite->threshold >= 0)
			cJSON_AddNumberToObject(so, "threshold", sp->suite->threshold);
		cJSON_AddNumberToObject(so, "tasks_total", (double)s->tasks);
		cJSON_AddNumberToObject(so, "cells_total", (double)s->cells);
		cJSON_AddNumberToObject(so, "ran", (double)s->ran);
		cJSON_AddNumberToObject(so, "cached", (double)s->cached);
		cJSON_AddNumberToObject(so, "errors", (double)s->errors);
		if (suitepartial(s))
			cJSON_AddBoolToObject(so, "partial", 1);
		cJSON_AddNumberToObject(so, "regraded", (double)s->regraded);
		if (i)
			puts_(k, ",");
		putobj(k, so, 1);
		puts_(k, ",\"tasks\":[");
		/* a counting sort of the suite's cells by task */
		size_t nt = sp->tasks.n, *start = xcalloc(nt + 2, sizeof(*start)), n = 0;
		for (size_t j = 0; j < p->ncells; j++)
			if (p->cells[j].sp == sp && (full || changed[j]))
				start[p->cells[j].taskno + 1]++;
		for (size_t t = 0; t < nt; t++)
			start[t + 1] += start[t];
		for (size_t j = 0; j < p->ncells; j++)
			if (p->cells[j].sp == sp && (full || changed[j]))
				order[start[p->cells[j].taskno]++] = j, n++;
		int firsttask = 1;
		for (size_t x = 0; x < n;) {
			const struct cell *c0 = &p->cells[order[x]];
			cJSON *to = cJSON_CreateObject();
			cJSON_AddStringToObject(to, "id", c0->task->id);
			double ts = s->taskscore[c0->taskno];
			cJSON_AddItemToObject(to, "score", ts >= 0 ? num(ts) : cJSON_CreateNull());
			if (s->gtaskscore) {
				size_t ng = sp->suite->ngraders;
				double *v = xcalloc(ng, sizeof(double));
				for (size_t g = 0; g < ng; g++) {
					double y = s->gtaskscore[c0->taskno * ng + g];
					v[g] = y >= 0 ? y : NAN;
				}
				cJSON_AddItemToObject(to, "scores", gradersjson(sp, v));
				free(v);
			}
			puts_(k, firsttask ? "" : ",");
			firsttask = 0;
			putobj(k, to, 1);
			puts_(k, ",\"cells\":[");
			for (int firstcell = 1; x < n && p->cells[order[x]].taskno == c0->taskno; x++, firstcell = 0) {
				const struct cell *c = &p->cells[order[x]];
				cJSON *co = cJSON_CreateObject();
				cJSON_AddNumberToObject(co, "iteration", c->iteration);
				cJSON_AddStringToObject(co, "status", statusname(c->status));
				cJSON_AddItemToObject(co, "score", c->scored ? num(c->score) : cJSON_CreateNull());
				if (sp->suite->ngraders > 1) { /* an error has no scores, not even partial ones */
					size_t ng = sp->suite->ngraders;
					double *v = xcalloc(ng, sizeof(double));
					for (size_t g = 0; g < ng; g++)
						v[g] = c->status == CELL_ERROR ? NAN : scoreof(c, g);
					cJSON_AddItemToObject(co, "scores", gradersjson(sp, v));
					free(v);
				}
				hashhex(c->runkey, hx);
				cJSON_AddStringToObject(co, "key", hx);
				cJSON_AddItemToObject(co, "seconds", c->status == CELL_PENDING ? cJSON_CreateNull() : num(c->seconds));
				if (c->status == CELL_ERROR && c->error)
					cJSON_AddStringToObject(co, "error", c->error);
				if (!firstcell)
					puts_(k, ",");
				putobj(k, co, 0);
			}
			puts_(k, "]}");
		}
		free(start);
		puts_(k, "]}");
	}
	free(order);
	puts_(k, "]}");
}

char *jsonreport(struct plan *p, struct suitesum *sum, char *const *trigger)
{
	struct buf b = {0};
	struct sink k = {.b = &b};

	streamreport(&k, p, sum, trigger, -1, NULL);
	return bufdetach(&b);
}

char *jsonupdate(struct plan *p, struct suitesum *sum, char *const *trigger, const unsigned char *changed)
{
	struct buf b = {0};
	struct sink k = {.b = &b};

	streamreport(&k, p, sum, trigger, !changed, changed);
	return bufdetach(&b);
}

int writejson(struct plan *p, struct suitesum *s, const char *path)
{
	static unsigned counter;
	struct stat st;
	int err;

	/* stdout, or what is not a regular file (/dev/null, a pipe): as it is */
	if (!strcmp(path, "-") || (stat(path, &st) == 0 && !S_ISREG(st.st_mode))) {
		FILE *f = !strcmp(path, "-") ? stdout : fopen(path, "w");
		if (!f)
			return -1;
		struct sink k = {.f = f};
		streamreport(&k, p, s, NULL, -1, NULL);
		fputc('\n', f);
		int r = ferror(f) ? -1 : 0;
		if (f == stdout)
			return fflush(f) == 0 ? r : -1;
		return fclose(f) == 0 ? r : -1;
	}
	/* a file: written beside it and renamed, synced first (as writefile) */
	char *tmp = xasprintf("%s.tmp.%ld.%u", path, (long)getpid(), counter++);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		free(tmp);
		return -1;
	}
	struct sink k = {.f = f};
	streamreport(&k, p, s, NULL, -1, NULL);
	fputc('\n', f);
	int ok = !ferror(f) && fflush(f) == 0 && fsync(fileno(f)) == 0;
	err = errno;
	ok = fclose(f) == 0 && ok;
	if (ok && rename(tmp, path) == 0) {
		free(tmp);
		syncparent(path);
		return 0;
	}
	err = ok ? errno : err;
	unlink(tmp);
	free(tmp);
	errno = err;
	return -1;
}

