/* main: run every registered test (or those whose name contains an
 * argument), report failures, and end with "N passed, M failed". */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

struct test {
	const char *name, *file;
	int line;
	testfn fn;
};

static struct test *tests;
static size_t ntests, captests;
static int failures; /* in the running test */
static const char *current;

void testregister(const char *name, const char *file, int line, testfn fn)
{
	if (ntests == captests) {
		captests = captests ? 2 * captests : 64;
		tests = realloc(tests, captests * sizeof(*tests));
		if (!tests)
			abort();
	}
	tests[ntests++] = (struct test){name, file, line, fn};
}

void testfail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "FAIL %s: %s:%d: ", current, file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failures++;
}

int checkstr(const char *file, int line, const char *expr, const char *a, const char *b)
{
	if (a && b && !strcmp(a, b))
		return 1;
	testfail(file, line, "%s: got \"%s\", want \"%s\"", expr, a ? a : "(null)", b ? b : "(null)");
	return 0;
}

int checkhas(const char *file, int line, const char *expr, const char *hay, const char *needle)
{
	if (hay && needle && strstr(hay, needle))
		return 1;
	testfail(file, line, "%s: \"%s\" lacks \"%s\"", expr, hay ? hay : "(null)", needle ? needle : "(null)");
	return 0;
}

int checklong(const char *file, int line, const char *expr, long long a, long long b)
{
	if (a == b)
		return 1;
	testfail(file, line, "%s: got %lld, want %lld", expr, a, b);
	return 0;
}

static int cmptest(const void *x, const void *y)
{
	const struct test *a = x, *b = y;
	int c = strcmp(a->file, b->file);

	return c ? c : (a->line > b->line) - (a->line < b->line);
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;

	qsort(tests, ntests, sizeof(*tests), cmptest);
	for (size_t i = 0; i < ntests; i++) {
		int wanted = argc < 2;
		for (int j = 1; j < argc; j++)
			if (strstr(tests[i].name, argv[j]))
				wanted = 1;
		if (!wanted)
			continue;
		current = tests[i].name;
		failures = 0;
		tests[i].fn();
		testcleanup();
		if (failures)
			failed++;
		else
			passed++;
	}
	free(tests);
	fflush(stderr);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
