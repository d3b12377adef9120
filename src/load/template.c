/* template: a template is split once into literal and variable segments;
 * rendering is a walk over the segments. Only values from task data are
 * substituted; nothing is evaluated. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/template.h"
#include "core/util.h"

struct seg {
	int var;        /* 0 for a literal, else a TV_ value */
	char *text;     /* literal text, or the FIELD path of {{task.FIELD}} */
	int line;
	char *dflt;     /* {{task.FIELD | default: "x"}}: used when FIELD is missing */
};

struct template {
	char *file;
	struct seg *segs;
	size_t n, cap;
	unsigned uses;
};

static void addseg(struct template *t, int var, const char *text, size_t len, int line)
{
	xgrow(&t->segs, &t->cap, t->n + 1, sizeof(*t->segs));
	t->segs[t->n++] = (struct seg){var, xstrndup(text, len), line, NULL};
}

/* a quoted string ('...' or "...") at exactly [a, b), without its quotes,
 * or NULL */
static char *quoted(const char *a, const char *b)
{
	if (b - a < 2 || (*a != '"' && *a != '\'') || b[-1] != *a || memchr(a + 1, *a, (size_t)(b - a - 2)))
		return NULL;
	return xstrndup(a + 1, (size_t)(b - a - 2));
}

struct template *compiletemplate(const char *file, const char *text, unsigned allowed, char **err)
{
	struct template *t = xcalloc(1, sizeof(*t));
	const char *p = text, *lit = text;
	int line = 1;

	t->file = xstrdup(file);
	*err = NULL;
	while (*p) {
		if (p[0] != '{' || p[1] != '{') {
			if (*p++ == '\n')
				line++;
			continue;
		}
		const char *a = p + 2, *close;
		while (*a && isspace((unsigned char)*a))
			a++;
		/* a string literal may hold braces: {{ "{{" }} is a literal "{{" */
		close = (*a == '"' || *a == '\'') && strchr(a + 1, *a) ? strstr(strchr(a + 1, *a) + 1, "}}")
		                                                      : strstr(p + 2, "}}");
		if (!close) {
			*err = xasprintf("%s:%d: '{{' without a closing '}}'", file, line);
			goto fail;
		}
		if (p > lit)
			addseg(t, 0, lit, (size_t)(p - lit), line);
		const char *b = close;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		char *str = quoted(a, b), *dflt = NULL;
		if (str) {
			addseg(t, 0, str, strlen(str), line);
			free(str);
			goto next;
		}
		/* a filter: {{task.FIELD | default: "text"}} */
		const char *bar = memchr(a, '|', (size_t)(b - a));
		if (bar) {
			const char *f = bar + 1;
			while (f < b && isspace((unsigned char)*f))
				f++;
			if ((size_t)(b - f) > 8 && !memcmp(f, "default:", 8)) {
				for (f += 8; f < b && isspace((unsigned char)*f); f++)
					;
				dflt = quoted(f, b);
			}
			if (!dflt) {
				*err = xasprintf("%s:%d: {{%.*s}}: the one filter is | default: \"text\" (a quoted string)", file,
				                 line, (int)(b - a), a);
				goto fail;
			}
			b = bar;
			while (b > a && isspace((unsigned char)b[-1]))
				b--;
			if ((size_t)(b - a) <= 5 || memcmp(a, "task.", 5)) {
				*err = xasprintf("%s:%d: {{%.*s | default: ...}}: a default is for {{task.FIELD}}", file, line,
				                 (int)(b - a), a);
				free(dflt);
				goto fail;
			}
		}
		size_t n = (size_t)(b - a);
		int var = 0;
		const char *name = a;
		if (n == 5 && !memcmp(a, "input", 5))
			var = TV_INPUT;
		else if (n == 8 && !memcmp(a, "expected", 8))
			var = TV_EXPECTED;
		else if (n == 6 && !memcmp(a, "output", 6))
			var = TV_OUTPUT;
		else if (n == 7 && !memcmp(a, "choices", 7))
			var = TV_CHOICES;
		else if (n > 5 && !memcmp(a, "task.", 5)) {
			var = TV_TASK;
			name = a + 5;
			n -= 5;
		}
		if (!var || !(var & allowed)) {
			struct buf known = {0};
			static const char *const names[] = {"input", "expected", "output", "task.FIELD", "choices"};
			for (int i = 0; i < 5; i++)
				if (allowed & (1u << i))
					bufaddf(&known, "%s{{%s}}", known.len ? ", " : "", names[i]);
			*err = xasprintf("%s:%d: unknown variable {{%.*s}} (known: %s)", file, line, (int)(b - a), a,
			                 known.s ? known.s : "none");
			buffree(&known);
			free(dflt);
			goto fail;
		}
		addseg(t, var, name, n, line);
		t->segs[t->n - 1].dflt = dflt;
		t->uses |= (unsigned)var;
	next:
		for (const char *q = p; q < close; q++)
			if (*q == '\n')
				line++;
		p = lit = close + 2;
	}
	if (p > lit)
		addseg(t, 0, lit, (size_t)(p - lit), line);
	return t;
fail:
	freetemplate(t);
	return NULL;
}

