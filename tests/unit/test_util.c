/* util: buffers, files, paths, edit distance. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "core/util.h"

TEST(buf_without_cap_grows)
{
	struct buf b = {0};

	for (int i = 0; i < 1000; i++)
		CHECK_INT(bufadds(&b, "0123456789"), 0);
	CHECK_INT(b.len, 10000);
	CHECK_INT(strlen(b.s), 10000);
	CHECK(!b.truncated);
	buffree(&b);
}

TEST(buf_cap_truncates_and_flags)
{
	struct buf b = {.max = 10};

	CHECK_INT(bufadds(&b, "hello"), 0);
	CHECK(!b.truncated);
	CHECK_INT(bufadds(&b, "world!!"), -1);
	CHECK(b.truncated);
	CHECK_INT(b.len, 10);
	CHECK_STR(b.s, "helloworld");
	CHECK_INT(bufaddc(&b, 'x'), -1);
	CHECK_INT(bufaddf(&b, "%d", 42), -1);
	CHECK_STR(b.s, "helloworld");
	buffree(&b);
}

TEST(buf_cap_exactly_full_is_not_truncated)
{
	struct buf b = {.max = 4};

	CHECK_INT(bufadds(&b, "abcd"), 0);
	CHECK(!b.truncated);
	CHECK_STR(b.s, "abcd");
	buffree(&b);
}

TEST(bufaddf_long_output)
{
	struct buf b = {0};
	char big[1001];

	memset(big, 'x', 1000);
	big[1000] = '\0';
	CHECK_INT(bufaddf(&b, "<%s>", big), 0);
	CHECK_INT(b.len, 1002);
	CHECK(b.s[0] == '<' && b.s[1001] == '>');
	buffree(&b);
}

TEST(bufaddjson_escapes)
{
	struct buf b = {0};
	const char in[] = "a\"b\\c\nd\te\x01";

	bufaddjson(&b, in, strlen(in));
	CHECK_STR(b.s, "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
	buffree(&b);
}

TEST(bufdetach_takes_string_and_resets)
{
	struct buf b = {0};
	char *s = bufdetach(&b);

	CHECK_STR(s, "");
	free(s);
	bufadds(&b, "abc");
	s = bufdetach(&b);
	CHECK_STR(s, "abc");
	CHECK(b.s == NULL && b.len == 0);
	free(s);
}

TEST(readfile_reads_binary_and_reports_missing)
{
	const char *d = tmpdir();
	char *p = pathjoin(d, "bin");
	size_t len = 0;

	CHECK_INT(writefile(p, "a\0b", 3), 0);
	char *s = readfile(p, &len);
	CHECK_INT(len, 3);
	CHECK(s && s[0] == 'a' && s[1] == '\0' && s[2] == 'b' && s[3] == '\0');
	free(s);
	free(p);
	p = pathjoin(d, "missing");
	errno = 0;
	CHECK(readfile(p, &len) == NULL);
	CHECK_INT(errno, ENOENT);
	free(p);
}

TEST(writefile_replaces_and_leaves_no_temp)
{
	const char *d = tmpdir();
	char *p = pathjoin(d, "f");

	CHECK_INT(writefile(p, "old", 3), 0);
	CHECK_INT(writefile(p, "new content", 11), 0);
	char *s = slurp(p);
	CHECK_STR(s, "new content");
	free(s);
	CHECK_INT(countentries(d), 1);
	free(p);
}

TEST(writefile_into_missing_folder_fails_cleanly)
{
	const char *d = tmpdir();
	char *p = pathjoin(d, "no/such/f");

	errno = 0;
	CHECK_INT(writefile(p, "x", 1), -1);
	CHECK_INT(errno, ENOENT);
	CHECK_INT(countentries(d), 0);
	free(p);
}

/* a reader never sees a mix or a half-written file while a writer rewrites */
TEST(writefile_is_atomic_for_readers)
{
	const char *d = tmpdir();
	char *p = pathjoin(d, "f");
	enum { SIZE = 200000 };
	char *a = xmalloc(SIZE), *b = xmalloc(SIZE);
	int bad = 0, reads = 0;

	memset(a, 'a', SIZE);
	memset(b, 'b', SIZE);
	CHECK_INT(writefile(p, a, SIZE), 0);
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 300; i++)
			if (writefile(p, i % 2 ? a : b, SIZE) < 0)
				_exit(1);
		_exit(0);
	}
	REQUIRE(pid > 0);
	int status;
	for (;;) {
		int done = waitpid(pid, &status, WNOHANG) == pid;
		size_t len;
		char *s = readfile(p, &len);
		reads++;
		if (!s || len != SIZE || (memcmp(s, a, SIZE) && memcmp(s, b, SIZE)))
			bad++;
		free(s);
		if (done)
			break;
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_INT(bad, 0);
	CHECK(reads > 1);
	CHECK_INT(countentries(d), 1);
	free(a);
	free(b);
	free(p);
}

