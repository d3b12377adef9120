/* Tests of what the remote cache moves: a folder as an archive blob and
 * back (store/archive.h), a run entry as a blob and back into another
 * store (store.h packrun/unpackrun), and the remote URL check. The
 * protocol itself is tested against real servers in tests/e2e/remote.sh. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "core/hash.h"
#include "core/util.h"
#include "load/evalfile.h"
#include "store/archive.h"
#include "store/store.h"

static char *meta(const char *output)
{
	char hx[33];

	hashhex(strkey(output), hx);
	return xasprintf("{\"output_hash\": \"%s\", \"exit\": 0, \"seconds\": 1.5}", hx);
}

TEST(archive_round_trip_keeps_files_folders_and_modes)
{
	const char *d = intmpdir();
	char *err = NULL;
	size_t len;

	put("a/one.txt", "one\n");
	put("a/sub/deeper/two.bin", "two");
	put("a/empty.txt", "");
	mkdir("a/emptydir", 0755);
	chmod("a/one.txt", 0750);
	char *blob = packfolder("a", &len, &err);
	REQUIRE(blob != NULL);
	CHECK(!archiveempty(blob, len));
	mkdir("b", 0755);
	CHECK_INT(unpackfolder(blob, len, "b", &err), 0);
	char *t = slurp("b/sub/deeper/two.bin");
	CHECK_STR(t, "two");
	free(t);
	t = slurp("b/empty.txt");
	CHECK_STR(t, "");
	free(t);
	struct stat st;
	CHECK(stat("b/emptydir", &st) == 0 && S_ISDIR(st.st_mode));
	CHECK(stat("b/one.txt", &st) == 0 && (st.st_mode & 0777) == 0750);
	/* the same folder gives the same blob (the same SHA-256 remotely) */
	size_t len2;
	char *again = packfolder("b", &len2, &err);
	CHECK(again && len2 == len && !memcmp(again, blob, len));
	free(again);
	free(blob);
	(void)d;
}

TEST(archive_refuses_unsafe_paths_and_garbage)
{
	intmpdir();
	mkdir("out", 0755);
	static const char *const bad[] = {
		"evalmake-artifacts 1\nF 644 9 1\n../escapex",
		"evalmake-artifacts 1\nF 644 5 1\n/etc/x",
		"evalmake-artifacts 1\nF 644 4 1\na/./x",
		"evalmake-artifacts 1\nF 644 4 100\nabcdx",
		"evalmake-artifacts 1\nL 644 1 1\nax",
		"not an archive",
	};
	for (size_t i = 0; i < LEN(bad); i++) {
		char *err = NULL;
		CHECK(unpackfolder(bad[i], strlen(bad[i]), "out", &err) < 0);
		CHECK(err != NULL);
		free(err);
	}
	CHECK(access("escapex", F_OK) < 0);
	CHECK_INT(countentries("out"), 0);
	char *err = NULL;
	const char *empty = "evalmake-artifacts 1\n";
	CHECK(archiveempty(empty, strlen(empty)));
	/* packrun gives no blob for an empty artifacts folder: see store.h */
	CHECK_INT(unpackfolder(empty, strlen(empty), "out", &err), 0);
}

