/* markup: see markup.h. util's UTF-8 decoder (RFC 3629: no overlongs,
 * no surrogates, nothing past U+10FFFF) feeds every escaper. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/secret.h"
#include "report/markup.h"

static const char replacement[] = "\xEF\xBF\xBD";

void bufaddutf8(struct buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		uint32_t cp;
		size_t k = utf8dec(u + i, n - i, &cp);
		if (k == 1 && u[i] >= 0x80) /* not a character */
			bufadds(b, replacement);
		else
			bufadd(b, u + i, k);
		i += k;
	}
}

void bufaddxml(struct buf *b, const char *s, size_t n, int attr)
{
	size_t rl;
	char *red = redactn(s, n, &rl);
	const unsigned char *u = (const unsigned char *)(red ? red : s);
	size_t i = 0;

	if (red)
		n = rl;
	while (i < n) {
		uint32_t cp;
		size_t k = utf8dec(u + i, n - i, &cp);
		switch (cp) {
		case '&': bufadds(b, "&amp;"); break;
		case '<': bufadds(b, "&lt;"); break;
		case '>': bufadds(b, "&gt;"); break;
		case '"': bufadds(b, "&quot;"); break;
		case '\'': bufadds(b, "&#39;"); break;
		/* an attribute value's line breaks and tabs survive only as
		 * references (XML normalizes them to spaces otherwise) */
		case '\t': bufadds(b, attr ? "&#9;" : "\t"); break;
		case '\n': bufadds(b, attr ? "&#10;" : "\n"); break;
		case '\r': bufadds(b, "&#13;"); break;
		default:
			/* XML 1.0 has no place for other C0 controls, nor for
			 * U+FFFE and U+FFFF */
			if (cp < 0x20 || cp == 0xFFFE || cp == 0xFFFF || cp == 0xFFFD)
				bufadds(b, replacement);
			else
				bufadd(b, u + i, k);
		}
		i += k;
	}
	free(red);
}

void bufaddmdcell(struct buf *b, const char *s)
{
	struct buf t = {0};
	char *c = cleantext(s);

	bufadds(&t, c);
	free(c);
	for (const char *p = t.s ? t.s : ""; *p; p++) {
		switch (*p) {
		case '|': bufadds(b, "\\|"); break;
		case '\\': bufadds(b, "\\\\"); break;
		case '<': bufadds(b, "&lt;"); break;
		case '>': bufadds(b, "&gt;"); break;
		case '&': bufadds(b, "&amp;"); break;
		case '`': bufadds(b, "\\`"); break;
		case '\n': case '\r': case '\t': bufaddc(b, ' '); break;
		default:
			if ((unsigned char)*p >= 0x20)
				bufaddc(b, *p);
		}
	}
	buffree(&t);
}

void bufaddscriptjson(struct buf *b, const char *json)
{
	for (const char *p = json; *p; p++) {
		if (*p == '<')
			bufadds(b, "\\u003c");
		else
			bufaddc(b, *p);
	}
}

/* s with keys redacted and invalid UTF-8 replaced, or NULL when it is
 * fine as it is (the common case: no copy) */
static char *cleaned(const char *s)
{
	size_t n = strlen(s), rl;
	char *red = redactn(s, n, &rl);
	const char *t = red ? red : s;
	struct buf b = {0};

	if (red)
		n = rl;
	if (utf8valid(t, n))
		return red;
	bufaddutf8(&b, t, n);
	free(red);
	return bufdetach(&b);
}

char *cleantext(const char *s)
{
	char *c = cleaned(s);

	return c ? c : xstrdup(s);
}

void cleanjson(void *tree)
{
	cJSON *j = tree;

	for (; j; j = j->next) {
		char *c;
		if (j->string && !(j->type & cJSON_StringIsConst) && (c = cleaned(j->string))) {
			char *k = cJSON_malloc(strlen(c) + 1);
			strcpy(k, c);
			cJSON_free(j->string);
			j->string = k;
			free(c);
		}
		if (cJSON_IsString(j) && j->valuestring && !(j->type & cJSON_IsReference) && (c = cleaned(j->valuestring))) {
			char *v = cJSON_malloc(strlen(c) + 1);
			strcpy(v, c);
			cJSON_free(j->valuestring);
			j->valuestring = v;
			free(c);
		}
		if (j->child)
			cleanjson(j->child);
	}
}

char *utf8cut(const char *s, size_t n)
{
	size_t len = strlen(s);

	if (len <= n)
		return xstrdup(s);
	/* back off continuation bytes so no character is split */
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return xstrndup(s, n);
}
