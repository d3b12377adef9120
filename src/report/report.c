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

#include "load/dataset.h"
#include "report/markup.h"
#include "report/report.h"
#include "report/stats.h"
#include "core/util.h"

/* the scores of task t's cells (scoreof grader g, or the cell's score
 * when g < 0) into v; how many are scored */
static size_t taskscores(struct plan *p, const struct suiteplan *sp, size_t t, long g, double *v)
{
	size_t n = 0;

	for (size_t k = 0; sp->cellsof && k < sp->cellsof[t].n; k++) {
		const struct cell *c = &p->cells[sp->cellsof[t].v[k]];
		if (g < 0) {
			if (c->scored)
				v[n++] = c->score;
		} else if (c->status != CELL_ERROR) {
			double x = scoreof(c, (size_t)g);
			if (!isnan(x))
				v[n++] = x;
		}
	}
	return n;
}

/* the largest number of cells of one task (the size of a scratch array) */
static size_t maxcells(const struct suiteplan *sp)
{
	size_t m = 1;

	for (size_t t = 0; sp->cellsof && t < sp->tasks.n; t++)
		if (sp->cellsof[t].n > m)
			m = sp->cellsof[t].n;
	return m;
}

/* each grader's task and suite scores, for a suite with several: each
 * task's iterations reduced as the suite says (reduce:) */
static void graderscores(struct plan *p, struct suitesum *s)
{
	const struct suite *su = s->sp->suite;
	size_t ng = su->ngraders, nt = s->sp->tasks.n;

	if (ng < 2)
		return;
	double *v = xcalloc(maxcells(s->sp), sizeof(double));
	s->gscore = xcalloc(ng, sizeof(double));
	s->gtaskscore = xcalloc(nt * ng + 1, sizeof(double));
	for (size_t g = 0; g < ng; g++) {
		double total = 0;
		size_t n = 0;
		for (size_t t = 0; t < nt; t++) {
			size_t k = t * ng + g;
			double x = reducescores(v, taskscores(p, s->sp, t, (long)g, v), su->reduce, su->reducek);
			s->gtaskscore[k] = isnan(x) ? -1 : x;
			if (!isnan(x)) {
				total += x;
				n++;
			}
		}
		s->gscore[g] = n ? total / (double)n : NAN;
	}
	free(v);
}

/* the task's cluster (its cluster: field's value, as text); a task
 * without the field is a cluster of its own */
static char *clusterof(struct task *t, const char *field)
{
	char *err = NULL;

	if (loadtask(t, &err) < 0) {
		free(err);
		return NULL;
	}
	const cJSON *f = t->fields ? fieldat(t->fields, field) : NULL;
	if (!f || cJSON_IsNull(f))
		return NULL;
	if (cJSON_IsString(f))
		return xstrdup(f->valuestring);
	char *j = cJSON_PrintUnformatted(f), *r = xstrdup(j ? j : "");
	cJSON_free(j);
	return r;
}

/* a suite's error bars from its task scores: the standard error (over
 * tasks, or clustered by cluster:), and for binary scores on a small suite
 * the Wilson interval; see stats.h for the formulas */