TEST(mkdirs_makes_nested_and_accepts_existing)
{
	const char *d = tmpdir();
	char *p = pathjoin(d, "a/b/c");
	struct stat st;

	CHECK_INT(mkdirs(p, 0755), 0);
	CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_INT(mkdirs(p, 0755), 0);
	free(p);
}

TEST(mkdirs_fails_through_a_file)
{
	const char *d = tmpdir();
	char *f = pathjoin(d, "file");
	char *p = pathjoin(d, "file/sub");

	CHECK_INT(writefile(f, "x", 1), 0);
	CHECK_INT(mkdirs(p, 0755), -1);
	free(f);
	free(p);
}

TEST(rmtree_removes_nested_tree_and_ignores_missing)
{
	const char *d = tmpdir();
	char *top = pathjoin(d, "top");
	char *deep = pathjoin(d, "top/x/y");
	char *f1 = pathjoin(d, "top/f"), *f2 = pathjoin(d, "top/x/y/g");
	struct stat st;

	CHECK_INT(mkdirs(deep, 0755), 0);
	CHECK_INT(writefile(f1, "1", 1), 0);
	CHECK_INT(writefile(f2, "2", 1), 0);
	CHECK_INT(rmtree(top), 0);
	CHECK(lstat(top, &st) < 0 && errno == ENOENT);
	CHECK_INT(rmtree(top), 0);
	CHECK_INT(countentries(d), 0);
	free(top);
	free(deep);
	free(f1);
	free(f2);
}

TEST(rmtree_does_not_follow_symlinks)
{
	const char *d = tmpdir();
	const char *other = tmpdir();
	char *top = pathjoin(d, "top");
	char *link = pathjoin(d, "top/link");
	char *keep = pathjoin(other, "keep");

	CHECK_INT(mkdirs(top, 0755), 0);
	CHECK_INT(writefile(keep, "k", 1), 0);
	CHECK_INT(symlink(other, link), 0);
	CHECK_INT(rmtree(top), 0);
	CHECK_INT(countentries(other), 1);
	free(top);
	free(link);
	free(keep);
}

TEST(editdist_counts_edits)
{
	CHECK_INT(editdist("iterations", "iterations"), 0);
	CHECK_INT(editdist("iteratons", "iterations"), 1);
	CHECK_INT(editdist("kitten", "sitting"), 3);
	CHECK_INT(editdist("", "abc"), 3);
	CHECK_INT(editdist("abc", ""), 3);
	CHECK_INT(editdist("tmieout", "timeout"), 2);
	CHECK_INT(editdist("grader", "agent"), editdist("agent", "grader"));
}

TEST(pathjoin_cases)
{
	char *s;

	CHECK_STR(s = pathjoin("a", "b"), "a/b");
	free(s);
	CHECK_STR(s = pathjoin("a/", "b"), "a/b");
	free(s);
	CHECK_STR(s = pathjoin(".", "b"), "b");
	free(s);
	CHECK_STR(s = pathjoin("", "b"), "b");
	free(s);
	CHECK_STR(s = pathjoin("a", "/abs/b"), "/abs/b");
	free(s);
	CHECK_STR(s = pathjoin("/", "b"), "/b");
	free(s);
}

TEST(dirname_and_basename_cases)
{
	char *s;

	CHECK_STR(s = dirname_of("a/b/c.txt"), "a/b");
	free(s);
	CHECK_STR(s = dirname_of("c.txt"), ".");
	free(s);
	CHECK_STR(s = dirname_of("/c.txt"), "/");
	free(s);
	CHECK_STR(s = basename_of("a/b/c.json", 1), "c");
	free(s);
	CHECK_STR(s = basename_of("a/b/c.json", 0), "c.json");
	free(s);
	CHECK_STR(s = basename_of("x.tar.gz", 1), "x.tar");
	free(s);
	CHECK_STR(s = basename_of("dir/.hidden", 1), ".hidden");
	free(s);
	CHECK_STR(s = basename_of("plain", 1), "plain");
	free(s);
}

TEST(trim_strips_both_ends)
{
	char a[] = " \t x y \n", b[] = "   ", c[] = "z";

	CHECK_STR(trim(a), "x y");
	CHECK_STR(trim(b), "");
	CHECK_STR(trim(c), "z");
}

TEST(xasprintf_and_strndup)
{
	char *s = xasprintf("%s-%d", "a", 7);
	char *t = xstrndup("abcdef", 3);

	CHECK_STR(s, "a-7");
	CHECK_STR(t, "abc");
	free(s);
	free(t);
}

/* a report written to /dev/null must not replace the device with a file
 * (the atomic rename did, as root) */
TEST(util_writefile_keeps_a_device_a_device)
{
	struct stat st;

	CHECK_INT(writefile("/dev/null", "x", 1), 0);
	CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
}

TEST(netfsname_says_nothing_of_local_folders_made_or_not)
{
	const char *d = tmpdir();
	char *deep = pathjoin(d, "not/made/yet");

	/* the test folder is on a local disk (or tmpfs) on these machines */
	CHECK(netfsname(d) == NULL);
	CHECK(netfsname(deep) == NULL); /* asked of its nearest parent */
	CHECK(netfsname("/proc") == NULL);
	free(deep);
}
