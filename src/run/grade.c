/* grade: the graders. Comparison works on copies prepared once per call
 * (trimmed, lower-cased when ignore_case); regexes are PCRE2 (core/regex.h).
 *
 * Numbers are read as people write them, not as strtod does: "2,125" is
 * 2125, "$70,000" is 70000, "**18**." is 18, "3/4" is 0.75, "1e3" is 1000,
 * "50%" is 50; a hex "0x10" or "nan" is no number. Thousands separators are
 * commas (and the no-break and thin spaces typography uses) between groups
 * of exactly three digits; a plain space is not one ("1 000" is two
 * numbers), since outputs list numbers with spaces far more often than
 * they group digits with them. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "run/grade.h"
#include "load/choices.h"
#include "core/proc.h"
#include "core/util.h"
#include "run/sandbox.h"

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

/* the length of a digit-group separator at p (a comma, U+00A0, U+2009 or
 * U+202F) followed by exactly three digits; 0 when there is none */
static size_t groupsep(const char *p)
{
	size_t n = 0;

	if (*p == ',')
		n = 1;
	else if (!strncmp(p, "\xc2\xa0", 2))
		n = 2;
	else if (!strncmp(p, "\xe2\x80\xaf", 3) || !strncmp(p, "\xe2\x80\x89", 3))
		n = 3;
	if (n && isdigit((unsigned char)p[n]) && isdigit((unsigned char)p[n + 1]) && isdigit((unsigned char)p[n + 2])
	    && !isdigit((unsigned char)p[n + 3]))
		return n;
	return 0;
}

/* the number that starts at p (start: the text's beginning, to look one
 * character back); its end, or NULL when none starts there */
static const char *scannumber(const char *start, const char *p, double *v)
{
	char num[128];
	size_t k = 0;
	const char *q = p;

	/* a sign only where a word would begin: "3-4" is 3 and 4 */
	int signlen = *q == '-' || *q == '+' ? 1 : !strncmp(q, "\xe2\x88\x92", 3) ? 3 : 0;
	if (signlen) {
		if (q > start && (isalnum((unsigned char)q[-1]) || q[-1] == '.'))
			return NULL;
		if (*q != '+')
			num[k++] = '-';
		q += signlen;
		if (*q == '$' && isdigit((unsigned char)q[1])) /* "-$5" */
			q++;
	}
	if (!isdigit((unsigned char)*q) && !(*q == '.' && isdigit((unsigned char)q[1])))
		return NULL;
	/* "1.2.3" is not 1.2 and 0.3: a number does not start right after a dot
	 * that follows a digit */
	if (!signlen && *q == '.' && q > start && isdigit((unsigned char)q[-1]))
		return NULL;
	size_t lead = 0;
	while (isdigit((unsigned char)*q) && k < 100) {
		num[k++] = *q++;
		lead++;
	}
	size_t sep;
	if (lead && lead <= 3)
		while ((sep = groupsep(q)) && k < 100) {
			q += sep;
			for (int i = 0; i < 3; i++)
				num[k++] = *q++;
		}
	int plain = 1; /* an integer so far: may be a fraction's numerator */
	if (*q == '.' && isdigit((unsigned char)q[1])) {
		plain = 0;
		num[k++] = *q++;
		while (isdigit((unsigned char)*q) && k < 110)
			num[k++] = *q++;
	}
	if ((*q == 'e' || *q == 'E') && k < 110) {
		const char *e = q + 1;
		if (*e == '+' || *e == '-')
			e++;
		if (isdigit((unsigned char)*e) && !isalpha((unsigned char)e[strspn(e, "0123456789")])) {
			plain = 0;
			num[k++] = 'e';
			for (q++; (*q == '+' || *q == '-' || isdigit((unsigned char)*q)) && k < 126; q++)
				num[k++] = *q;
		}
	}
	num[k] = '\0';
	double d = strtod(num, NULL);
	if (plain && *q == '/' && isdigit((unsigned char)q[1])) {
		char *end;
		double den = strtod(q + 1, &end);
		if (den != 0 && *end != '/' && *end != '.') {
			d /= den;
			q = end;
		}
	}
	*v = d;
	return q;
}

int lastnumber(const char *s, double *v)
{
	int found = 0;

	for (const char *p = s; *p;) {
		double d;
		const char *end = scannumber(s, p, &d);
		if (end) {
			*v = d;
			found = 1;
			p = end;
		} else {
			p++;
		}
	}
	return found ? 0 : -1;
}

