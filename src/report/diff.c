/* diff: see diff.h. Both sides are results (results.h), so a report saved
 * from main and the cache of a working tree compare the same way. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "report/diff.h"
#include "report/markup.h"
#include "report/report.h"
#include "report/results.h"
#include "report/stats.h"
#include "core/util.h"

/* a suite's score and standard error as two table columns */
static void fmtscore(char *out, size_t n, const struct suiteres *s)
{
	char se[32];

	if (!s || isnan(s->score)) {
		snprintf(out, n, "%6s  %7s", "-", "-");
		return;
	}
	if (isnan(s->se)) /* one task: no spread to estimate from */
		snprintf(se, sizeof(se), "n/a");
	else
		snprintf(se, sizeof(se), "±%.3f", s->se);
	snprintf(out, n, isnan(s->se) ? "%6.3f  %7s" : "%6.3f  %8s", s->score, se); /* '±' is two bytes */
}

static cJSON *jnum(double v)
{
	return isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(round(v * 1e6) / 1e6);
}

static cJSON *jscore(const struct suiteres *s)
{
	if (!s)
		return cJSON_CreateNull();
	cJSON *o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "score", jnum(s->score));
	cJSON_AddItemToObject(o, "stderr", jnum(s->se));
	cJSON_AddNumberToObject(o, "tasks", (double)s->ntasks);
	return o;
}

/* compare the suites of old and new: print to f, and fill j */
static void diffresults(FILE *f, const struct results *old, const struct results *new, cJSON *j)
{
	int w = 5;
	const struct suiteres **os = xcalloc(old->nsuites + new->nsuites + 1, sizeof(*os));
	const struct suiteres **ns = xcalloc(old->nsuites + new->nsuites + 1, sizeof(*ns));
	size_t n = 0, nflips = 0, nfailed = 0;

	/* the new run's suites in its order, then those only the old one had */
	for (size_t i = 0; i < new->nsuites; i++) {
		ns[n] = &new->suites[i];
		os[n++] = findsuiteres(old, new->suites[i].name);
	}
	for (size_t i = 0; i < old->nsuites; i++)
		if (!findsuiteres(new, old->suites[i].name))
			os[n++] = &old->suites[i];
	for (size_t i = 0; i < n; i++) {
		const char *name = ns[i] ? ns[i]->name : os[i]->name;
		if ((int)strlen(name) > w)
			w = (int)strlen(name);
	}
	cJSON *js = cJSON_AddArrayToObject(j, "suites");
	cJSON *jf = cJSON_AddArrayToObject(j, "flips");
	fprintf(f, "%-*s  %6s  %7s  %6s  %7s  %6s\n", w, "suite", "old", "stderr", "new", "stderr", "delta");
	for (size_t i = 0; i < n; i++) {
		const struct suiteres *o = os[i], *s = ns[i];
		char a[64], b[64], d[32] = "";
		cJSON *so = cJSON_CreateObject();
		cJSON_AddItemToArray(js, so);
		cJSON_AddStringToObject(so, "name", s ? s->name : o->name);
		cJSON_AddItemToObject(so, "old", jscore(o));
		cJSON_AddItemToObject(so, "new", jscore(s));
		fmtscore(a, sizeof(a), o);
		fmtscore(b, sizeof(b), s);
		if (!o || !s || isnan(o->score) || isnan(s->score)) {
			cJSON_AddNullToObject(so, "delta");
			fprintf(f, "%-*s  %s  %s  %6s  %s\n", w, s ? s->name : o->name, a, b, "-",
			       !o ? "(only in NEW)" : !s ? "(only in OLD)"
			       : isnan(s->score) ? "(nothing scored in NEW: run evalmake?)" : "(nothing scored in OLD)");
			continue;
		}
		double *x, *y;
		struct pairedtest t;
		size_t ns2 = sharedscores(o, s, &x, &y);
		pairedtest(x, y, ns2, &t);
		free(x);
		free(y);
		double delta = s->score - o->score;
		snprintf(d, sizeof(d), "%+.3f", delta);
		char *tl = testline(&t);
		fprintf(f, "%-*s  %s  %s  %6s  %s\n", w, s->name, a, b, d, tl);
		free(tl);
		cJSON_AddItemToObject(so, "delta", jnum(delta));
		cJSON *jt = cJSON_AddObjectToObject(so, "paired");
		cJSON_AddNumberToObject(jt, "tasks", (double)t.n);
		cJSON_AddItemToObject(jt, "delta", jnum(t.delta));
		cJSON *ci = cJSON_AddArrayToObject(jt, "ci95");
		cJSON_AddItemToArray(ci, jnum(t.lo));
		cJSON_AddItemToArray(ci, jnum(t.hi));
		cJSON_AddNumberToObject(jt, "worse", (double)t.worse);
		cJSON_AddNumberToObject(jt, "better", (double)t.better);
		cJSON_AddItemToObject(jt, "sign_p", jnum(t.psign));
		cJSON_AddBoolToObject(jt, "significant", t.significant);
		cJSON_AddItemToObject(jt, "mde", jnum(t.mde)); /* the change it could detect at 80% power */
	}
	/* the flips, pass -> fail first */
	for (int pass = 0; pass < 2; pass++) {
		size_t shown = 0;
		for (size_t i = 0; i < n; i++) {
			if (!os[i] || !ns[i])
				continue;
			struct flip *fl;
			size_t nfail, nf = flips(os[i], ns[i], &fl, &nfail);
			size_t from = pass ? nfail : 0, to = pass ? nf : nfail;
			for (size_t k = from; k < to; k++) {
				if (!shown++)
					fprintf(f, "%s:\n", pass ? "fail -> pass" : "pass -> fail");
				fprintf(f, "  %s/%s  %.3f -> %.3f\n", ns[i]->name, fl[k].id, fl[k].old, fl[k].new);
				cJSON *fo = cJSON_CreateObject();
				cJSON_AddStringToObject(fo, "suite", ns[i]->name);
				cJSON_AddStringToObject(fo, "task", fl[k].id);
				cJSON_AddItemToObject(fo, "old", jnum(fl[k].old));
				cJSON_AddItemToObject(fo, "new", jnum(fl[k].new));
				cJSON_AddStringToObject(fo, "now", pass ? "pass" : "fail");
				cJSON_AddItemToArray(jf, fo);
			}
			nflips += to - from;
			nfailed += pass ? 0 : to - from;
			free(fl);
		}
	}
	if (!nflips)
		fprintf(f, "no task flipped between pass and fail\n");
	else
		fprintf(f, "%zu task%s flipped: %zu pass -> fail, %zu fail -> pass\n", nflips, nflips == 1 ? "" : "s", nfailed,
		       nflips - nfailed);
	free(os);
	free(ns);
}

