/* check: see check.h. The order matters: everything that can be bad usage
 * (options, the baseline file, the Evalfile, targets) is checked before
 * any cell runs, so exit 2 always means nothing ran. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/check.h"
#include "report/ci.h"
#include "report/gate.h"
#include "store/history.h"
#include "store/lock.h"
#include "report/report.h"
#include "report/results.h"
#include "run/run.h"
#include "core/util.h"

/* write text to path atomically ("-": stdout); a warning on failure */
static int writeout(const char *path, const char *text)
{
	if (!strcmp(path, "-"))
		return fputs(text, stdout) < 0 ? -1 : 0;
	if (writefile(path, text, strlen(text)) < 0) {
		warn("cannot write %s:", path);
		return -1;
	}
	return 0;
}

int cmdcheck(struct opts *o)
{
	struct project pr = {0};
	struct results base = {0}, cur = {0};
	struct gates g = {0};
	struct plan *p = NULL;
	struct suitesum *sum = NULL;
	size_t stale = 0;
	int rc = 0, hasbase = 0, outfail = 0;
	char *err;

	if (o->dryrun || o->question)
		die("check: -n and -q do not apply (use `evalmake -n` or `evalmake -q`)");
	if (o->locked && o->rebuild)
		die("check: --locked runs nothing, -B rebuilds everything: choose one");
	if (o->locked && o->shard.n)
		die("check: --locked runs nothing, --shard splits what runs: choose one");
	if (o->maxdrop >= 0 && !o->baseline)
		die("check: --max-drop needs --baseline FILE.json");
	/* paths are the user's, relative to where evalmake started */
	char *cwd = getcwd(NULL, 0);
	if (!cwd)
		die("getcwd:");
	char *baseline = absfrom(cwd, o->baseline), *junit = absfrom(cwd, o->junit);
	char *markdown = absfrom(cwd, o->markdown);
	free(cwd);
	if (baseline) {
		if (loadresults(baseline, &base, &err) < 0)
			die("check: --baseline: %s", err);
		hasbase = 1;
	}

	openproject(o, &pr);
	struct planopts po = {.targets = o->args, .ntargets = o->nargs, .iterations = o->iterations,
	                      .sample = o->sample, .rebuild = o->rebuild};
	p = planor2(&pr, &po);
	char *title = NULL;
	if (o->shard.n) {
		size_t total, mine = applyshard(p, &o->shard, &total);
		title = shardtitle(&o->shard, mine, total);
	}
	/* with a report on stdout, stdout is for it alone: the words go to stderr */
	int tostdout = (o->json && !strcmp(o->json, "-")) || (junit && !strcmp(junit, "-")) ||
	               (markdown && !strcmp(markdown, "-"));
	FILE *out = tostdout ? stderr : stdout;
	if (o->locked) {
		/* nothing runs, but what the remote cache has is fetched, so
		 * that `log` shows the cells the lock scores */
		struct loop *l = mkloop();
		struct remote *rem = openremote(o, &pr, l);
		fetchcells(p, rem, 0);
		int remfailed = remotefailed(rem);
		freeremote(rem);
		freeloop(l);
		if (remfailed) {
			rc = EXIT_USAGE;
			goto out;
		}
		char *path = lockpath(pr.ef);
		int full = !o->nargs && !o->sample && !o->iterations;
		rc = applylock(p, path, full, o->verbose, out, &stale, &err);
		if (rc) {
			fprintf(stderr, "evalmake: check --locked: %s\n", err);
			free(err);
			free(path);
			goto out;
		}
		if (stale)
			fprintf(out, "check: %s does not match the current inputs: %zu stale cell%s (run evalmake, then evalmake "
			       "lock)\n", path, stale, stale == 1 ? "" : "s");
		free(path);
	} else if ((rc = runcells(o, &pr, p)) == EXIT_USAGE) {
		goto out;
	}
	savestate(pr.st);
	sum = summarize(p);
	if (!o->locked && !o->shard.n) /* a shard's: see main.c */
		appendhistory(pr.cache, p, sum, "check", o->nargs || o->sample || o->iterations);
	if (!o->silent) {
		struct reportopts ro = {.color = usecolor(out), .verbose = o->verbose,
		                        .title = o->locked ? "scores from the lock:" : title};
		printtable(out, p, sum, &ro);
	}
	if (rc == EXIT_INTR)
		fprintf(stderr, "evalmake: interrupted: finished cells are stored, the rest are pending\n");

	planresults(p, sum, &cur);
	struct gateopts go = {.minscore = o->minscore, .maxdrop = o->maxdrop, .base = hasbase ? &base : NULL};
	/* a shard sees part of the cells: its scores gate nothing; the final
	 * run over the shared cache checks the thresholds */
	if (o->shard.n) {
		if (!o->silent)
			fprintf(out, "check: shard %d/%d: %s; the gates are checked by the final run over every shard's "
			        "results\n", o->shard.k, o->shard.n, cur.errors ? "some of its cells errored" : "its cells are done");
	} else {
		evalgates(&cur, &go, &g);
	}
	for (size_t i = 0; i < g.n; i++)
		if (g.v[i].failed || !o->silent)
			fprintf(out, "%s\n", g.v[i].line);
	if (stale && !g.failed)
		fprintf(out, "check: FAILED: the lock is stale (its scores pass %s %zu gate%s)\n", g.n == 1 ? "its" : "all", g.n,
		        g.n == 1 ? "" : "s");
	else if (g.failed)
		fprintf(out, "check: FAILED: %s%zu of %zu gate%s failed\n", stale ? "the lock is stale, and " : "", g.failed, g.n,
		       g.n == 1 ? "" : "s");
	else if (!o->silent && !g.n && !o->shard.n)
		fprintf(out, "check: passed: no gate applies (give a suite a threshold, or use --min-score or --baseline)\n");
	else if (!o->silent)
		fprintf(out, "check: passed: %s%zu gate%s hold%s\n", g.n > 1 ? "all " : "", g.n, g.n == 1 ? "" : "s",
		       g.n == 1 ? "s" : "");

	if (o->json && writejson(p, sum, o->json) < 0) {
		warn("cannot write %s:", o->json);
		outfail = 1;
	}
	if (junit) {
		char *xml = junitxml(p, sum, &g);
		outfail |= writeout(junit, xml) < 0;
		free(xml);
	}
	const char *ghs = getenv("GITHUB_STEP_SUMMARY");
	if (markdown || (ghs && ghs[0])) {
		char *md = markdownsummary(&cur, hasbase ? &base : NULL, &g, stale, cur.errors > 0);
		if (markdown)
			outfail |= writeout(markdown, md) < 0;
		if (ghs && ghs[0] && appendto(ghs, md) < 0) {
			warn("cannot append to $GITHUB_STEP_SUMMARY (%s):", ghs);
			outfail = 1;
		}
		free(md);
	}
	if (rc != EXIT_INTR && (g.failed || stale || cur.errors || outfail))
		rc = EXIT_GATE;
out:
	free(title);
	freegates(&g);
	freeresults(&cur);
	freeresults(&base);
	if (sum)
		freesummary(p, sum);
	freeplan(p);
	closeproject(&pr);
	free(baseline);
	free(junit);
	free(markdown);
	return rc;
}
