/* regex: a thin layer over PCRE2 (8-bit, UTF mode that tolerates invalid
 * UTF-8), so the rest of the program sees one small API and one dialect.
 * A pattern is compiled once, when the Evalfile is loaded or a task's
 * pattern is first needed; each match uses a fresh match-data block. */
#define _GNU_SOURCE
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "core/regex.h"
#include "core/util.h"

struct regex {
	pcre2_code *code;
	int groups;
};

struct regex *regexcompile(const char *pattern, int icase, char **err)
{
	int code;
	PCRE2_SIZE off;
	uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (icase ? PCRE2_CASELESS : 0);
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);

	*err = NULL;
	if (!re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(code, msg, sizeof(msg));
		*err = xasprintf("%s (at offset %zu)", (char *)msg, (size_t)off);
		return NULL;
	}
	struct regex *r = xcalloc(1, sizeof(*r));
	uint32_t n = 0;
	pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &n);
	r->code = re;
	r->groups = (int)n;
	return r;
}

int regexgroups(const struct regex *re)
{
	return re->groups;
}

int regexmatch(const struct regex *re, const char *s)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
	int rc = pcre2_match(re->code, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL);

	pcre2_match_data_free(md);
	return rc >= 0;
}

char *regexextract(const struct regex *re, const char *s, int last)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
	size_t len = strlen(s), at = 0, from = 0, to = 0;
	int found = 0;

	/* walk the matches left to right; an empty match moves on one byte
	 * (then to the next character boundary) so the walk ends */
	while (at <= len) {
		int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, at, 0, md, NULL);
		if (rc < 0)
			break;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		int pick = 0;
		for (int g = 1; g < rc && !pick; g++)
			if (ov[2 * g] != PCRE2_UNSET)
				pick = g;
		from = ov[2 * pick];
		to = ov[2 * pick + 1];
		found = 1;
		if (!last)
			break;
		size_t next = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
		while (next < len && ((unsigned char)s[next] & 0xC0) == 0x80)
			next++;
		at = next;
	}
	pcre2_match_data_free(md);
	return found ? xstrndup(s + from, to - from) : NULL;
}

void regexfree(struct regex *re)
{
	if (!re)
		return;
	pcre2_code_free(re->code);
	free(re);
}
