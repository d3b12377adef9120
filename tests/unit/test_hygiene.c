/* hygiene: redaction of declared keys, UTF-8 cleaning for JSON writers,
 * escaped NULs in JSON text, and readfile's refusal of special files. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "test.h"
#include "core/secret.h"
#include "core/util.h"
#include "report/markup.h"

TEST(redact_raw_json_and_url_forms)
{
	secretclear();
	CHECK(!secretany());
	CHECK_INT(secretadd("K", "sk-\"a\\b/c d-123"), 0);
	CHECK(secretany());
	char *s = redact(xstrdup("raw sk-\"a\\b/c d-123 json sk-\\\"a\\\\b/c d-123 url sk-%22a%5Cb%2Fc%20d-123 "
	                         "lower sk-%22a%5cb%2fc%20d-123 end"));
	CHECK_STR(s, "raw [redacted] json [redacted] url [redacted] lower [redacted] end");
	free(s);
	secretclear();
}

/* JSON encoders escape different characters: PHP "/" as "\/", Go "<>&" as
 * "\u003c", .NET "\"" and "+" as "\u0022" and "\u002B" (upper case), Gson
 * "=" as "\u003d"; any of them, mixed, is the key */
TEST(redact_every_json_encoders_spelling)
{
	secretclear();
	CHECK_INT(secretadd("K", "ak/+\"<&='x9Z"), 0);
	char *s = redact(xstrdup("php ak\\/+\\\"<&='x9Z go ak/+\\u0022\\u003c\\u0026='x9Z "
	                         "net ak/\\u002B\\u0022\\u003C\\u0026\\u003D\\u0027x9Z all \\u0061\\u006B\\u002f\\u002b\\u0022\\u003c\\u0026\\u003d\\u0027\\u0078\\u0039\\u005a "
	                         "raw ak/+\"<&='x9Z near ak/+\\u0022<&='x9Y end"));
	CHECK_STR(s, "php [redacted] go [redacted] net [redacted] all [redacted] raw [redacted] near ak/+\\u0022<&='x9Y end");
	free(s);
	secretclear();
}

/* one key that starts another: the longer is found whole, in either
 * order of declaration */
TEST(redact_a_key_that_starts_another)
{
	for (int order = 0; order < 2; order++) {
		secretclear();
		secretadd("A", order ? "abcdefgh12345" : "abcdefgh12");
		secretadd("B", order ? "abcdefgh12" : "abcdefgh12345");
		char *s = redact(xstrdup("long abcdefgh12345 short abcdefgh12 json \\u0061bcdefgh12345 end"));
		CHECK_STR(s, "long [redacted] short [redacted] json [redacted] end");
		free(s);
	}
	secretclear();
}

TEST(redact_leaves_other_text_alone)
{
	secretclear();
	secretadd("K", "secret-value-1");
	char *in = xstrdup("nothing to hide here, secret-value-2");
	char *out = redact(in);
	CHECK(out == in); /* no copy when nothing matches */
	free(out);
	CHECK(redact(NULL) == NULL);
	secretclear();
}

TEST(redactbuf_handles_nul_bytes_and_every_occurrence)
{
	secretclear();
	secretadd("K", "abcdefgh12");
	char raw[] = "x\0abcdefgh12\0abcdefgh12abcdefgh12y";
	size_t n = sizeof(raw) - 1;
	char *s = xmalloc(n);
	memcpy(s, raw, n);
	CHECK(redactbuf(&s, &n));
	const char want[] = "x\0[redacted]\0[redacted][redacted]y";
	CHECK_INT(n, sizeof(want) - 1);
	CHECK(memcmp(s, want, n) == 0);
	free(s);
	secretclear();
}

TEST(short_key_is_not_redacted)
{
	secretclear();
	CHECK_INT(secretadd("SHORT", "abc12"), -1);
	CHECK(!secretany());
	char *s = redact(xstrdup("abc12"));
	CHECK_STR(s, "abc12");
	free(s);
	CHECK_INT(secretadd("EMPTY", ""), 0); /* nothing to hide */
	CHECK(!secretany());
	secretclear();
}

TEST(cleantext_replaces_invalid_utf8)
{
	secretclear();
	char *s = cleantext("ok \xff\xfe caf\xc3\xa9 \xe2\x82");
	CHECK_STR(s, "ok \xEF\xBF\xBD\xEF\xBF\xBD caf\xc3\xa9 \xEF\xBF\xBD\xEF\xBF\xBD");
	free(s);
	CHECK(utf8valid("caf\xc3\xa9", 5));
	CHECK(!utf8valid("\xc0\xaf", 2));      /* an overlong '/' */
	CHECK(!utf8valid("\xed\xa0\x80", 3));  /* a surrogate */
}

TEST(cleanjson_makes_printed_json_valid_and_keyless)
{
	secretclear();
	secretadd("K", "key-abcdefgh");
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id\xff", "out \xfe key-abcdefgh");
	cJSON *a = cJSON_AddArrayToObject(o, "list");
	cJSON_AddItemToArray(a, cJSON_CreateString("x\x80y"));
	cleanjson(o);
	char *s = cJSON_PrintUnformatted(o);
	CHECK_STR(s, "{\"id\xEF\xBF\xBD\":\"out \xEF\xBF\xBD [redacted]\",\"list\":[\"x\xEF\xBF\xBDy\"]}");
	CHECK(utf8valid(s, strlen(s)));
	cJSON_free(s);
	cJSON_Delete(o);
	secretclear();
}

TEST(jsonnul_finds_escaped_nul_in_strings_only)
{
	const char *a = "{\"a\": \"x\\u0000y\"}";
	const char *b = "{\"a\": \"x\\\\u0000y\"}"; /* an escaped backslash, then text */
	const char *c = "{\"a\": \"\\u00001\"}";
	CHECK(jsonnul(a, strlen(a)));
	CHECK(!jsonnul(b, strlen(b)));
	CHECK(jsonnul(c, strlen(c)));
	CHECK(!jsonnul("{\"a\": 0}", 8));
}

TEST(readfile_refuses_special_files_with_the_reason)
{
	intmpdir();
	REQUIRE(mkfifo("fifo", 0600) == 0);
	REQUIRE(mkdir("dir", 0700) == 0);
	CHECK(readfile("fifo", NULL) == NULL); /* at once: O_NONBLOCK */
	CHECK_STR(filewhy(errno), "is a FIFO, not a regular file");
	CHECK(readfile("dir", NULL) == NULL);
	CHECK_INT(errno, EISDIR);
	CHECK(readfile("/dev/zero", NULL) == NULL);
	CHECK_STR(filewhy(errno), "is a character device, not a regular file");
	CHECK(readfile("missing", NULL) == NULL);
	CHECK_STR(filewhy(errno), strerror(ENOENT));
	put("big", "0123456789");
	CHECK(readfilemax("big", NULL, 4) == NULL);
	CHECK_STR(filewhy(errno), "is 10 bytes, past the limit of 4 bytes");
	size_t len;
	char *s = readfilemax("big", &len, 10);
	CHECK_STR(s, "0123456789");
	CHECK_INT(len, 10);
	free(s);
}