TEST(packrun_unpackrun_moves_an_entry_between_stores)
{
	const char *d = tmpdir();
	char *a = pathjoin(d, "a"), *b = pathjoin(d, "b"), *err = NULL;
	struct store *sa = teststore(a), *sb = teststore(b);
	REQUIRE(sa && sb);

	/* a command agent's entry: a folder with artifacts */
	char *tmp = newentry(sa, 1), *m = meta("the answer");
	char *p = pathjoin(tmp, "output");
	writefile(p, "the answer", 10);
	free(p);
	p = pathjoin(tmp, "meta.json");
	writefile(p, m, strlen(m));
	free(p);
	p = pathjoin(tmp, "transcript");
	writefile(p, "thinking", 8);
	free(p);
	p = pathjoin(tmp, "artifacts/report.txt");
	writefile(p, "artifact", 8);
	free(p);
	struct runrec rec = {.out = strkey("the answer"), .seconds = 1.5};
	REQUIRE(commitrun(sa, strkey("k"), tmp, &rec, 0) == 0);
	free(tmp);

	size_t len, alen;
	char *art, *blob = packrun(sa, strkey("k"), &len, &art, &alen);
	REQUIRE(blob != NULL);
	CHECK(art != NULL && alen > 0);
	size_t nlen, nalen;
	char *nart;
	CHECK(packrun(sa, strkey("nothing"), &nlen, &nart, &nalen) == NULL);
	REQUIRE(art != NULL);
	CHECK_INT(unpackrun(sb, strkey("k"), blob, len, art, alen, &err), 0);
	const struct runrec *r = findrun(sb, strkey("k"));
	REQUIRE(r != NULL);
	CHECK(hasheq(r->out, strkey("the answer")));
	char *t = entrypart(sb, strkey("k"), "transcript", NULL);
	CHECK_STR(t, "thinking");
	free(t);
	char *dir = entryartifacts(sb, strkey("k"));
	REQUIRE(dir != NULL);
	char *ap = pathjoin(dir, "report.txt");
	t = slurp(ap);
	CHECK_STR(t, "artifact");
	free(t);
	free(ap);
	free(dir);

	/* a blob whose output is not the one its meta.json names is refused */
	char *bad = xstrdup(blob);
	char *o = memmem(bad, len, "the answer", 10);
	REQUIRE(o != NULL);
	o[0] = 'T';
	CHECK(unpackrun(sb, strkey("k2"), bad, len, NULL, 0, &err) < 0);
	CHECK(err != NULL);
	free(err);
	err = NULL;
	CHECK(findrun(sb, strkey("k2")) == NULL);
	/* a blob naming a part twice: the first output is read, the last one
	 * would be checked; refused */
	char *twice = xasprintf("evalmake-entry 1\noutput 5\nwrongoutput 10\nthe answermeta.json %zu\n%s", strlen(m), m);
	CHECK(unpackrun(sb, strkey("k4"), twice, strlen(twice), NULL, 0, &err) < 0);
	free(err);
	err = NULL;
	CHECK(findrun(sb, strkey("k4")) == NULL);
	free(twice);
	/* and a truncated one */
	CHECK(unpackrun(sb, strkey("k3"), blob, len - 3, NULL, 0, &err) < 0);
	free(err);
	CHECK(findrun(sb, strkey("k3")) == NULL);
	free(bad);
	free(blob);
	free(art);
	free(m);
	closestore(sa);
	closestore(sb);
	free(a);
	free(b);
}

TEST(badremoteurl_accepts_http_and_s3_refuses_the_rest)
{
	CHECK(badremoteurl("http://127.0.0.1:8080/cache") == NULL);
	CHECK(badremoteurl("https://user:pw@cache.example.com/team") == NULL);
	CHECK(badremoteurl("s3://bucket") == NULL);
	CHECK(badremoteurl("s3://my.bucket/some/prefix?region=eu-west-1&endpoint=http://127.0.0.1:9000") == NULL);
	CHECK(badremoteurl("ftp://x/y") != NULL);
	CHECK(badremoteurl("s3://") != NULL);
	CHECK(badremoteurl("s3://b/p?regio=x") != NULL);
	CHECK(badremoteurl("s3://b/p?endpoint=file:///etc") != NULL);
	CHECK(badremoteurl("s3://b c/p") != NULL);
	CHECK(badremoteurl("http://") != NULL);
	/* ac/ and cas/ go on the path: a query or fragment would eat them */
	CHECK(badremoteurl("http://127.0.0.1:8080/cache?x=1") != NULL);
	CHECK(badremoteurl("https://h/cache#frag") != NULL);
}
