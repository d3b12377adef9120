/* ci: see ci.h. All text from agents and task files passes through
 * markup.h before it reaches XML or Markdown. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/ci.h"
#include "report/markup.h"
#include "core/util.h"

#define GOTMAX 2000     /* bytes of an output quoted in a <failure> */
#define FLIPROWS 50     /* flipped tasks listed in the Markdown summary */

/* an attribute value */
static void x(struct buf *b, const char *s)
{
	bufaddxml(b, s, strlen(s), 1);
}

/* the task's expected answers, "a | b" */
static char *expectedtext(struct task *t)
{
	char *err = NULL;
	struct buf b = {0};

	if (loadtask(t, &err) < 0) {
		free(err);
		return xstrdup("?");
	}
	for (size_t i = 0; i < t->expected.n; i++) {
		char *e = xstrdup(t->expected.v[i]);
		bufaddf(&b, "%s%s", i ? " | " : "", trim(e));
		free(e);
	}
	return b.len ? bufdetach(&b) : xstrdup("(none)");
}

/* a cell's stored output, cut at GOTMAX bytes */
static char *celloutput(struct plan *p, const struct cell *c)
{
	char *out = entrypart(p->store, c->runkey, "output", NULL);
	char *r;

	if (!out)
		return xstrdup("(output not in the cache)");
	char *t0 = trim(out);
	r = utf8cut(t0, GOTMAX);
	if (strlen(t0) > GOTMAX) {
		char *t = xasprintf("%s [... %zu more bytes]", r, strlen(t0) - GOTMAX);
		free(r);
		r = t;
	}
	free(out);
	return r;
}

/* a task's <testcase>: an <error> when a cell errored; a <failure> when
 * it scored below 1 and a gate of its suite failed (gatefailed); below 1
 * under gates that hold, it passes with its score, expected and got in
 * <system-out>, so the report is as green or red as check's exit status */
/* a gate's <testcase> (name "gate: threshold 0.8"), failing with check's
 * line for it, which names the suite's failing tasks */
static void gatecase(struct buf *b, const char *suite, const struct gate *gt)
{
	char *nm = gatename(gt);

	bufadds(b, "    <testcase classname=\"");
	x(b, suite);
	bufadds(b, "\" name=\"gate: ");
	x(b, nm);
	bufadds(b, "\" time=\"0.000\"");
	free(nm);
	if (!gt->failed) {
		bufadds(b, "/>\n");
		return;
	}
	bufadds(b, ">\n      <failure type=\"gate\" message=\"");
	x(b, gt->line);
	bufadds(b, "\">");
	bufaddxml(b, gt->line, strlen(gt->line), 0);
	bufadds(b, "\n</failure>\n    </testcase>\n");
}

/* a flaky task that does not fail: one <flakyFailure> per iteration that
 * did not pass, as Maven Surefire writes a test that failed, then passed
 * on a rerun (GitHub's and GitLab's readers show them) */
static void flakycases(struct buf *b, struct plan *p, struct cell **cells, size_t n)
{
	size_t pass = 0, scored = 0;

	for (size_t i = 0; i < n; i++)
		if (cells[i]->scored) {
			scored++;
			pass += cells[i]->score >= 1;
		}
	for (size_t i = 0; i < n; i++) {
		const struct cell *c = cells[i];
		if (!c->scored || c->score >= 1)
			continue;
		char *got = celloutput(p, c);
		char *msg = xasprintf("flaky: #%d scored %.3g; %zu of %zu iterations pass", c->iteration, c->score, pass,
		                      scored);
		bufadds(b, "      <flakyFailure type=\"flaky\" message=\"");
		x(b, msg);
		bufadds(b, "\"><system-out>got: ");
		bufaddxml(b, got, strlen(got), 0);
		bufadds(b, "</system-out></flakyFailure>\n");
		free(msg);
		free(got);
	}
}