int cmddiff(struct opts *o)
{
	struct results old, new;
	struct project pr = {0};
	char *err;

	if (o->nargs < 1 || o->nargs > 2)
		die("diff: expected OLD.json [NEW.json] (NEW: the current cached state)");
	if (loadresults(o->args[0], &old, &err) < 0)
		die("diff: %s", err);
	if (o->nargs == 2) {
		if (loadresults(o->args[1], &new, &err) < 0)
			die("diff: %s", err);
	} else {
		openproject(o, &pr);
		struct planopts po = {.iterations = o->iterations, .sample = o->sample};
		struct plan *p = planor2(&pr, &po);
		struct suitesum *sum = summarize(p);
		planresults(p, sum, &new);
		freesummary(p, sum);
		freeplan(p);
		savestate(pr.st);
		closeproject(&pr);
	}
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "version", 1);
	/* with --json - the JSON owns stdout: the table goes to stderr */
	diffresults(o->json && !strcmp(o->json, "-") ? stderr : stdout, &old, &new, j);
	int rc = 0;
	if (o->json) {
		cleanjson(j); /* reports read back may come from anywhere */
		char *s = cJSON_PrintUnformatted(j);
		char *line = xasprintf("%s\n", s);
		cJSON_free(s);
		if (!strcmp(o->json, "-") ? fputs(line, stdout) < 0 : writefile(o->json, line, strlen(line)) < 0) {
			warn("cannot write %s:", o->json);
			rc = EXIT_GATE;
		}
		free(line);
	}
	cJSON_Delete(j);
	freeresults(&old);
	freeresults(&new);
	return rc;
}
