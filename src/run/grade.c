/* grade: the graders. Comparison works on copies prepared once per call
 * (trimmed, lower-cased when ignore_case); regexes are POSIX extended. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "run/grade.h"
#include "core/proc.h"
#include "core/util.h"

int gradeinline(const struct grader *g)
{
	return g->type != GRADE_COMMAND && g->type != GRADE_JUDGE;
}

static char *prep(const struct grader *g, const char *s)
{
	char *c = xstrdup(s), *t = g->trim ? trim(c) : c;
	char *r = xstrdup(t);

	free(c);
	if (g->ignore_case)
		for (char *p = r; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	return r;
}

/* the last number in s; -1 when there is none */
static int lastnumber(const char *s, double *v)
{
	int found = 0;

	for (const char *p = s; *p;) {
		char *end;
		if ((isdigit((unsigned char)*p) || ((*p == '-' || *p == '+' || *p == '.') && isdigit((unsigned char)p[1])))) {
			double d = strtod(p, &end);
			if (end > p) {
				*v = d;
				found = 1;
				p = end;
				continue;
			}
		}
		p++;
	}
	return found ? 0 : -1;
}

static char *shorten(const char *s)
{
	size_t n = strcspn(s, "\n");

	if (n > 60)
		return xasprintf("%.57s...", s);
	return xasprintf("%.*s%s", (int)n, s, s[n] ? "..." : "");
}

int gradenow(const struct grader *g, const char *output, const struct task *t, double *score, char **reason, char **err)
{
	char *out = prep(g, output);
	int ret = 0;

	*score = 0;
	*reason = NULL;
	*err = NULL;
	if (!t->expected.n && !(g->type == GRADE_REGEX && g->pattern)) {
		*err = xasprintf("task '%s' has no expected answer (a field expected, ideal, target or answer)", t->id);
		free(out);
		return -1;
	}
	if (g->type == GRADE_REGEX) {
		size_t n = g->pattern ? 1 : t->expected.n;
		for (size_t i = 0; i < n && *score == 0; i++) {
			const char *pat = g->pattern ? g->pattern : t->expected.v[i];
			regex_t re;
			int r = regcomp(&re, pat, REG_EXTENDED | REG_NOSUB | (g->ignore_case ? REG_ICASE : 0));
			if (r) {
				char e[128];
				regerror(r, &re, e, sizeof(e));
				*err = xasprintf("task '%s': invalid regular expression '%s': %s", t->id, pat, e);
				ret = -1;
				break;
			}
			/* ignore_case lower-cased out: REG_ICASE keeps the pattern's case harmless */
			if (regexec(&re, out, 0, NULL, 0) == 0)
				*score = 1;
			regfree(&re);
		}
		if (ret == 0 && *score == 0)
			*reason = xasprintf("no match for /%s/", g->pattern ? g->pattern : t->expected.v[0]);
		free(out);
		return ret;
	}
	if (g->type == GRADE_NUMERIC) {
		double got;
		if (lastnumber(out, &got) < 0) {
			*reason = xstrdup("no number in the output");
			free(out);
			return 0;
		}
		for (size_t i = 0; i < t->expected.n && *score == 0; i++) {
			char *end;
			double want = strtod(t->expected.v[i], &end);
			if (end == t->expected.v[i]) {
				*err = xasprintf("task '%s': expected answer '%s' is not a number", t->id, t->expected.v[i]);
				free(out);
				return -1;
			}
			double tol = g->relative ? g->tolerance * fabs(want) : g->tolerance;
			if (fabs(got - want) <= tol)
				*score = 1;
		}
		if (*score == 0)
			*reason = xasprintf("got %.17g, expected %s", got, t->expected.v[0]);
		free(out);
		return 0;
	}
	for (size_t i = 0; i < t->expected.n && *score == 0; i++) {
		char *want = prep(g, t->expected.v[i]);
		if (g->type == GRADE_EXACT ? !strcmp(out, want) : strstr(out, want) != NULL)
			*score = 1;
		free(want);
	}
	if (*score == 0) {
		char *w = shorten(t->expected.v[0]);
		*reason = xasprintf("%s \"%s\"", g->type == GRADE_EXACT ? "expected" : "does not contain", w);
		free(w);
	}
	free(out);
	return 0;
}

int parsegrade(const char *out, double *score, char **reason, char **err)
{
	char *copy = xstrdup(out), *line = NULL, *save = NULL;

	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (*trim(l))
			line = l;
	if (!line) {
		*err = xstrdup("the grader printed nothing: expected a score in [0,1] as its last line");
		free(copy);
		return -1;
	}
	line = trim(line);
	char *end;
	double v = strtod(line, &end);
	if (end == line || (*end && !isspace((unsigned char)*end)) || !(v >= 0 && v <= 1)) {
		char *s = shorten(line);
		*err = xasprintf("the grader's last line is '%s': expected a score in [0,1], then an optional reason", s);
		free(s);
		free(copy);
		return -1;
	}
	*score = v;
	*reason = xstrdup(trim(end));
	free(copy);
	return 0;
}

struct pending {
	gradedone done;
	void *arg;
	char **env;
};