int parsenumber(const char *s, double *v)
{
	char *c = xstrdup(s), *p = trim(c), *e;
	static const char *const currency[] = {"$", "\xe2\x82\xac", "\xc2\xa3", "\xc2\xa5", "\xe2\x82\xb9", "USD", "EUR"};
	int neg = 0, r = -1;

	/* emphasis and quotes around the number, then punctuation after it */
	for (int pass = 0; pass < 3; pass++) {
		p += strspn(p, "*_`\"' ");
		e = p + strlen(p);
		while (e > p && strchr("*_`\"' .,;:!?%", e[-1]))
			e--;
		*e = '\0';
	}
	if (*p == '-' && (p[1] == '$' || !strncmp(p + 1, "\xe2\x82\xac", 3) || !strncmp(p + 1, "\xc2\xa3", 2))) {
		neg = 1;
		p++;
	}
	for (size_t i = 0; i < LEN(currency); i++) {
		size_t n = strlen(currency[i]);
		if (!strncmp(p, currency[i], n)) {
			p += n;
			while (*p == ' ')
				p++;
			break;
		}
	}
	const char *end = *p ? scannumber(p, p, v) : NULL;
	if (end && !*end) {
		if (neg)
			*v = -*v;
		r = 0;
	}
	free(c);
	return r;
}

/* the letter at s[i] when it is one of n choices, standing alone: not
 * inside a word or a number; anycase also takes a lower-case one */
static int loneletter(const char *s, size_t i, int n, int anycase)
{
	int ch = (unsigned char)s[i];

	if (!(isupper(ch) || (anycase && islower(ch))) || toupper(ch) - 'A' >= n)
		return -1;
	if (i > 0 && (isalnum((unsigned char)s[i - 1]) || (unsigned char)s[i - 1] >= 0x80))
		return -1;
	if (isalnum((unsigned char)s[i + 1]) || (unsigned char)s[i + 1] >= 0x80)
		return -1;
	/* "a" and "I" are words: lower case only where nothing follows */
	if (islower(ch) && s[i + 1] && !strchr(").]*:\n", s[i + 1]))
		return -1;
	return toupper(ch) - 'A';
}

/* after an "answer" at p: the letter it announces, or -1 */
static int announced(const char *s, const char *p, int n)
{
	static const char *const fill[] = {"is", "was", "would be", "should be", "option", "choice", "letter", "be"};

	for (int round = 0; round < 6; round++) {
		p += strspn(p, " \t:*_=-([");
		int skipped = 0;
		for (size_t i = 0; i < LEN(fill) && !skipped; i++) {
			size_t l = strlen(fill[i]);
			if (!strncasecmp(p, fill[i], l) && !isalnum((unsigned char)p[l])) {
				p += l;
				skipped = 1;
			}
		}
		if (!skipped)
			break;
	}
	return loneletter(s, (size_t)(p - s), n, 1);
}

int findchoice(const char *s, int n)
{
	size_t len = strlen(s);
	int best = -1, marked = -1;

	if (n <= 0 || n > MAXCHOICES)
		n = MAXCHOICES;
	/* first tier: an announced answer ("ANSWER: B", "the answer is (B)") */
	for (const char *p = s; (p = strcasestr(p, "answer")); p += 6) {
		if (p > s && isalpha((unsigned char)p[-1]))
			continue;
		const char *q = p + 6;
		if (*q == 's' || *q == 'S')
			q++;
		int r = announced(s, q, n);
		if (r >= 0)
			best = r;
	}
	if (best >= 0)
		return best;
	/* second tier: a marked letter: (B) [B] **B** B) B. B: or the last word */
	for (size_t i = 0; i < len; i++) {
		int r = loneletter(s, i, n, 0);
		if (r < 0)
			continue;
		char b = i ? s[i - 1] : '\0', a = s[i + 1];
		int ok = (b == '(' && a == ')') || (b == '[' && a == ']') || (b == '*' && a == '*');
		if (!ok && (a == ')' || a == '.' || a == ':') && (!s[i + 2] || isspace((unsigned char)s[i + 2]) || s[i + 2] == '*')
		    && (!b || isspace((unsigned char)b) || b == '*' || b == '>'))
			ok = 1;
		if (ok)
			marked = r;
	}
	/* the last word, when it is a letter alone ("... so it is B") */
	size_t e = len;
	while (e > 0 && !isalnum((unsigned char)s[e - 1]))
		e--;
	if (e > 0) {
		size_t b = e - 1;
		int whole = strspn(s, " \t\r\n*_([") == b; /* the output is just the letter */
		int r = loneletter(s, b, n, whole);
		if (r >= 0)
			marked = r;
	}
	return marked;
}

static const char *wherefmt(const struct task *t, char *buf, size_t n)
{
	if (t->line)
		snprintf(buf, n, "%s:%d", t->path, t->line);
	else
		snprintf(buf, n, "%s", t->path);
	return buf;
}

