/* Unit tests from the acceptance check of issue 9 on real data sets: the
 * escapes Python's repr() writes in the list literals of a pandas CSV
 * export (MMLU's choices), decoded to the characters they name. */
#include <cjson/cJSON.h>
#include <stdio.h>

#include "test.h"
#include "load/dataset.h"

/* item i of the list literal s as text, or "(null)" when s is refused */
static const char *item(const char *s, int i)
{
	static char out[64];
	cJSON *a = parselist(s);
	const cJSON *v = cJSON_GetArrayItem(a, i);

	snprintf(out, sizeof(out), "%s", cJSON_IsString(v) ? v->valuestring : "(null)");
	cJSON_Delete(a);
	return out;
}

TEST(accept9_list_literal_escapes)
{
	CHECK_STR(item("['a\\xa0b']", 0), "a\xc2\xa0" "b");                      /* no-break space */
	CHECK_STR(item("['x \\x80\\x93 y']", 0), "x \xc2\x80\xc2\x93 y");        /* MMLU professional_law */
	CHECK_STR(item("['it\\u2019s', 'z\\u200bw']", 1), "z\xe2\x80\x8bw");     /* zero-width space */
	CHECK_STR(item("[\"\\U0001F600\"]", 0), "\xf0\x9f\x98\x80");             /* upper-case hex too */
	CHECK_STR(item("['\\x41\\x7e']", 0), "A~");
	CHECK_STR(item("['f\\\\x41']", 0), "f\\x41");                            /* an escaped backslash */
	CHECK_STR(item("['\\x00']", 0), "(null)");                               /* NUL: no text holds one */
	CHECK_STR(item("['\\ud83d\\ude00']", 0), "(null)");                      /* surrogates */
	CHECK_STR(item("['\\U00110000']", 0), "(null)");                         /* past U+10FFFF */
	CHECK_STR(item("['\\x4']", 0), "(null)");                                /* too few digits */
	CHECK_STR(item("['\\u12g4']", 0), "(null)");
}
