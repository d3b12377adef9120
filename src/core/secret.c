/* secret: see secret.h. The declared values and their escaped forms live
 * in one small list; redaction is a memmem per form, and text holding no
 * key is returned untouched (no copy). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/secret.h"
#include "core/seen.h"
#include "core/util.h"

struct list {
	char **v;
	size_t n, cap;
};

static struct list values;    /* every declared value, as it is */
static struct list forms;     /* their raw and URL-encoded forms */
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

/* longer strings first: where one key starts another, the longer one is
 * the one found, so no tail of it is left in sight */
static int longerfirst(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

	return la < lb ? 1 : la > lb ? -1 : 0;
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
	if (!known(&values, value)) {
		xgrow(&values.v, &values.cap, values.n + 1, sizeof(*values.v));
		values.v[values.n++] = xstrdup(value);
	}
	addform(xstrdup(value));
	addform(urlform(value, 0));
	addform(urlform(value, 1));
	qsort(values.v, values.n, sizeof(*values.v), longerfirst);
	qsort(forms.v, forms.n, sizeof(*forms.v), longerfirst);
	return 0;
}

void secretenv(const char *name)
{
	if (name) {
		/* a plan's output shows stored text redacted with these values */
		seenenv(name, getenv(name));
		secretadd(name, getenv(name));
	}
}

void secretclear(void)
{
	for (size_t i = 0; i < values.n; i++)
		free(values.v[i]);
	for (size_t i = 0; i < forms.n; i++)
		free(forms.v[i]);
	for (size_t i = 0; i < warned.n; i++)
		free(warned.v[i]);
	free(values.v);
	free(forms.v);
	free(warned.v);
	memset(&values, 0, sizeof(values));
	memset(&forms, 0, sizeof(forms));
	memset(&warned, 0, sizeof(warned));
}

int secretany(void)
{
	return values.n > 0;
}

/* the letter of c's two-character JSON escape (\" \\ \/ \b \f \n \r \t),
 * or 0 */
static char shortescape(unsigned char c)
{
	static const char from[] = "\"\\/\b\f\n\r\t", to[] = "\"\\/bfnrt";
	const char *q = c ? strchr(from, c) : NULL;

	return q ? to[q - from] : 0;
}

/* the value of the four hex digits at h, or -1 */
static long hex4(const char *h)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		char c = h[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* how many bytes of s[0..n) spell the value v inside a JSON string, as
 * any JSON encoder may write it: each byte as itself (unless JSON must
 * escape it: '"', '\\', a control character) or escaped, \uXXXX in either
 * case for an ASCII character (Go's \u003c, .NET's \u002B and \u0022,
 * Gson's \u003d) or a two-character escape (\" \\ \/ ...); -1 when they
 * do not. One reading per byte of s, so it is linear. */
static long spells(const char *s, size_t n, const char *v)
{
	size_t i = 0;

	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		unsigned char c = *p;
		char e = shortescape(c);
		if (i < n && s[i] != '\\' && (unsigned char)s[i] == c && c != '"' && c >= 0x20) {
			i++;
		} else if (i + 1 < n && s[i] == '\\' && e && s[i + 1] == e) {
			i += 2;
		} else if (c < 0x80 && i + 5 < n && s[i] == '\\' && s[i + 1] == 'u' && hex4(s + i + 2) == c) {
			i += 6;
		} else {
			return -1;
		}
	}
	return (long)i;
}

/* every JSON spelling of the declared values in s[0..n) replaced: a new
 * string, or NULL when none occurs (the raw value is one of the forms) */
static char *replacevalues(const char *s, size_t n, size_t *outlen)
{
	struct buf b = {0};
	const char *p = s, *end = s + n;
	int any = 0;

	for (const char *q = s; q < end; q++) {
		long k = -1;
		for (size_t i = 0; i < values.n && k < 0; i++)
			if ((unsigned char)*q == (unsigned char)values.v[i][0] || *q == '\\')
				k = spells(q, (size_t)(end - q), values.v[i]);
		if (k <= 0)
			continue;
		bufadd(&b, p, (size_t)(q - p));
		bufadds(&b, REDACTED);
		p = q + k;
		q = p - 1;
		any = 1;
	}
	if (!any)
		return NULL;
	bufadd(&b, p, (size_t)(end - p));
	*outlen = b.len;
	return bufdetach(&b);
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
	if ((cur = replacevalues(s, n, outlen)) == NULL)
		*outlen = n;
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
	char *r = values.n && s ? redactn(s, strlen(s), &len) : NULL;

	if (!r)
		return s;
	free(s);
	return r;
}

int redactbuf(char **s, size_t *n)
{
	size_t len;
	char *r = values.n && *s ? redactn(*s, *n, &len) : NULL;

	if (!r)
		return 0;
	free(*s);
	*s = r;
	*n = len;
	return 1;
}
