/* trace: path resolution, the tracer's records (relative to the cwd and to
 * a directory descriptor, reads, writes, execs), what counts as
 * undeclared, and the suggested deps line. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "core/util.h"
#include "run/trace.h"

static void checknorm(const char *base, const char *path, const char *want)
{
	char *got = normpath(base, path);

	CHECK_STR(got, want);
	free(got);
}

TEST(normpath_folds_dots_and_slashes)
{
	checknorm("/p", "a/b.txt", "/p/a/b.txt");
	checknorm("/p", "./a//b.txt", "/p/a/b.txt");
	checknorm("/p/agents", "../data/x", "/p/data/x");
	checknorm("/p", "/etc/passwd", "/etc/passwd");
	checknorm("/p", "/etc/../usr/./lib/", "/usr/lib");
	checknorm("/", "..", "/");
	checknorm("/p", "../../..", "/");
	checknorm("/p/", "", "/p");
	checknorm("/p", ".", "/p");
	checknorm("/p/q", "...", "/p/q/...");
}

TEST(underdir_is_strictly_below)
{
	CHECK_STR(underdir("/p", "/p/a/b"), "a/b");
	CHECK(underdir("/p", "/p") == NULL);
	CHECK(underdir("/p", "/pq/a") == NULL);
	CHECK(underdir("/p", "/other") == NULL);
	CHECK_STR(underdir("/", "/etc/x"), "etc/x");
	CHECK(underdir("/", "/") == NULL);
}

static char *line(const char *const *globs, size_t nglobs, const char *const *files, size_t nfiles)
{
	struct strv g = {0}, f = {0};

	for (size_t i = 0; i < nglobs; i++)
		strvadd(&g, globs[i]);
	for (size_t i = 0; i < nfiles; i++)
		strvadd(&f, files[i]);
	char *r = depsline(&g, &f);
	strvfree(&g);
	strvfree(&f);
	return r;
}

TEST(depsline_keeps_globs_and_groups_a_folder)
{
	char *l = line((const char *[]){"agents/run.py"}, 1, (const char *[]){"agents/helper.py"}, 1);
	CHECK_STR(l, "deps: [agents/run.py, agents/helper.py]");
	free(l);
	l = line(NULL, 0, (const char *[]){"data/a.csv", "data/b.csv", "data/c.txt", "lib/x.csv"}, 4);
	CHECK_STR(l, "deps: [data/*.csv, data/c.txt, lib/x.csv]");
	free(l);
	l = line(NULL, 0, (const char *[]){"a.md", "b.md", "Makefile", "x/Makefile"}, 4);
	CHECK_STR(l, "deps: [\"*.md\", Makefile, x/Makefile]");
	free(l);
}

TEST(depsline_quotes_what_yaml_or_glob_would_misread)
{
	char *l = line((const char *[]){"*.sh"}, 1, (const char *[]){"my file.txt", "a,b.csv", "q[1].md", "-x"}, 4);
	CHECK_STR(l, "deps: [\"*.sh\", my file.txt, \"a,b.csv\", \"q\\\\[1].md\", \"-x\"]");
	free(l);
}

/* a trace file of records "K" + path + NUL */
static void puttrace(const char *path, const char *const *recs, size_t n)
{
	FILE *f = fopen(path, "w");

	for (size_t i = 0; i < n; i++)
		fwrite(recs[i], 1, strlen(recs[i]) + 1, f);
	fclose(f);
}