static void taskcase(struct buf *b, struct plan *p, struct suitesum *s, size_t ti, struct cell **cells, size_t n,
                     int gatefailed)
{
	const struct suiteplan *sp = s->sp;
	struct task *t = &sp->tasks.v[ti];
	double secs = 0, score = s->taskscore[ti];
	size_t errors = 0;

	for (size_t i = 0; i < n; i++) {
		secs += cells[i]->seconds;
		errors += cells[i]->status == CELL_ERROR;
	}
	bufadds(b, "    <testcase classname=\"");
	x(b, sp->suite->name);
	bufadds(b, "\" name=\"");
	x(b, t->id);
	bufaddf(b, "\" time=\"%.3f\"", secs);
	int flaky = s->taskflaky[ti] && !errors;
	if (!errors && score >= 1 && !s->gtaskscore && !flaky) {
		bufadds(b, "/>\n");
		return;
	}
	bufadds(b, ">\n");
	if (s->gtaskscore) { /* several graders: the task's score by each */
		size_t ng = sp->suite->ngraders;
		bufadds(b, "      <properties>\n");
		for (size_t g = 0; g < ng; g++) {
			double v = s->gtaskscore[ti * ng + g];
			if (v < 0)
				continue;
			bufadds(b, "        <property name=\"score: ");
			x(b, suitegrader(sp->suite, g)->name);
			bufaddf(b, "\" value=\"%.6g\"/>\n", v);
		}
		bufadds(b, "      </properties>\n");
	}
	if (flaky && (score >= 1 || !gatefailed))
		flakycases(b, p, cells, n);
	if (!errors && score >= 1) {
		bufadds(b, "    </testcase>\n");
		return;
	}
	if (errors) {
		bufaddf(b, "      <error type=\"error\" message=\"%zu of %zu cell%s errored\">", errors, n, n == 1 ? "" : "s");
		for (size_t i = 0; i < n; i++) {
			if (cells[i]->status != CELL_ERROR)
				continue;
			char *l = xasprintf("%s: %s\n", cells[i]->id, cells[i]->error ? cells[i]->error : "error");
			bufaddxml(b, l, strlen(l), 0);
			free(l);
		}
		bufadds(b, "</error>\n");
	} else if (score < 0) {
		bufadds(b, "      <skipped message=\"no cell scored\"/>\n");
	} else {
		char *exp = expectedtext(t);
		struct buf body = {0};
		char *msg = NULL;
		bufaddf(&body, "expected: %s\n", exp);
		for (size_t i = 0; i < n; i++) {
			const struct cell *c = cells[i];
			if (!c->scored || c->score >= 1)
				continue;
			char *got = celloutput(p, c);
			const struct graderec *g = c->need != NEED_RUN ? findgrade(p->store, c->gradekey, 1) : NULL;
			bufaddf(&body, "#%d score %.3g\ngot: %s\n", c->iteration, c->score, got);
			if (g && g->reason && g->reason[0])
				bufaddf(&body, "reason: %s\n", g->reason);
			for (size_t k = 0; c->gradekeys && k < sp->suite->ngraders; k++) {
				const struct graderec *gk = findgrade(p->store, c->gradekeys[k], 1);
				if (gk)
					bufaddf(&body, "%s: %.3g%s%s\n", suitegrader(sp->suite, k)->name, gk->score,
					        gk->reason && gk->reason[0] ? "  " : "", gk->reason ? gk->reason : "");
			}
			if (!msg) {
				char *line = gotline(p, c);
				char *e1 = utf8cut(exp, 200);
				msg = xasprintf("score %.3g < 1%s: expected \"%s\", got \"%s\"", score,
				                flaky ? " (flaky: its iterations disagree)" : "", e1, line);
				free(e1);
				free(line);
			}
			free(got);
		}
		if (gatefailed) {
			bufadds(b, "      <failure type=\"score\" message=\"");
			x(b, msg ? msg : "score below 1");
			bufadds(b, "\">");
			bufaddxml(b, body.s, body.len, 0);
			bufadds(b, "</failure>\n");
		} else {
			bufaddf(b, "      <system-out>score %.3g, below 1; the suite's gates hold\n", score);
			bufaddxml(b, body.s, body.len, 0);
			bufadds(b, "</system-out>\n");
		}
		free(msg);
		buffree(&body);
		free(exp);
	}
	bufadds(b, "    </testcase>\n");
}

