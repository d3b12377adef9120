/* secret: see secret.h. The declared values and their escaped forms live
 * in one small list; redaction is a memmem per form, and text holding no
 * key is returned untouched (no copy). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/secret.h"
#include "core/util.h"

struct list {
	char **v;
	size_t n, cap;
};

static struct list forms;     /* every form of every declared value */
static struct list warned;    /* variables already reported as too short */

static int known(const struct list *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (!strcmp(sv->v[i], s))
			return 1;
	return 0;
}

static void addform(char *f)
{
	if (f[0] && !known(&forms, f)) {
		xgrow(&forms.v, &forms.cap, forms.n + 1, sizeof(*forms.v));
		forms.v[forms.n++] = f;
	} else {
		free(f);
	}
}

enum { JSON_STD, JSON_SLASH, JSON_HTML, JSON_GSON };

/* the value as a JSON string's content, as cJSON and Python write it
 * (JSON_STD), or with what other encoders escape besides: "/" as "\/"
 * (PHP, json-c: JSON_SLASH), "<", ">" and "&" as "\u003c"... (Go's
 * encoding/json: JSON_HTML), and "=" and "'" too (Gson: JSON_GSON) */
static char *jsonform(const char *v, int style)
{
	struct buf b = {0}, e = {0};

	bufaddjson(&b, v, strlen(v));
	/* drop the quotes bufaddjson adds */
	for (size_t i = 1; i + 1 < b.len; i++) {
		char c = b.s[i];
		if (style == JSON_SLASH && c == '/')
			bufadds(&e, "\\/");
		else if ((style >= JSON_HTML && strchr("<>&", c)) || (style == JSON_GSON && strchr("='", c)))
			bufaddf(&e, "\\u%04x", (unsigned char)c);
		else
			bufaddc(&e, c);
	}
	buffree(&b);
	bufadds(&e, "");
	return bufdetach(&e);
}

/* the value percent-encoded (RFC 3986: unreserved characters kept) */
static char *urlform(const char *v, int lower)
{
	struct buf b = {0};

	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p))
			bufaddc(&b, *p);
		else
			bufaddf(&b, lower ? "%%%02x" : "%%%02X", *p);
	}
	return bufdetach(&b);
}

int secretadd(const char *name, const char *value)
{
	if (!value || !value[0])
		return 0;
	if (strlen(value) < SECRET_MIN) {
		if (!known(&warned, name)) {
			xgrow(&warned.v, &warned.cap, warned.n + 1, sizeof(*warned.v));
			warned.v[warned.n++] = xstrdup(name);
			warn("warning: the key in %s has %zu character%s, too few to redact safely (it would match ordinary "
			     "text): it is NOT redacted from what evalmake stores and prints; use a key of at least %d",
			     name, strlen(value), strlen(value) == 1 ? "" : "s", SECRET_MIN);
		}
		return -1;
	}
	addform(xstrdup(value));
	addform(jsonform(value, JSON_STD));
	addform(jsonform(value, JSON_SLASH));
	addform(jsonform(value, JSON_HTML));
	addform(jsonform(value, JSON_GSON));
	addform(urlform(value, 0));
	addform(urlform(value, 1));
	return 0;
}

void secretenv(const char *name)
{
	if (name)
		secretadd(name, getenv(name));
}

void secretclear(void)
{
	for (size_t i = 0; i < forms.n; i++)
		free(forms.v[i]);
	for (size_t i = 0; i < warned.n; i++)
		free(warned.v[i]);
	free(forms.v);
	free(warned.v);
	memset(&forms, 0, sizeof(forms));
	memset(&warned, 0, sizeof(warned));
}

int secretany(void)
{
	return forms.n > 0;
}

/* one form replaced in s[0..n): a new string, or NULL when absent */
static char *replace(const char *s, size_t n, const char *f, size_t *outlen)
{
	size_t fl = strlen(f);
	const char *hit = memmem(s, n, f, fl), *p = s, *end = s + n;

	if (!hit)
		return NULL;
	struct buf b = {0};
	do {
		bufadd(&b, p, (size_t)(hit - p));
		bufadds(&b, REDACTED);
		p = hit + fl;
	} while ((hit = memmem(p, (size_t)(end - p), f, fl)));
	bufadd(&b, p, (size_t)(end - p));
	*outlen = b.len;
	return bufdetach(&b);
}

char *redactn(const char *s, size_t n, size_t *outlen)
{
	char *cur = NULL;

	if (!s)
		return NULL;
	for (size_t i = 0; i < forms.n; i++) {
		size_t len;
		char *r = replace(cur ? cur : s, cur ? *outlen : n, forms.v[i], &len);
		if (r) {
			free(cur);
			cur = r;
			*outlen = len;
		}
	}
	return cur;
}

char *redact(char *s)
{
	size_t len;
	char *r = forms.n && s ? redactn(s, strlen(s), &len) : NULL;

	if (!r)
		return s;
	free(s);
	return r;
}

int redactbuf(char **s, size_t *n)
{
	size_t len;
	char *r = forms.n && *s ? redactn(*s, *n, &len) : NULL;

	if (!r)
		return 0;
	free(*s);
	*s = r;
	*n = len;
	return 1;
}