static void errorbars(struct suitesum *s)
{
	const struct suiteplan *sp = s->sp;
	size_t n = 0, pass = 0, binary = 1;
	double *v = xcalloc(sp->tasks.n + 1, sizeof(double));
	size_t *cl = xcalloc(sp->tasks.n + 1, sizeof(size_t));
	struct htab *ids = sp->suite->cluster ? mkhtab(sp->tasks.n + 1) : NULL;
	size_t next = 0;

	for (size_t t = 0; t < sp->tasks.n; t++) {
		if (s->taskscore[t] < 0)
			continue;
		v[n] = s->taskscore[t];
		binary &= v[n] == 0 || v[n] == 1;
		pass += v[n] == 1;
		if (ids) {
			char *key = clusterof(&sp->tasks.v[t], sp->suite->cluster);
			if (key) {
				void **slot = htabslot(ids, key, strlen(key), 1);
				if (!*slot)
					*slot = (void *)(uintptr_t)++next;
				cl[n] = (size_t)(uintptr_t)*slot;
				free(key);
			} else {
				cl[n] = 0; /* numbered below: its own cluster */
			}
		}
		n++;
	}
	s->setasks = stderrmean(v, n);
	s->se = s->setasks;
	if (ids) {
		for (size_t i = 0; i < n; i++)
			if (!cl[i])
				cl[i] = ++next;
		s->se = clusteredse(v, cl, n, &s->clusters);
		htabfree(ids, NULL);
	}
	s->cilo = s->cihi = NAN;
	/* Wilson's interval assumes independent tasks: not beside a
	 * clustered standard error */
	if (n && binary && n < WILSON_MAXTASKS && !sp->suite->cluster)
		wilson(pass, n, &s->cilo, &s->cihi);
	free(v);
	free(cl);
}

struct suitesum *summarize(struct plan *p)
{
	struct suitesum *sum = xcalloc(p->nsp + 1, sizeof(*sum));

	for (size_t i = 0; i < p->nsp; i++) {
		size_t n = p->sp[i].tasks.n;
		sum[i].sp = &p->sp[i];
		sum[i].taskscore = xcalloc(n + 1, sizeof(double));
		sum[i].taskcells = xcalloc(n + 1, sizeof(int));
		sum[i].taskflaky = xcalloc(n + 1, 1);
	}
	for (size_t i = 0; i < p->ncells; i++) {
		const struct cell *c = &p->cells[i];
		size_t k = (size_t)(c->sp - p->sp);
		struct suitesum *s = &sum[k];
		s->cells++;
		s->taskcells[c->taskno]++;
		if (c->status == CELL_RAN)
			s->ran++;
		else if (c->status == CELL_CACHED && c->fetched)
			s->remote++;
		else if (c->status == CELL_CACHED && c->graded_now)
			s->cached++, s->regraded++;
		else if (c->status == CELL_CACHED)
			s->cached++;
		else if (c->status == CELL_ERROR)
			s->errors++;
		else
			s->pending++;
	}
	for (size_t i = 0; i < p->nsp; i++)
		graderscores(p, &sum[i]);
	struct usagesum *u = xcalloc(p->nsp + 1, sizeof(*u));
	tallyusage(p, u);
	for (size_t i = 0; i < p->nsp; i++)
		sum[i].usage = u[i];
	free(u);
	for (size_t i = 0; i < p->nsp; i++) {
		struct suitesum *s = &sum[i];
		const struct suite *su = p->sp[i].suite;
		double total = 0, *v = xcalloc(maxcells(&p->sp[i]), sizeof(double));
		for (size_t t = 0; t < p->sp[i].tasks.n; t++) {
			if (s->taskcells[t])
				s->tasks++;
			size_t n = taskscores(p, &p->sp[i], t, -1, v);
			if (isflaky(v, n)) {
				s->taskflaky[t] = 1;
				s->flaky++;
			}
			double x = reducescores(v, n, su->reduce, su->reducek);
			if (isnan(x)) {
				s->taskscore[t] = -1;
				continue;
			}
			s->taskscore[t] = x;
			total += x;
			s->scoredtasks++;
		}
		free(v);
		s->score = s->scoredtasks ? total / (double)s->scoredtasks : NAN;
		errorbars(s);
	}
	return sum;
}

void freesummary(struct plan *p, struct suitesum *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < p->nsp; i++) {
		free(s[i].taskscore);
		free(s[i].taskcells);
		free(s[i].taskflaky);
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
	fprintf(f, "  %spartial%s: %zu of %zu cell%s scored", col(o, "\033[33m"), col(o, "\033[0m"),
	        s->cells - s->errors - s->pending, s->cells, s->cells == 1 ? "" : "s");
}