TEST(undeclared_skips_declared_outside_written_and_missing)
{
	char root[PATH_MAX];
	const char *d = intmpdir();

	REQUIRE(realpath(d, root));
	put("agents/helper.py", "x\n");
	put("agents/__pycache__/helper.cpython-311.pyc", "x\n");
	put("agents/only.pyc", "x\n"); /* no source: named as it is */
	put("agents/tool", "x\n");
	put("data/decl.txt", "x\n");
	put("data/read.txt", "x\n");
	put("data/state.txt", "x\n");
	put("data/stat.txt", "x\n");
	put("tasks/t1/input.txt", "x\n");
	put(".git/HEAD", "x\n");
	put("cache/tmp/1.0/task.json", "x\n");
	char *r[16];
	size_t n = 0;
	r[n++] = xasprintf("r%s/agents/__pycache__/helper.cpython-311.pyc", root);
	r[n++] = xasprintf("r%s/agents/only.pyc", root);
	r[n++] = xasprintf("x%s/agents/tool", root);
	r[n++] = xasprintf("r%s/data/decl.txt", root);
	r[n++] = xasprintf("r%s/data/read.txt", root);
	r[n++] = xasprintf("r%s/data/state.txt", root);
	r[n++] = xasprintf("w%s/data/state.txt", root);
	r[n++] = xasprintf("s%s/data/stat.txt", root);
	r[n++] = xasprintf("r%s/data/gone.txt", root);
	r[n++] = xasprintf("r%s/data", root);
	r[n++] = xasprintf("r%s/tasks/t1/input.txt", root);
	r[n++] = xasprintf("r%s/.git/HEAD", root);
	r[n++] = xasprintf("r%s/cache/tmp/1.0/task.json", root);
	r[n++] = xstrdup("r/etc/passwd");
	puttrace("t.trace", (const char *const *)r, n);
	for (size_t i = 0; i < n; i++)
		free(r[i]);

	struct declared dc = {.root = xstrdup(root)};
	char *p = xasprintf("%s/data/decl.txt", root);
	strvadd(&dc.files, p);
	free(p);
	p = xasprintf("%s/tasks/t1", root);
	strvadd(&dc.dirs, p);
	free(p);
	p = xasprintf("%s/cache", root);
	strvadd(&dc.dirs, p);
	free(p);
	struct strv out = {0};
	char *err;
	REQUIRE(undeclared("t.trace", &dc, &out, &err) == 0);
	REQUIRE(out.n == 4);
	CHECK_STR(out.v[0], "agents/helper.py");
	CHECK_STR(out.v[1], "agents/only.pyc");
	CHECK_STR(out.v[2], "agents/tool");
	CHECK_STR(out.v[3], "data/read.txt");
	strvfree(&out);
	CHECK_INT(undeclared("missing.trace", &dc, &out, &err), -1);
	CHECK_HAS(err, "missing.trace");
	free(err);
	freedeclared(&dc);
}

/* does the trace file hold the record kind+path? */
static int hasrec(const char *data, size_t len, char kind, const char *path)
{
	for (size_t i = 0; i < len; i += strlen(data + i) + 1)
		if (data[i] == kind && !strcmp(data + i + 1, path))
			return 1;
	return 0;
}

TEST(tracer_records_paths_against_cwd_and_dirfd)
{
	char root[PATH_MAX], *err;
	const char *d = intmpdir();

	if (tracecheck(&err) < 0) {
		fprintf(stderr, "  (skipped: %s)\n", err);
		free(err);
		return;
	}
	REQUIRE(realpath(d, root));
	put("a.txt", "a\n");
	put("sub/b.txt", "b\n");
	char *argv[] = {"__trace", "t.trace", "--", "/bin/sh", "-c",
	                "cd sub && cat ../a.txt >/dev/null && echo x >c.txt && "
	                "python3 -c 'import os; fd = os.open(\".\", os.O_RDONLY); os.close(os.open(\"b.txt\", os.O_RDONLY, dir_fd=fd))' && "
	                "exit 5",
	                NULL};
	CHECK_INT(tracemain(7, argv), 5);
	size_t len;
	char *data = readfile("t.trace", &len);
	REQUIRE(data);
	char *a = xasprintf("%s/a.txt", root), *b = xasprintf("%s/sub/b.txt", root), *c = xasprintf("%s/sub/c.txt", root);
	CHECK(hasrec(data, len, TRACE_READ, a));
	CHECK(hasrec(data, len, TRACE_READ, b));
	CHECK(hasrec(data, len, TRACE_WRITE, c));
	CHECK(!hasrec(data, len, TRACE_READ, c));
	CHECK(hasrec(data, len, TRACE_EXEC, "/bin/sh"));
	free(a);
	free(b);
	free(c);
	free(data);
}
