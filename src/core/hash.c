/* hash: xxHash3-128 hashers and an open-addressing hash table. */
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/util.h"

void hashstart(struct hasher *h, const char *tag)
{
	h->st = XXH3_createState();
	if (!h->st)
		fatal(EXIT_GATE, "out of memory");
	XXH3_128bits_reset(h->st);
	hashaddstr(h, tag);
}

void hashadd(struct hasher *h, const void *p, size_t n)
{
	uint64_t len = n;

	XXH3_128bits_update(h->st, &len, sizeof(len));
	XXH3_128bits_update(h->st, p, n);
}

void hashaddstr(struct hasher *h, const char *s)
{
	hashadd(h, s ? s : "", s ? strlen(s) : 0);
}

void hashaddhash(struct hasher *h, hash x)
{
	XXH3_128bits_update(h->st, &x.low64, 8);
	XXH3_128bits_update(h->st, &x.high64, 8);
}

void hashaddu64(struct hasher *h, uint64_t v)
{
	XXH3_128bits_update(h->st, &v, sizeof(v));
}

hash hashend(struct hasher *h)
{
	hash x = XXH3_128bits_digest(h->st);

	XXH3_freeState(h->st);
	h->st = NULL;
	return x;
}

hash hashbytes(const void *p, size_t n)
{
	return XXH3_128bits(p, n);
}

void hashhex(hash x, char out[33])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < 16; i++) {
		uint64_t w = i < 8 ? x.high64 : x.low64;
		unsigned byte = (unsigned)(w >> (8 * (7 - (i % 8)))) & 0xff;
		out[2 * i] = hex[byte >> 4];
		out[2 * i + 1] = hex[byte & 15];
	}
	out[32] = '\0';
}

/* hex digit values; 16 marks a character that is not one */
static const unsigned char hexval[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

int hashparse(const char *s, hash *x)
{
	uint64_t w[2] = {0, 0};

	/* the table holds value + 1, so 0 means "not a digit" (and stops at
	 * the NUL of a short string) */
	for (int i = 0; i < 32; i++) {
		unsigned v = hexval[(unsigned char)s[i]];
		if (!v)
			return -1;
		w[i / 16] = (w[i / 16] << 4) | (v - 1);
	}
	x->high64 = w[0];
	x->low64 = w[1];
	return 0;
}

int hasheq(hash a, hash b)
{
	return a.low64 == b.low64 && a.high64 == b.high64;
}

int hashzero(hash a)
{
	return !a.low64 && !a.high64;
}

struct slot {
	uint64_t h;      /* 0 means empty */
	char *key;
	size_t keylen;
	void *val;
};

struct htab {
	struct slot *s;
	size_t cap, count;  /* cap is a power of two */
	/* keys live in chunks freed with the table: entries are never removed
	 * one by one, and a malloc per key is most of the cost of a big load */
	char **chunks;
	size_t nchunks, chunkcap, left;
	char *next;
};

static char *keycopy(struct htab *t, const void *key, size_t len)
{
	if (len + 1 > t->left) {
		size_t size = len + 1 > 65536 ? len + 1 : 65536;
		xgrow(&t->chunks, &t->chunkcap, t->nchunks + 1, sizeof(*t->chunks));
		t->next = t->chunks[t->nchunks++] = xmalloc(size);
		t->left = size;
	}
	char *k = t->next;
	memcpy(k, key, len);
	k[len] = '\0';
	t->next += len + 1;
	t->left -= len + 1;
	return k;
}

struct htab *mkhtab(size_t hint)
{
	struct htab *t = xcalloc(1, sizeof(*t));

	t->cap = 16;
	while (t->cap < hint * 2)
		t->cap *= 2;
	t->s = xcalloc(t->cap, sizeof(*t->s));
	return t;
}

static uint64_t keyhash(const void *key, size_t len)
{
	uint64_t h = XXH3_64bits(key, len);

	return h ? h : 1;
}

static struct slot *find(struct htab *t, uint64_t h, const void *key, size_t len)
{
	size_t i = (size_t)h & (t->cap - 1);

	for (;;) {
		struct slot *s = &t->s[i];
		if (!s->h || (s->h == h && s->keylen == len && !memcmp(s->key, key, len)))
			return s;
		i = (i + 1) & (t->cap - 1);
	}
}

static void grow(struct htab *t)
{
	struct slot *old = t->s;
	size_t oldcap = t->cap;

	t->cap *= 2;
	t->s = xcalloc(t->cap, sizeof(*t->s));
	for (size_t i = 0; i < oldcap; i++) {
		if (!old[i].h)
			continue;
		size_t j = (size_t)old[i].h & (t->cap - 1);
		while (t->s[j].h)
			j = (j + 1) & (t->cap - 1);
		t->s[j] = old[i];
	}
	free(old);
}

void **htabslot(struct htab *t, const void *key, size_t keylen, int create)
{
	uint64_t h = keyhash(key, keylen);
	struct slot *s = find(t, h, key, keylen);

	if (s->h)
		return &s->val;
	if (!create)
		return NULL;
	if ((t->count + 1) * 4 > t->cap * 3) {
		grow(t);
		s = find(t, h, key, keylen);
	}
	s->h = h;
	s->key = keycopy(t, key, keylen);
	s->keylen = keylen;
	s->val = NULL;
	t->count++;
	return &s->val;
}

void *htabget(struct htab *t, const void *key, size_t keylen)
{
	void **v = htabslot(t, key, keylen, 0);

	return v ? *v : NULL;
}

void htabput(struct htab *t, const void *key, size_t keylen, void *val)
{
	*htabslot(t, key, keylen, 1) = val;
}

size_t htabcount(struct htab *t)
{
	return t->count;
}

int htabnext(struct htab *t, size_t *pos, const void **key, size_t *keylen, void **val)
{
	while (*pos < t->cap) {
		struct slot *s = &t->s[(*pos)++];
		if (!s->h)
			continue;
		if (key)
			*key = s->key;
		if (keylen)
			*keylen = s->keylen;
		if (val)
			*val = s->val;
		return 1;
	}
	return 0;
}

void htabfree(struct htab *t, void (*freeval)(void *))
{
	if (!t)
		return;
	for (size_t i = 0; freeval && i < t->cap; i++)
		if (t->s[i].h && t->s[i].val)
			freeval(t->s[i].val);
	for (size_t i = 0; i < t->nchunks; i++)
		free(t->chunks[i]);
	free(t->chunks);
	free(t->s);
	free(t);
}