/* after a suite's row, what its numbers mean when it is not the plain
 * mean +- standard error: the reduction, the clusters, the Wilson
 * interval, the flaky tasks */
static void printbars(FILE *f, const struct suitesum *s)
{
	const struct suite *su = s->sp->suite;

	if (su->reduce != REDUCE_MEAN) {
		char *r = reducename(su->reduce, su->reducek);
		fprintf(f, "  %s", r);
		free(r);
	}
	if (su->cluster && s->scoredtasks)
		fprintf(f, "  stderr clustered by %s: %zu cluster%s", su->cluster, s->clusters, s->clusters == 1 ? "" : "s");
	if (!isnan(s->cilo))
		fprintf(f, "  95%% CI [%.3f, %.3f] (Wilson)", s->cilo, s->cihi);
	if (s->flaky)
		fprintf(f, "  %zu flaky", s->flaky);
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

/* "FLAKY suite/task  2 of 3 iterations pass" per flaky task (10 unless -v) */
static void printflaky(FILE *f, struct plan *p, const struct suitesum *s, const struct reportopts *o)
{
	const struct suiteplan *sp = s->sp;
	size_t shown = 0;

	for (size_t t = 0; t < sp->tasks.n && s->flaky; t++) {
		if (!s->taskflaky[t])
			continue;
		if (!o->verbose && shown >= 10) {
			fprintf(f, "... and %zu more flaky task%s in %s (-v shows all)\n", s->flaky - shown,
			        s->flaky - shown == 1 ? "" : "s", sp->suite->name);
			return;
		}
		size_t pass = 0, n = 0;
		for (size_t k = 0; k < sp->cellsof[t].n; k++) {
			const struct cell *c = &p->cells[sp->cellsof[t].v[k]];
			if (c->scored) {
				n++;
				pass += c->score >= 1;
			}
		}
		fprintf(f, "%sFLAKY%s %s/%s  %.2f  %zu of %zu iterations pass\n", col(o, "\033[33m"), col(o, "\033[0m"),
		        sp->suite->name, sp->tasks.v[t].id, s->taskscore[t], pass, n);
		shown++;
	}
}

/* under the rows, with two suites or more that used tokens: their sum */
static void printusagetotal(FILE *f, struct plan *p, struct suitesum *sum)
{
	struct usagesum all = {0};
	size_t n = 0;
	char in[16], out[16];

	for (size_t i = 0; i < p->nsp; i++) {
		n += sum[i].usage.cells > 0;
		all.intokens += sum[i].usage.intokens;
		all.outtokens += sum[i].usage.outtokens;
		all.cost += sum[i].usage.cost;
		all.priced += sum[i].usage.priced;
	}
	if (n < 2)
		return;
	fmttokens(in, sizeof(in), all.intokens);
	fmttokens(out, sizeof(out), all.outtokens);
	fprintf(f, "total: %s input and %s output tokens", in, out);
	if (all.priced)
		fprintf(f, ", $%.4f", all.cost);
	fputc('\n', f);
}

void printtable(FILE *f, struct plan *p, struct suitesum *sum, const struct reportopts *o)
{
	int w = 5;
	int anypending = 0, anyregraded = 0, anygraders = 0, anyremote = 0, anytokens = 0, anycost = 0;

	for (size_t i = 0; i < p->nsp; i++) {
		int n = (int)strlen(p->sp[i].suite->name);
		if (n > w)
			w = n;
		anypending |= sum[i].pending > 0;
		anyregraded |= sum[i].regraded > 0;
		anyremote |= sum[i].remote > 0;
		anygraders |= sum[i].gscore != NULL;
		anytokens |= sum[i].usage.cells > 0;
		anycost |= sum[i].usage.priced > 0;
	}
	if (o->title)
		fprintf(f, "%s\n", o->title);
	fprintf(f, "%s%-*s  %6s  %7s  %5s  %5s  %5s  %6s%s%s  %6s%s%s%s%s\n", col(o, "\033[1m"), w, "suite", "score",
	        "stderr", "tasks", "cells", "ran", "cached", anyremote ? "  remote" : "", anyregraded ? "  regraded" : "",
	        "errors", anypending ? "  pending" : "",
	        anytokens ? (anycost ? "  tokens in/out      cost" : "  tokens in/out") : "",
	        anygraders ? "  graders" : "", col(o, "\033[0m"));
	for (size_t i = 0; i < p->nsp; i++) {
		struct suitesum *s = &sum[i];
		char score[32], se[32];
		if (s->scoredtasks) {
			snprintf(score, sizeof(score), "%.3f", s->score);
			if (isnan(s->se)) /* one task (or cluster): no spread to estimate from */
				snprintf(se, sizeof(se), "n/a");
			else
				snprintf(se, sizeof(se), "±%.3f", s->se);
		} else {
			snprintf(score, sizeof(score), "-");
			snprintf(se, sizeof(se), "-");
		}
		double th = s->sp->suite->threshold;
		const char *sc = th >= 0 && s->scoredtasks ? (s->score >= th ? "\033[32m" : "\033[31m") : "";
		fprintf(f, "%-*s  %s%6s%s  %7s  %5zu  %5zu  %5zu  %6zu", w, s->sp->suite->name, col(o, sc), score,
		        col(o, *sc ? "\033[0m" : ""), se, s->tasks, s->cells, s->ran, s->cached);
		if (anyremote)
			fprintf(f, "  %6zu", s->remote);
		if (anyregraded)
			fprintf(f, "  %8zu", s->regraded);
		fprintf(f, "  %s%6zu%s", col(o, s->errors ? "\033[31m" : ""), s->errors, col(o, s->errors ? "\033[0m" : ""));
		if (anypending)
			fprintf(f, "  %7zu", s->pending);
		if (anytokens) {
			/* the tokens of its cells with a stored run; cost by pricing */
			char in[16], out[16], both[40], cost[24] = "-";
			fmttokens(in, sizeof(in), s->usage.intokens);
			fmttokens(out, sizeof(out), s->usage.outtokens);
			snprintf(both, sizeof(both), "%s/%s", in, out);
			if (s->usage.priced)
				snprintf(cost, sizeof(cost), "$%.4f", s->usage.cost);
			fprintf(f, "  %-13s", s->usage.cells ? both : "-");
			if (anycost)
				fprintf(f, "  %8s", cost);
		}
		/* several graders: each one's score, "exact 0.667  judged 1.000" */
		for (size_t g = 0; s->gscore && g < s->sp->suite->ngraders; g++) {
			if (isnan(s->gscore[g]))
				fprintf(f, "  %s -", suitegrader(s->sp->suite, g)->name);
			else
				fprintf(f, "  %s %.3f", suitegrader(s->sp->suite, g)->name, s->gscore[g]);
		}
		printbars(f, s);
		printpartial(f, s, o);
		fputc('\n', f);
	}
	if (anytokens)
		printusagetotal(f, p, sum);
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
		printflaky(f, p, s, o);
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
/* a usage object: tokens, cells, and the cost when priced */
static cJSON *usagejson(const struct usagesum *s)
{
	cJSON *u = cJSON_CreateObject();

	cJSON_AddNumberToObject(u, "input_tokens", (double)s->intokens);
	cJSON_AddNumberToObject(u, "output_tokens", (double)s->outtokens);
	cJSON_AddNumberToObject(u, "cells", (double)s->cells);
	if (s->priced)
		cJSON_AddNumberToObject(u, "cost_usd", round(s->cost * 1e6) / 1e6);
	return u;
}

/* full < 0: the JSON report; 0 or 1: a watch line saying "full" (0: only
 * the cells changed marks) */
static void streamreport(struct sink *k, struct plan *p, struct suitesum *sum, char *const *trigger, int full,
                         const unsigned char *changed)
{
	cJSON *r = cJSON_CreateObject();
	size_t ran = 0, cached = 0, errors = 0, regraded = 0, remote = 0;
	char hx[33];

	for (size_t i = 0; i < p->nsp; i++) {
		ran += sum[i].ran;
		cached += sum[i].cached;
		regraded += sum[i].regraded;
		remote += sum[i].remote;
		errors += sum[i].errors;
	}
	cJSON_AddNumberToObject(r, "version", 1);
	cJSON_AddNumberToObject(r, "ran", (double)ran);
	cJSON_AddNumberToObject(r, "cached", (double)cached);
	cJSON_AddNumberToObject(r, "remote", (double)remote);
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
		if (sp->suite->cluster) { /* stderr is the clustered one */
			cJSON_AddStringToObject(so, "cluster", sp->suite->cluster);
			cJSON_AddNumberToObject(so, "clusters", (double)s->clusters);
			cJSON_AddItemToObject(so, "stderr_tasks", num(s->setasks));
		}
		if (!isnan(s->cilo)) {
			cJSON *ci = cJSON_AddArrayToObject(so, "ci95");
			cJSON_AddItemToArray(ci, num(s->cilo));
			cJSON_AddItemToArray(ci, num(s->cihi));
			cJSON_AddStringToObject(so, "ci_method", "wilson");
		}
		if (sp->suite->reduce != REDUCE_MEAN) {
			char *rn = reducename(sp->suite->reduce, sp->suite->reducek);
			cJSON_AddStringToObject(so, "reduce", rn);
			free(rn);
		}
		cJSON_AddNumberToObject(so, "flaky", (double)s->flaky);
		if (s->gscore)
			cJSON_AddItemToObject(so, "scores", gradersjson(sp, s->gscore));
		if (sp->suite->threshold >= 0)
			cJSON_AddNumberToObject(so, "threshold", sp->suite->threshold);
		cJSON_AddNumberToObject(so, "tasks_total", (double)s->tasks);
		cJSON_AddNumberToObject(so, "cells_total", (double)s->cells);
		cJSON_AddNumberToObject(so, "ran", (double)s->ran);
		cJSON_AddNumberToObject(so, "cached", (double)s->cached);
		cJSON_AddNumberToObject(so, "remote", (double)s->remote);
		cJSON_AddNumberToObject(so, "errors", (double)s->errors);
		if (suitepartial(s))
			cJSON_AddBoolToObject(so, "partial", 1);
		cJSON_AddNumberToObject(so, "regraded", (double)s->regraded);
		if (s->usage.cells)
			cJSON_AddItemToObject(so, "usage", usagejson(&s->usage));
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
			cJSON_AddBoolToObject(to, "flaky", s->taskflaky[c0->taskno]);
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
				cJSON_AddStringToObject(co, "status",
				                        c->status == CELL_CACHED && c->fetched ? "remote" : statusname(c->status));
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
				/* not started: a bound of the run was reached (run.h) */
				static const char *const notrun[] = {[STOP_STDERR] = "until-stderr", [STOP_CELLS] = "max-cells",
				                                     [STOP_COST] = "max-cost"};
				if (c->status == CELL_PENDING && c->stopped)
					cJSON_AddStringToObject(co, "not_run", notrun[c->stopped]);
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
	puts_(k, "]");
	struct usagesum all = {0};
	for (size_t i = 0; i < p->nsp; i++) {
		all.intokens += sum[i].usage.intokens;
		all.outtokens += sum[i].usage.outtokens;
		all.cells += sum[i].usage.cells;
		all.cost += sum[i].usage.cost;
		all.priced += sum[i].usage.priced;
	}
	if (all.cells) {
		cJSON *u = cJSON_CreateObject();
		cJSON_AddItemToObject(u, "usage", usagejson(&all));
		puts_(k, ",");
		char *t = cJSON_PrintUnformatted(u);
		put(k, t + 1, strlen(t) - 2); /* "usage":{...} without the braces around it */
		cJSON_free(t);
		cJSON_Delete(u);
	}
	puts_(k, "}");
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

