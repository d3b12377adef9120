/* test: a tiny unit-test harness.
 *
 * TEST(name) { ... } defines and registers a test; main.c runs them all in
 * file and line order. CHECK-style macros record a failure (with file:line)
 * and let the test go on; REQUIRE-style ones end the test on failure.
 * Temp folders made with tmpdir() are removed, and the working directory
 * restored, after each test, even one that ended early. */
#ifndef TEST_H
#define TEST_H

#include <stddef.h>

typedef void (*testfn)(void);

void testregister(const char *name, const char *file, int line, testfn fn);
void testfail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int checkstr(const char *file, int line, const char *expr, const char *a, const char *b);
int checkhas(const char *file, int line, const char *expr, const char *hay, const char *needle);
int checklong(const char *file, int line, const char *expr, long long a, long long b);

#define TEST(name)                                                                  \
	static void name(void);                                                         \
	__attribute__((constructor)) static void register_##name(void)                  \
	{                                                                               \
		testregister(#name, __FILE__, __LINE__, name);                              \
	}                                                                               \
	static void name(void)

#define CHECK(cond) ((cond) ? 1 : (testfail(__FILE__, __LINE__, "CHECK(%s)", #cond), 0))
#define CHECK_STR(a, b) checkstr(__FILE__, __LINE__, #a " == " #b, (a), (b))
/* hay contains needle */
#define CHECK_HAS(hay, needle) checkhas(__FILE__, __LINE__, #hay " contains " #needle, (hay), (needle))
#define CHECK_INT(a, b) checklong(__FILE__, __LINE__, #a " == " #b, (long long)(a), (long long)(b))
#define REQUIRE(cond)          \
	do {                       \
		if (!CHECK(cond))      \
			return;            \
	} while (0)

#include "core/hash.h"

struct store;
typedef struct sqlite3 sqlite3;

/* helpers (testutil.c) */

/* a fresh folder under /tmp, removed after the test; the path is the test's */
const char *tmpdir(void);
/* a fresh folder under /tmp that becomes the working directory until the
 * test ends */
const char *intmpdir(void);
/* write text to path (relative to the cwd), making parent folders */
void put(const char *path, const char *text);
/* the file's content (caller frees), or NULL */
char *slurp(const char *path);
/* set a file's mtime to now - ago seconds */
void setmtime(const char *path, double ago);
/* how many entries a folder holds (without . and ..), -1 when unreadable */
int countentries(const char *dir);
/* the hash of a string: a key for the store's tests */
hash strkey(const char *s);
/* openstore(dir); NULL, and the test fails, when it cannot be opened */
struct store *teststore(const char *dir);
/* a connection of the test's own to the cache index of dir (read-write,
 * waiting up to 10 s for a writer), or NULL */
sqlite3 *testdb(const char *dir);

/* after each test: back to the starting folder; remove the test's folders */
void testcleanup(void);

#endif