unsigned templateuses(const struct template *t)
{
	return t->uses;
}

/* the field at a dotted path, or NULL */
static const cJSON *field(const cJSON *o, const char *path)
{
	char *copy = xstrdup(path), *save = NULL;

	for (char *k = strtok_r(copy, ".", &save); k && o; k = strtok_r(NULL, ".", &save)) {
		if (cJSON_IsArray(o)) {
			char *end;
			long i = strtol(k, &end, 10);
			o = *end ? NULL : cJSON_GetArrayItem(o, (int)i);
		} else {
			o = cJSON_GetObjectItemCaseSensitive(o, k);
		}
	}
	free(copy);
	return o;
}

char *render(const struct template *t, const struct tmplvars *v, char **err)
{
	struct buf b = {0};

	*err = NULL;
	bufadds(&b, "");
	for (size_t i = 0; i < t->n; i++) {
		const struct seg *s = &t->segs[i];
		switch (s->var) {
		case 0: bufadds(&b, s->text); break;
		case TV_INPUT: bufadds(&b, v->input ? v->input : ""); break;
		case TV_EXPECTED: bufadds(&b, v->expected ? v->expected : ""); break;
		case TV_OUTPUT: bufadds(&b, v->output ? v->output : ""); break;
		case TV_CHOICES:
			if (!v->choices) {
				if (v->where)
					*err = xasprintf("%s: task '%s' has no choices (a list in field 'choices'), which %s:%d "
					                 "uses; name its field with the suite's fields: {choices: FIELD}",
					                 v->where, v->taskname ? v->taskname : "?", t->file, s->line);
				else
					*err = xasprintf("%s:%d: {{choices}}: task '%s' has no 'choices' field (a list)", t->file,
					                 s->line, v->taskname ? v->taskname : "?");
				buffree(&b);
				return NULL;
			}
			bufadds(&b, v->choices);
			break;
		case TV_TASK: {
			const cJSON *f = v->fields ? field(v->fields, s->text) : NULL;
			if ((!f || cJSON_IsNull(f)) && s->dflt) {
				bufadds(&b, s->dflt);
				break;
			}
			if (!f) {
				if (v->where)
					*err = xasprintf("%s: task '%s' has no field '%s', which %s:%d uses (give a default: "
					                 "{{task.%s | default: \"...\"}})",
					                 v->where, v->taskname ? v->taskname : "?", s->text, t->file, s->line, s->text);
				else
					*err = xasprintf("%s:%d: {{task.%s}}: task '%s' has no field '%s'", t->file, s->line, s->text,
					                 v->taskname ? v->taskname : "?", s->text);
				buffree(&b);
				return NULL;
			}
			if (cJSON_IsString(f)) {
				bufadds(&b, f->valuestring);
			} else {
				char *j = cJSON_PrintUnformatted(f);
				bufadds(&b, j ? j : "");
				cJSON_free(j);
			}
			break;
		}
		}
	}
	return bufdetach(&b);
}

void freetemplate(struct template *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->segs[i].text);
		free(t->segs[i].dflt);
	}
	free(t->segs);
	free(t->file);
	free(t);
}