int checkexpected(const struct grader *g, const struct task *t, char **err)
{
	char at[512];

	*err = NULL;
	if (g->type == GRADE_COMMAND || g->type == GRADE_JUDGE || (g->type == GRADE_REGEX && g->pattern))
		return 0;
	if (!t->expected.n) {
		*err = xasprintf("%s: task '%s' has no expected answer (a field expected, ideal, target or answer)",
		                 wherefmt(t, at, sizeof(at)), t->id);
		return -1;
	}
	if (g->type == GRADE_NUMERIC) {
		for (size_t i = 0; i < t->expected.n; i++) {
			double v;
			if (parsenumber(t->expected.v[i], &v) < 0) {
				char *w = xstrndup(t->expected.v[i], strnlen(t->expected.v[i], 80));
				*err = xasprintf("%s: task '%s': expected answer '%s' is not a number (the grader is numeric)",
				                 wherefmt(t, at, sizeof(at)), t->id, w);
				free(w);
				return -1;
			}
		}
	}
	if (g->type == GRADE_CHOICE) {
		struct choices c;
		char *e;
		if (getchoices(t->fields, &c, &e) < 0) {
			*err = xasprintf("%s: task '%s': %s", wherefmt(t, at, sizeof(at)), t->id, e);
			free(e);
			return -1;
		}
		for (size_t i = 0; i < t->expected.n; i++) {
			if (expectedchoice(&c, t->expected.v[i]) < 0) {
				char *w = xstrndup(t->expected.v[i], strnlen(t->expected.v[i], 80));
				int n = c.n ? c.n : MAXCHOICES;
				*err = xasprintf("%s: task '%s': expected answer '%s' names no choice (a letter A-%c, an index 0-%d "
				                 "or the text of one of its %d choices)",
				                 wherefmt(t, at, sizeof(at)), t->id, w, 'A' + n - 1, n - 1, c.n);
				free(w);
				freechoices(&c);
				return -1;
			}
		}
		freechoices(&c);
	}
	return 0;
}

static char *shorten(const char *s)
{
	size_t n = strcspn(s, "\n");

	if (n > 60)
		return xasprintf("%.57s...", s);
	return xasprintf("%.*s%s", (int)n, s, s[n] ? "..." : "");
}

/* the choice grader: the letter in the output against the expected one */
static int gradechoice(const struct grader *g, const char *out, const struct task *t, int iteration, double *score,
                       char **reason, char **err)
{
	struct choices c;
	int want[64], nw = 0;

	if (getchoices(t->fields, &c, err) < 0)
		return -1;
	if (g->shuffle)
		shufflechoices(&c, t->id, iteration);
	for (size_t i = 0; i < t->expected.n && nw < (int)LEN(want); i++)
		if ((want[nw] = expectedchoice(&c, t->expected.v[i])) >= 0)
			nw++;
	int n = c.n;
	freechoices(&c);
	if (!nw) {
		*err = xasprintf("task '%s': expected answer '%s' names no choice", t->id, firstexpected(t));
		return -1;
	}
	int got = findchoice(out, n);
	for (int i = 0; i < nw; i++)
		if (got == want[i])
			*score = 1;
	if (got < 0)
		*reason = xstrdup("no answer found");
	else if (*score == 0)
		*reason = xasprintf("answered %c, expected %c", 'A' + got, 'A' + want[0]);
	return 0;
}

