/* hash: hex form, field framing, and the hash table. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "test.h"
#include "core/util.h"

static hash fields2(const char *a, const char *b)
{
	struct hasher h;

	hashstart(&h, "test");
	hashaddstr(&h, a);
	hashaddstr(&h, b);
	return hashend(&h);
}

TEST(hashhex_is_32_lowercase_hex_digits)
{
	char hx[33];

	hashhex(hashbytes("hello", 5), hx);
	CHECK_INT(strlen(hx), 32);
	CHECK_INT(strspn(hx, "0123456789abcdef"), 32);
}

TEST(hashhex_hashparse_round_trip)
{
	const char *inputs[] = {"", "a", "hello world", "\x00\xff"};

	for (size_t i = 0; i < LEN(inputs); i++) {
		hash h = hashbytes(inputs[i], strlen(inputs[i])), back = {0, 0};
		char hx[33], hx2[33];
		hashhex(h, hx);
		CHECK_INT(hashparse(hx, &back), 0);
		CHECK(hasheq(h, back));
		hashhex(back, hx2);
		CHECK_STR(hx2, hx);
	}
	hash z = {0, 0}, zb = {1, 1};
	char hx[33];
	hashhex(z, hx);
	CHECK_STR(hx, "00000000000000000000000000000000");
	CHECK_INT(hashparse(hx, &zb), 0);
	CHECK(hashzero(zb));
}

TEST(hashhex_is_xxh3_128_canonical_form)
{
	XXH128_canonical_t c;
	char want[33];
	char got[33];
	hash h = hashbytes("evalmake", 8);

	CHECK(hasheq(h, XXH3_128bits("evalmake", 8)));
	XXH128_canonicalFromHash(&c, h);
	for (int i = 0; i < 16; i++)
		snprintf(want + 2 * i, 3, "%02x", c.digest[i]);
	hashhex(h, got);
	CHECK_STR(got, want);
}

TEST(hashparse_rejects_non_hashes)
{
	hash h;

	CHECK_INT(hashparse("", &h), -1);
	CHECK_INT(hashparse("0123456789abcdef", &h), -1);
	CHECK_INT(hashparse("0123456789abcdef0123456789abcdeg", &h), -1);
	CHECK_INT(hashparse("zz23456789abcdef0123456789abcdef", &h), -1);
	CHECK_INT(hashparse("0123456789abcdef0123456789abcdef", &h), 0);
}

TEST(hasher_fields_are_length_prefixed)
{
	CHECK(!hasheq(fields2("ab", "c"), fields2("a", "bc")));
	CHECK(!hasheq(fields2("", "abc"), fields2("abc", "")));
	CHECK(hasheq(fields2("ab", "c"), fields2("ab", "c")));
}

TEST(hasher_tag_separates_domains)
{
	struct hasher h1, h2;

	hashstart(&h1, "run");
	hashaddstr(&h1, "x");
	hashstart(&h2, "grade");
	hashaddstr(&h2, "x");
	CHECK(!hasheq(hashend(&h1), hashend(&h2)));
}

TEST(hasher_u64_and_hash_fields_matter)
{
	struct hasher h;
	hash a, b, c;

	hashstart(&h, "t");
	hashaddu64(&h, 1);
	a = hashend(&h);
	hashstart(&h, "t");
	hashaddu64(&h, 2);
	b = hashend(&h);
	hashstart(&h, "t");
	hashaddhash(&h, hashbytes("x", 1));
	c = hashend(&h);
	CHECK(!hasheq(a, b));
	CHECK(!hasheq(a, c));
	CHECK(!hashzero(a));
}

TEST(htab_put_get_overwrite_iterate_100k)
{
	enum { N = 100000 };
	struct htab *t = mkhtab(0);
	char key[32];

	for (intptr_t i = 0; i < N; i++) {
		int n = snprintf(key, sizeof(key), "key%ld", (long)i);
		htabput(t, key, (size_t)n, (void *)(i + 1));
	}
	CHECK_INT(htabcount(t), N);
	int bad = 0;
	for (intptr_t i = 0; i < N; i++) {
		int n = snprintf(key, sizeof(key), "key%ld", (long)i);
		if (htabget(t, key, (size_t)n) != (void *)(i + 1))
			bad++;
	}
	CHECK_INT(bad, 0);
	CHECK(htabget(t, "key100000", 9) == NULL);
	CHECK(htabget(t, "key1", 3) == NULL);
	CHECK(htabslot(t, "nope", 4, 0) == NULL);

	htabput(t, "key5", 4, (void *)(intptr_t)-5);
	CHECK(htabget(t, "key5", 4) == (void *)(intptr_t)-5);
	CHECK_INT(htabcount(t), N);

	char *seen = xcalloc(N, 1);
	size_t pos = 0, klen;
	const void *k;
	void *v;
	long visits = 0;
	bad = 0;
	while (htabnext(t, &pos, &k, &klen, &v)) {
		char buf[32];
		visits++;
		if (klen >= sizeof(buf) || klen < 4) {
			bad++;
			continue;
		}
		memcpy(buf, k, klen);
		buf[klen] = '\0';
		long i = strtol(buf + 3, NULL, 10);
		if (i < 0 || i >= N || seen[i]++)
			bad++;
		else if (i != 5 && v != (void *)(intptr_t)(i + 1))
			bad++;
	}
	CHECK_INT(visits, N);
	CHECK_INT(bad, 0);
	free(seen);
	htabfree(t, NULL);
}

TEST(htab_binary_keys_and_lengths)
{
	struct htab *t = mkhtab(4);
	hash a = hashbytes("a", 1), b = hashbytes("b", 1);

	htabput(t, &a, sizeof(a), "A");
	htabput(t, &b, sizeof(b), "B");
	htabput(t, "a", 1, "short");
	htabput(t, "a\0", 2, "with nul");
	CHECK_INT(htabcount(t), 4);
	CHECK_STR(htabget(t, &a, sizeof(a)), "A");
	CHECK_STR(htabget(t, &b, sizeof(b)), "B");
	CHECK_STR(htabget(t, "a", 1), "short");
	CHECK_STR(htabget(t, "a\0", 2), "with nul");
	htabfree(t, NULL);
}

TEST(htab_slot_creates_null_and_free_frees_values)
{
	struct htab *t = mkhtab(1);
	void **slot = htabslot(t, "k", 1, 1);

	REQUIRE(slot != NULL);
	CHECK(*slot == NULL);
	CHECK_INT(htabcount(t), 1);
	*slot = xstrdup("owned");
	CHECK_STR(htabget(t, "k", 1), "owned");
	htabput(t, "empty", 5, NULL);
	htabfree(t, free); /* under ASan: no leak, no free(NULL) trouble */
}

TEST(htab_empty_iteration)
{
	struct htab *t = mkhtab(100);
	size_t pos = 0;

	CHECK_INT(htabnext(t, &pos, NULL, NULL, NULL), 0);
	CHECK_INT(htabcount(t), 0);
	htabfree(t, NULL);
	htabfree(NULL, NULL);
}