char *junitxml(struct plan *p, struct suitesum *sum, const struct gates *g)
{
	struct buf b = {0}, suites = {0};
	size_t tt = 0, tf = 0, te = 0, ts = 0;
	double ttime = 0;

	for (size_t i = 0; i < p->nsp; i++) {
		struct suitesum *s = &sum[i];
		const struct suiteplan *sp = s->sp;
		size_t ntasks = sp->tasks.n;
		struct cell ***bytask = xcalloc(ntasks + 1, sizeof(*bytask));
		size_t *nby = xcalloc(ntasks + 1, sizeof(*nby));
		size_t tests = 0, failures = 0, errors = 0, skipped = 0;
		double secs = 0;
		struct buf cases = {0};

		for (size_t j = 0; j < p->ncells; j++) {
			struct cell *c = &p->cells[j];
			if (c->sp != sp)
				continue;
			bytask[c->taskno] = xrealloc(bytask[c->taskno], (nby[c->taskno] + 1) * sizeof(struct cell *));
			bytask[c->taskno][nby[c->taskno]++] = c;
			secs += c->seconds;
		}
		size_t ng;
		const struct gate *gs = suitegates(g, sp->suite->name, &ng);
		int gatefailed = 0;
		for (size_t k = 0; k < ng; k++) {
			gatecase(&cases, sp->suite->name, &gs[k]);
			tests++;
			failures += gs[k].failed != 0;
			gatefailed |= gs[k].failed;
		}
		for (size_t t = 0; t < ntasks; t++) {
			if (!nby[t])
				continue;
			int err = 0;
			for (size_t k = 0; k < nby[t]; k++)
				err |= bytask[t][k]->status == CELL_ERROR;
			tests++;
			if (err)
				errors++;
			else if (s->taskscore[t] < 0)
				skipped++;
			else if (s->taskscore[t] < 1 && gatefailed)
				failures++;
			taskcase(&cases, p, s, t, bytask[t], nby[t], gatefailed);
			free(bytask[t]);
		}
		free(bytask);
		free(nby);
		bufadds(&suites, "  <testsuite name=\"");
		x(&suites, sp->suite->name);
		bufaddf(&suites, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n", tests,
		        failures, errors, skipped, secs);
		bufadds(&suites, "    <properties>\n");
		if (s->scoredtasks)
			bufaddf(&suites, "      <property name=\"score\" value=\"%.6g\"/>\n", s->score);
		if (s->scoredtasks && !isnan(s->se))
			bufaddf(&suites, "      <property name=\"stderr\" value=\"%.6g\"/>\n", s->se);
		if (s->flaky)
			bufaddf(&suites, "      <property name=\"flaky\" value=\"%zu\"/>\n", s->flaky);
		if (sp->suite->threshold >= 0)
			bufaddf(&suites, "      <property name=\"threshold\" value=\"%.6g\"/>\n", sp->suite->threshold);
		for (size_t k = 0; s->gscore && k < sp->suite->ngraders; k++) {
			if (isnan(s->gscore[k]))
				continue;
			bufadds(&suites, "      <property name=\"score: ");
			x(&suites, suitegrader(sp->suite, k)->name);
			bufaddf(&suites, "\" value=\"%.6g\"/>\n", s->gscore[k]);
		}
		for (size_t k = 0; k < ng; k++) {
			char *nm = gatename(&gs[k]);
			bufadds(&suites, "      <property name=\"gate: ");
			x(&suites, nm);
			bufadds(&suites, "\" value=\"");
			x(&suites, gs[k].line);
			bufadds(&suites, "\"/>\n");
			free(nm);
		}
		bufadds(&suites, "    </properties>\n");
		bufadd(&suites, cases.s ? cases.s : "", cases.len);
		bufadds(&suites, "  </testsuite>\n");
		buffree(&cases);
		tt += tests;
		tf += failures;
		te += errors;
		ts += skipped;
		ttime += secs;
	}
	bufadds(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	/* no skipped= here: Jenkins' schema (junit-10.xsd) has it on
	 * <testsuite> only */
	(void)ts;
	bufaddf(&b, "<testsuites name=\"evalmake\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"%.3f\">\n", tt,
	        tf, te, ttime);
	bufadd(&b, suites.s ? suites.s : "", suites.len);
	bufadds(&b, "</testsuites>\n");
	buffree(&suites);
	return bufdetach(&b);
}

static void md(struct buf *b, const char *s)
{
	bufaddmdcell(b, s);
}

char *markdownsummary(const struct results *cur, const struct results *base, const struct gates *g, size_t stale,
                      int errors)
{
	struct buf b = {0};
	int ok = !g->failed && !stale && !errors;

	bufaddf(&b, "### evalmake check: %s\n\n", ok ? "passed ✅" : "failed ❌");
	if (stale)
		bufaddf(&b, "The lock does not match the current inputs: %zu stale cell%s (run `evalmake`, then "
		            "`evalmake lock`).\n\n", stale, stale == 1 ? "" : "s");
	bufadds(&b, base ? "| suite | score | stderr | baseline | Δ | tasks | cells | errors | gates |\n"
	                   "|:--|--:|--:|--:|:--|--:|--:|--:|:--|\n"
	                 : "| suite | score | stderr | tasks | cells | errors | gates |\n"
	                   "|:--|--:|--:|--:|--:|--:|:--|\n");
	for (size_t i = 0; i < cur->nsuites; i++) {
		const struct suiteres *s = &cur->suites[i];
		bufadds(&b, "| ");
		md(&b, s->name);
		if (isnan(s->score))
			bufadds(&b, " | - | - |");
		else
			bufaddf(&b, isnan(s->se) ? " | %.3f%s | n/a |" : " | %.3f%s | ±%.3f |", s->score,
			        s->partial ? " (partial)" : "", s->se);
		if (base) {
			const struct suiteres *bs = findsuiteres(base, s->name);
			size_t ng;
			const struct gate *gs = suitegates(g, s->name, &ng);
			const struct gate *dg = NULL;
			for (size_t k = 0; k < ng; k++)
				if (gs[k].kind == GATE_MAXDROP)
					dg = &gs[k];
			if (!bs || isnan(bs->score) || isnan(s->score))
				bufadds(&b, " - | - |");
			else
				bufaddf(&b, " %.3f | %+.3f%s |", bs->score, s->score - bs->score,
				        dg && dg->test.n ? (dg->test.significant ? " (significant)" : " (within noise)") : "");
		}
		bufaddf(&b, " %zu | %zu | %zu | ", s->ntasks, s->cells, s->errors);
		size_t ng;
		const struct gate *gs = suitegates(g, s->name, &ng);
		for (size_t k = 0; k < ng; k++) {
			char *nm = gatename(&gs[k]);
			bufaddf(&b, "%s%s ", k ? ", " : "", gs[k].failed ? "❌" : "✅");
			md(&b, nm);
			free(nm);
		}
		if (!ng)
			bufadds(&b, "none");
		bufadds(&b, " |\n");
	}
	if (g->failed) {
		bufadds(&b, "\n**Failed gates**\n\n");
		for (size_t k = 0; k < g->n; k++) {
			if (!g->v[k].failed)
				continue;
			bufadds(&b, "- ");
			md(&b, g->v[k].line);
			bufadds(&b, "\n");
		}
	}
	if (base) {
		size_t rows = 0, total = 0;
		struct buf t = {0};
		for (size_t i = 0; i < cur->nsuites; i++) {
			const struct suiteres *bs = findsuiteres(base, cur->suites[i].name);
			if (!bs)
				continue;
			struct flip *f;
			size_t nfail, nf = flips(bs, &cur->suites[i], &f, &nfail);
			for (size_t k = 0; k < nf; k++, total++) {
				if (rows++ >= FLIPROWS)
					continue;
				bufadds(&t, "| ");
				md(&t, cur->suites[i].name);
				bufadds(&t, " | ");
				md(&t, f[k].id);
				bufaddf(&t, " | %.3f | %.3f | %s |\n", f[k].old, f[k].new, k < nfail ? "pass → fail" : "fail → pass");
			}
			free(f);
		}
		if (total) {
			bufaddf(&b, "\n<details><summary>%zu task%s flipped against the baseline</summary>\n\n", total,
			        total == 1 ? "" : "s");
			bufadds(&b, "| suite | task | baseline | now | |\n|:--|:--|--:|--:|:--|\n");
			bufadd(&b, t.s, t.len);
			if (total > FLIPROWS)
				bufaddf(&b, "\n... and %zu more (`evalmake diff` lists all)\n", total - FLIPROWS);
			bufadds(&b, "\n</details>\n");
		} else {
			bufadds(&b, "\nNo task flipped against the baseline.\n");
		}
		buffree(&t);
	}
	bufadds(&b, "\n");
	return bufdetach(&b);
}

int appendto(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	size_t n = strlen(text);
	ssize_t w;

	if (fd < 0)
		return -1;
	do
		w = write(fd, text, n);
	while (w < 0 && errno == EINTR);
	int err = errno;
	close(fd);
	errno = err;
	return w == (ssize_t)n ? 0 : -1;
}