int gradenow(const struct grader *g, const char *output, const struct task *t, int iteration, double *score,
             char **reason, char **err)
{
	char *picked = NULL, *out;
	int ret = 0;

	*score = 0;
	*reason = NULL;
	*err = NULL;
	if (!t->expected.n && !(g->type == GRADE_REGEX && g->pattern)) {
		*err = xasprintf("task '%s' has no expected answer (a field expected, ideal, target or answer)", t->id);
		return -1;
	}
	if (g->outre) {
		/* the answer is what the output_pattern's group extracts (the
		 * last match, like the last number): without one, there is none */
		if (!(picked = regexextract(g->outre, output, 1))) {
			*reason = xstrdup("no answer found");
			return 0;
		}
		output = picked;
	}
	/* letters keep their case: "a" is a word, "A" may be an answer */
	out = g->type == GRADE_CHOICE ? xstrdup(output) : prep(g, output);
	if (g->type == GRADE_CHOICE) {
		ret = gradechoice(g, out, t, iteration, score, reason, err);
	} else if (g->type == GRADE_REGEX) {
		size_t n = g->pattern ? 1 : t->expected.n;
		for (size_t i = 0; i < n && *score == 0; i++) {
			const char *pat = g->pattern ? g->pattern : t->expected.v[i];
			struct regex *re = g->pattern ? g->re : NULL;
			if (!re && !(re = regexcompile(pat, g->ignore_case, err))) {
				char *e = *err;
				*err = xasprintf("task '%s': invalid regular expression '%s': %s", t->id, pat, e);
				free(e);
				ret = -1;
				break;
			}
			if (regexmatch(re, out))
				*score = 1;
			if (re != g->re)
				regexfree(re);
		}
		if (ret == 0 && *score == 0)
			*reason = xasprintf("no match for /%s/", g->pattern ? g->pattern : t->expected.v[0]);
	} else if (g->type == GRADE_NUMERIC) {
		double got;
		if (lastnumber(out, &got) < 0) {
			*reason = xstrdup(g->outre ? "no number in the extracted answer" : "no number in the output");
		} else {
			for (size_t i = 0; i < t->expected.n && *score == 0; i++) {
				double want;
				if (parsenumber(t->expected.v[i], &want) < 0) {
					*err = xasprintf("task '%s': expected answer '%s' is not a number", t->id, t->expected.v[i]);
					ret = -1;
					break;
				}
				double tol = g->relative ? g->tolerance * fabs(want) : g->tolerance;
				if (fabs(got - want) <= tol)
					*score = 1;
			}
			if (ret == 0 && *score == 0)
				*reason = xasprintf("got %.17g, expected %s", got, t->expected.v[0]);
		}
	} else {
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
	}
	free(out);
	free(picked);
	return ret;
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
	char *reason = NULL, *err = NULL, *log = NULL;

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
	/* kept with the grade, and with a failure too: it is what debugs one */
	if (r->errlen && !r->killed)
		log = xstrndup(r->err, r->errlen);
	freeprocresult(r);
	for (char **e = pg->env; *e; e++)
		free(*e);
	free(pg->env);
	pg->done(pg->arg, score, reason, log, err);
	free(pg);
}

int gradestart(struct loop *l, const struct grader *g, const char *dir, const struct task *t, double timeout,
               gradedone done, void *arg, char **err)
{
	struct pending *pg;
	cJSON *all = cJSON_CreateArray();
	char *taskpath = pathjoin(dir, "task.json"), *outpath = pathjoin(dir, "output");

	/* the grader sees every field of the task, its answer included */
	char *tj = taskjson((struct task *)t, 1);
	if (writefile(taskpath, tj, strlen(tj)) < 0) {
		*err = xasprintf("cannot write %s: %s", taskpath, strerror(errno));
		free(tj);
		free(taskpath);
		free(outpath);
		cJSON_Delete(all);
		return -1;
	}
	free(tj);
	pg = xcalloc(1, sizeof(*pg));
	for (size_t i = 0; i < t->expected.n; i++)
		cJSON_AddItemToArray(all, cJSON_CreateString(t->expected.v[i]));
	char *allj = cJSON_PrintUnformatted(all);
	cJSON_Delete(all);
	pg->env = xcalloc(4, sizeof(*pg->env));
	/* trim applies to what the script compares with, too */
	char *want = xstrdup(firstexpected(t));
	pg->env[0] = xasprintf("EVAL_EXPECTED=%s", g->trim ? trim(want) : want);
	free(want);
	pg->env[1] = xasprintf("EVAL_EXPECTED_JSON=%s", allj ? allj : "[]");
	pg->env[2] = xasprintf("EVAL_TASK_JSON=%s", taskpath);
	cJSON_free(allj);
	free(taskpath);
	pg->done = done;
	pg->arg = arg;
	/* sandboxed, it reads its task.json and the output beside it */
	const char *ro[] = {dir, NULL};
	char **wrap = g->sandbox.on ? sandboxargv(&g->sandbox, ro, NULL) : NULL;
	struct procspec spec = {
		.command = g->command,
		.env = pg->env,
		.stdinpath = outpath,
		.timeout = timeout,
		.outcap = 1 << 20,
		.errcap = 1 << 20,
		.wrap = wrap,
	};
	int started = spawnproc(l, &spec, ongraded, pg, err) != NULL;
	freeargv(wrap);
	if (!started) {
		for (char **e = pg->env; *e; e++)
			free(*e);
		free(pg->env);
		free(pg);
		free(outpath);
		return -1;
	}
	free(outpath);
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
	char *err = NULL, *reason = NULL, *reply = NULL;

	if (r->error)
		err = xasprintf("judge: %s", r->error);
	else if (parsejudge(jg->g, r->text, &score, &err) == 0)
		reason = xstrndup(r->text, strlen(r->text) > 2000 ? 2000 : strlen(r->text));
	/* the judge's whole reply is kept as the grade's log (and a failed
	 * grade's), so a score or a parse failure can be checked against it */
	if (r->text && r->text[0])
		reply = xstrdup(r->text);
	freemodelresult(r);
	jg->done(jg->arg, score, reason, reply, err);
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
