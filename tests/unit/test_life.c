/* life: the Evalfile loader's defences against what a pull request can put
 * in an Evalfile that `check` reads: base URLs that are not http(s) URLs,
 * and aliases that expand without bound; and merge keys (`<<: *anchor`),
 * the legitimate use of anchors, which must keep working. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "load/evalfile.h"
#include "test.h"
#include "core/util.h"

static void project(void)
{
	intmpdir();
	put("tasks/t1.json", "{\"input\": \"1+1\", \"expected\": \"2\"}\n");
	put("agent.sh", "#!/bin/sh\ncat\n");
	put("rubric.md", "Grade {{output}}\n");
}

static struct evalfile *load(const char *text, char **err)
{
	put("Evalfile", text);
	*err = NULL;
	return loadevalfile("Evalfile", err);
}

/* loading text fails with a message holding where and what */
static void fails(const char *file, int line, const char *text, const char *where, const char *what)
{
	char *err = NULL;
	struct evalfile *ef = load(text, &err);

	if (ef) {
		testfail(file, line, "loaded an Evalfile that should fail (%s)", what);
		freeevalfile(ef);
		return;
	}
	if (!err) {
		testfail(file, line, "failed without a message");
		return;
	}
	checkhas(file, line, "error names the place", err, where);
	checkhas(file, line, "error says what was expected", err, what);
	free(err);
}
#define FAILS(text, where, what) fails(__FILE__, __LINE__, text, where, what)

/* an Evalfile whose agent has this base_url */
static char *withurl(const char *url)
{
	return xasprintf("suites:\n"
	                 "  qa:\n"
	                 "    tasks: tasks/*.json\n"
	                 "    agent: {provider: openai, model: m, base_url: '%s'}\n",
	                 url);
}

TEST(life_base_url_must_be_http_with_a_host)
{
	static const char *const bad[] = {"not a url", "ftp://example.com/v1", "file:///etc/passwd", "http://",
		"https:///v1", "http://:8080/v1", "http://host:port/v1", "http://host:0", "http://host:65536/v1",
		"http://[::1/v1", "http://user@/v1", "localhost:8080/v1", "", "http://host/v 1"};

	project();
	for (size_t i = 0; i < LEN(bad); i++) {
		char *text = withurl(bad[i]);
		FAILS(text, "Evalfile:4:51", "suites.qa.agent.base_url: expected");
		free(text);
	}
	FAILS("suites:\n"
	      "  qa:\n"
	      "    tasks: tasks/*.json\n"
	      "    agent: {command: ./agent.sh}\n"
	      "    grader: {type: judge, rubric: rubric.md, provider: openai, model: m, base_url: file:///etc/passwd}\n",
	      "Evalfile:5:84", "base_url: expected a URL starting with http:// or https://, got 'file:///etc/passwd'");
}

TEST(life_base_url_accepts_http_urls)
{
	static const char *const good[] = {"http://127.0.0.1:8080/v1", "https://api.openai.com/v1",
		"http://[::1]:8080/v1", "HTTPS://Example.COM", "http://user:pw@host:1/v1?x=1", "http://host/"};
	char *err;

	project();
	for (size_t i = 0; i < LEN(good); i++) {
		char *text = withurl(good[i]);
		struct evalfile *ef = load(text, &err);
		free(text);
		if (!CHECK(ef != NULL)) {
			testfail(__FILE__, __LINE__, "%s: %s", good[i], err ? err : "");
			free(err);
			continue;
		}
		CHECK_STR(ef->suites[0].agent.base_url, good[i]);
		freeevalfile(ef);
	}
}

/* nine levels of nine aliases each: 9^9 nodes if expanded */
TEST(life_alias_bomb_fails_at_once)
{
	struct buf b = {0};

	project();
	bufadds(&b, "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
	for (int i = 1; i <= 9; i++)
		bufaddf(&b, "l%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d]\n", i, i, i - 1, i - 1, i - 1,
		        i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	bufadds(&b, "suites: {}\n");
	FAILS(b.s, "Evalfile:", "expand to more than 100000 nodes");
	buffree(&b);
}

TEST(life_alias_of_itself_fails)
{
	project();
	FAILS("a: &a [*a, *a]\nsuites: {}\n", "Evalfile:1:4", "nested more than 64 levels");
	FAILS("a: &a {x: *a}\nsuites: {}\n", "Evalfile:1:", "nested more than 64 levels");
}

TEST(life_merge_keys)
{
	char *err;
	struct evalfile *ef;

	project();
	ef = load("defaults: &d\n"
	          "  iterations: 2\n"
	          "  timeout: 7\n"
	          "suites:\n"
	          "  a:\n"
	          "    <<: *d\n"
	          "    timeout: 9\n"
	          "    tasks: tasks/*.json\n"
	          "    agent: &ag {command: ./agent.sh}\n"
	          "  b:\n"
	          "    <<: [{iterations: 3}, *d]\n"
	          "    tasks: tasks/*.json\n"
	          "    agent:\n"
	          "      <<: *ag\n",
	          &err);
	if (!CHECK(ef != NULL)) {
		testfail(__FILE__, __LINE__, "%s", err ? err : "");
		free(err);
		return;
	}
	struct suite *a = findsuite(ef, "a"), *b = findsuite(ef, "b");
	REQUIRE(a && b);
	CHECK_INT(a->iterations, 2);
	CHECK((int)a->timeout == 9); /* its own key wins */
	CHECK_INT(b->iterations, 3); /* the earlier map wins */
	CHECK((int)b->timeout == 7);
	CHECK_STR(b->agent.command, "./agent.sh");
	freeevalfile(ef);
	/* a merged map's own merge keys apply too */
	ef = load("suites:\n"
	          "  a: &a\n"
	          "    tasks: tasks/*.json\n"
	          "    timeout: 7\n"
	          "    agent: {command: ./agent.sh}\n"
	          "  b: &b\n"
	          "    <<: *a\n"
	          "    iterations: 4\n"
	          "  c: {<<: *b}\n",
	          &err);
	if (!CHECK(ef != NULL)) {
		testfail(__FILE__, __LINE__, "%s", err ? err : "");
		free(err);
		return;
	}
	b = findsuite(ef, "c");
	REQUIRE(b != NULL);
	CHECK_INT(b->iterations, 4);
	CHECK((int)b->timeout == 7);
	CHECK_STR(b->agent.command, "./agent.sh");
	freeevalfile(ef);
	FAILS("suites:\n"
	      "  a:\n"
	      "    <<: 3\n"
	      "    tasks: tasks/*.json\n"
	      "    agent: {command: ./agent.sh}\n",
	      "Evalfile:3:9", "expected a mapping or a list of mappings");
}

/* a defaults anchor merged into many suites is far below the cap */
TEST(life_anchor_reuse_is_not_a_bomb)
{
	struct buf b = {0};
	char *err;

	project();
	bufadds(&b, "defaults: &d {iterations: 1, timeout: 5, agent: {command: ./agent.sh, env: {A: '1', B: '2'}}}\n"
	            "suites:\n");
	for (int i = 0; i < 500; i++)
		bufaddf(&b, "  s%d: {<<: *d, tasks: tasks/*.json}\n", i);
	struct evalfile *ef = load(b.s, &err);
	buffree(&b);
	if (!CHECK(ef != NULL)) {
		testfail(__FILE__, __LINE__, "%s", err ? err : "");
		free(err);
		return;
	}
	CHECK_INT(ef->nsuites, 500);
	CHECK_STR(ef->suites[499].agent.command, "./agent.sh");
	freeevalfile(ef);
}
