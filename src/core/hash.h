/* hash: xxHash3-128 content hashes, as used for every key in the cache,
 * and the hash table the rest of the program indexes by them.
 *
 * A hash is written as 32 lowercase hex digits. A hasher feeds fields with
 * their length in front, so ("ab","c") and ("a","bc") never collide. */
#ifndef HASH_H
#define HASH_H

#include <stddef.h>
#include <stdint.h>
#include <xxhash.h>

typedef XXH128_hash_t hash;

struct hasher {
	XXH3_state_t *st;
};

/* start a hasher with a domain tag ("run", "grade", ...) */
void hashstart(struct hasher *h, const char *tag);
/* add a length-prefixed field */
void hashadd(struct hasher *h, const void *p, size_t n);
void hashaddstr(struct hasher *h, const char *s);
void hashaddhash(struct hasher *h, hash x);
void hashaddu64(struct hasher *h, uint64_t v);
/* finish and free the hasher's state */
hash hashend(struct hasher *h);
/* hash of one buffer */
hash hashbytes(const void *p, size_t n);
/* 32 hex digits and a NUL into out */
void hashhex(hash x, char out[33]);
/* parse 32 hex digits; -1 when s is not one */
int hashparse(const char *s, hash *x);
int hasheq(hash a, hash b);
int hashzero(hash a);

/* An open-addressing hash table from byte-string keys to pointers.
 * Keys are copied; values are the caller's. Workload: up to millions of
 * entries built once per run, then mostly looked up. */
struct htab;

struct htab *mkhtab(size_t hint);
/* the value slot for key (created holding NULL when absent and create) */
void **htabslot(struct htab *t, const void *key, size_t keylen, int create);
void *htabget(struct htab *t, const void *key, size_t keylen);
void htabput(struct htab *t, const void *key, size_t keylen, void *val);
size_t htabcount(struct htab *t);
/* iterate: *pos starts at 0; returns 0 at the end */
int htabnext(struct htab *t, size_t *pos, const void **key, size_t *keylen, void **val);
/* free the table, and each value with freeval when it is non-NULL */
void htabfree(struct htab *t, void (*freeval)(void *));

#endif