static void ongraded(void *arg, struct procresult *r)
{
	struct pending *pg = arg;
	double score = 0;
	char *reason = NULL, *err = NULL;

	if (r->killed) {
		err = xstrdup("grader interrupted");
	} else if (r->timedout) {
		err = xstrdup("grader timed out");
	} else if (r->exitcode != 0) {
		char *last = r->errlen ? xstrdup(r->err) : xstrdup("");
		char *t = trim(last);
		char *nl = strrchr(t, '\n');
		err = xasprintf("grader exited with status %d%s%s", r->exitcode, *t ? ": " : "", nl ? nl + 1 : t);
		free(last);
	} else {
		parsegrade(r->out, &score, &reason, &err);
	}
	freeprocresult(r);
	for (char **e = pg->env; *e; e++)
		free(*e);
	free(pg->env);
	pg->done(pg->arg, score, reason, err);
	free(pg);
}

int gradestart(struct loop *l, const struct grader *g, const char *outputpath, const struct task *t, double timeout,
               gradedone done, void *arg, char **err)
{
	struct pending *pg = xcalloc(1, sizeof(*pg));
	cJSON *all = cJSON_CreateArray();

	for (size_t i = 0; i < t->expected.n; i++)
		cJSON_AddItemToArray(all, cJSON_CreateString(t->expected.v[i]));
	char *allj = cJSON_PrintUnformatted(all);
	cJSON_Delete(all);
	pg->env = xcalloc(3, sizeof(*pg->env));
	/* trim applies to what the script compares with, too */
	char *want = xstrdup(firstexpected(t));
	pg->env[0] = xasprintf("EVAL_EXPECTED=%s", g->trim ? trim(want) : want);
	free(want);
	pg->env[1] = xasprintf("EVAL_EXPECTED_JSON=%s", allj ? allj : "[]");
	cJSON_free(allj);
	pg->done = done;
	pg->arg = arg;
	struct procspec spec = {
		.command = g->command,
		.env = pg->env,
		.stdinpath = outputpath,
		.timeout = timeout,
		.outcap = 1 << 20,
		.errcap = 1 << 20,
	};
	if (!spawnproc(l, &spec, ongraded, pg, err)) {
		for (char **e = pg->env; *e; e++)
			free(*e);
		free(pg->env);
		free(pg);
		return -1;
	}
	return 0;
}

int parsejudge(const struct grader *g, const char *answer, double *score, char **err)
{
	char *copy = xstrdup(answer), *save = NULL, *last = NULL;
	int found = 0;

	*err = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *t = trim(l);
		if (!*t)
			continue;
		last = t;
		if (!strncasecmp(t, "SCORE:", 6)) {
			char *end;
			double v = strtod(t + 6, &end);
			if (end != t + 6 && v >= 0 && v <= 1) {
				*score = v;
				found = 1;
			}
		}
	}
	if (!found && g->choices.n && last) {
		char *pick = last;
		if (!strncasecmp(pick, "CHOICE:", 7))
			pick = trim(pick + 7);
		pick[strcspn(pick, " .)")] = '\0';
		for (size_t i = 0; i < g->choices.n; i++) {
			if (!strcasecmp(pick, g->choices.v[i])) {
				*score = g->choicescore[i];
				found = 1;
			}
		}
	}
	free(copy);
	if (!found)
		*err = xstrdup(g->choices.n ? "the judge named no known choice and gave no 'SCORE: x' line"
		                            : "the judge's answer has no 'SCORE: x' line with x in [0,1]");
	return found ? 0 : -1;
}

struct judging {
	const struct grader *g;
	gradedone done;
	void *arg;
};

static void onjudged(void *arg, struct modelresult *r)
{
	struct judging *jg = arg;
	double score = 0;
	char *err = NULL, *reason = NULL;

	if (r->error)
		err = xasprintf("judge: %s", r->error);
	else if (parsejudge(jg->g, r->text, &score, &err) == 0)
		reason = xstrndup(r->text, strlen(r->text) > 2000 ? 2000 : strlen(r->text));
	freemodelresult(r);
	jg->done(jg->arg, score, reason, err);
	free(jg);
}

int judgestart(struct providers *prov, const struct grader *g, const struct template *rubric, const char *output,
               const struct task *t, double timeout, gradedone done, void *arg, char **err)
{
	struct tmplvars v = {.input = t->input, .expected = firstexpected(t), .output = output, .fields = t->fields,
	                     .taskname = t->id};
	char *prompt = render(rubric, &v, err);

	if (!prompt)
		return -1;
	struct judging *jg = xcalloc(1, sizeof(*jg));
	jg->g = g;
	jg->done = done;
	jg->arg = arg;
	struct modelcall mc = {.a = &g->judge, .prompt = prompt, .seed = 0, .timeout = timeout};
	if (g->judge.system) {
		/* a judge's system prompt: a file's text, or the text itself */
		char *sys = readfile(g->judge.system, NULL);
		mc.system = sys ? sys : g->judge.system;
		int r = modelstart(prov, &mc, onjudged, jg, err);
		free(sys);
		free(prompt);
		if (r < 0)
			free(jg);
		return r;
	}
	int r = modelstart(prov, &mc, onjudged, jg, err);
	free(prompt);
	if (r < 0)
		free(jg);
	return r;
}
