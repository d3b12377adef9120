/* tests of the sandbox: its Evalfile key and the bubblewrap command line
 * (tests/e2e/sandbox.sh runs it for real) */
#define _GNU_SOURCE
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "load/evalfile.h"
#include "run/sandbox.h"
#include "test.h"

/* an Evalfile with one suite whose agent and grader have these sandbox
 * values ("" leaves the key out) */
static struct evalfile *loadsb(const char *agent, const char *grader, char **err)
{
	char *text = xasprintf("suites:\n  s:\n    tasks: tasks/*\n    agent:\n      command: echo hi\n%s%s%s"
	                       "    grader:\n      type: command\n      command: echo 1\n%s%s%s",
	                       *agent ? "      sandbox: " : "", agent, *agent ? "\n" : "",
	                       *grader ? "      sandbox: " : "", grader, *grader ? "\n" : "");
	put("tasks/t1/input.txt", "hi\n");
	put("Evalfile", text);
	free(text);
	*err = NULL;
	return loadevalfile("Evalfile", err);
}

/* the argv as one line, for CHECK_HAS */
static char *joined(char **argv)
{
	struct buf b = {0};

	for (char **p = argv; *p; p++)
		bufaddf(&b, "%s%s", p == argv ? "" : " ", *p);
	return bufdetach(&b);
}

TEST(sandbox_key_parsed)
{
	char *err, here[PATH_MAX];
	struct evalfile *ef;

	intmpdir();
	REQUIRE(getcwd(here, sizeof(here)));
	mkdir("scratch", 0755);
	ef = loadsb("{network: true, writable: [scratch]}", "true", &err);
	REQUIRE(ef);
	const struct sandbox *a = &ef->suites[0].agent.sandbox, *g = &ef->suites[0].grader.sandbox;
	CHECK(a->on && a->network);
	REQUIRE(a->writable.n == 1);
	char *want = xasprintf("%s/scratch", here);
	CHECK_STR(a->writable.v[0], want);
	free(want);
	CHECK(g->on && !g->network && g->writable.n == 0);
	/* in the canon: the run key and the grade key change with it */
	CHECK_HAS(ef->suites[0].agent.canon, "sandbox");
	CHECK_HAS(ef->suites[0].grader.canon, "sandbox");
	char *canon = xstrdup(ef->suites[0].agent.canon);
	freeevalfile(ef);
	ef = loadsb("true", "", &err);
	REQUIRE(ef);
	CHECK(strcmp(canon, ef->suites[0].agent.canon) != 0);
	CHECK(!ef->suites[0].grader.sandbox.on);
	free(canon);
	freeevalfile(ef);
	ef = loadsb("false", "", &err);
	REQUIRE(ef);
	CHECK(!ef->suites[0].agent.sandbox.on);
	freeevalfile(ef);
}

TEST(sandbox_key_errors)
{
	char *err;

	intmpdir();
	CHECK(!loadsb("[1]", "", &err));
	CHECK_HAS(err, "Evalfile:6:");
	CHECK_HAS(err, "suites.s.agent.sandbox: expected true or false");
	free(err);
	CHECK(!loadsb("{writable: {a: b}}", "", &err));
	CHECK_HAS(err, "expected a path or a list of paths");
	free(err);
	CHECK(!loadsb("{writable: nosuch}", "", &err));
	CHECK_HAS(err, "cannot use 'nosuch'");
	free(err);
	CHECK(!loadsb("", "{network: 2}", &err));
	CHECK_HAS(err, "suites.s.grader.sandbox.network: expected true or false");
	free(err);
}

TEST(sandbox_argv)
{
	char here[PATH_MAX];
	struct sandbox sb = {.on = 1};

	intmpdir();
	REQUIRE(getcwd(here, sizeof(here)));
	mkdir("cache", 0755);
	mkdir("cache/tmp", 0755);
	mkdir("cache/tmp/1", 0755);
	mkdir("cache/tmp/1/artifacts", 0755);
	char *cache = xasprintf("%s/cache", here), *cell = xasprintf("%s/cache/tmp/1", here);
	char *art = xasprintf("%s/artifacts", cell);
	const char *ro[] = {cell, NULL}, *rw[] = {art, NULL};
	sandboxhide("cache");
	char **argv = sandboxargv(&sb, ro, rw);
	char *line = joined(argv), *want;
	/* the project read-only, the cache hidden under it, the cell's on top */
	want = xasprintf("--ro-bind %s %s", here, here);
	CHECK_HAS(line, want);
	free(want);
	want = xasprintf("--tmpfs %s --ro-bind %s %s --bind %s %s --remount-ro %s --remount-ro /", cache, cell, cell, art,
	                 art, cache);
	CHECK_HAS(line, want);
	free(want);
	CHECK_HAS(line, "--tmpfs /tmp");
	CHECK_HAS(line, "--unshare-net");
	CHECK_HAS(line, "--die-with-parent");
	CHECK_HAS(line, "--new-session");
	CHECK(!strstr(line, "--bind / "));
	CHECK(!strstr(line, "--ro-bind / "));
	size_t n = 0;
	while (argv[n])
		n++;
	CHECK_STR(argv[n - 1], "--");
	free(line);
	freeargv(argv);
	/* network kept; a writable path bound writable */
	sb.network = 1;
	strvadd(&sb.writable, "/var/tmp");
	argv = sandboxargv(&sb, NULL, NULL);
	line = joined(argv);
	CHECK(!strstr(line, "--unshare-net"));
	CHECK_HAS(line, "--bind /var/tmp /var/tmp");
	free(line);
	freeargv(argv);
	strvfree(&sb.writable);
	free(cache);
	free(cell);
	free(art);
}

TEST(sandbox_writable_type_error)
{
	char *err;

	intmpdir();
	mkdir("cache", 0755);
	mkdir("a", 0755);
	CHECK(!loadsb("{writable: [a, [b]]}", "", &err));
	CHECK_HAS(err, "suites.s.agent.sandbox.writable: expected a string");
	free(err);
	CHECK(!loadsb("{writable: [a, cache]}", "", &err));
	CHECK_HAS(err, "'cache' is in the cache folder, which the sandbox hides");
	free(err);
}
