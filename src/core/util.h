/* util: the small helpers every module uses.
 *
 * Errors: die() prints "evalmake: MESSAGE" and exits 2 (bad usage or input is
 * the common fatal case); warn() prints and returns. A format ending in ':'
 * gets ": strerror(errno)" appended, as in samurai.
 * Allocation never returns NULL: it dies instead.
 * struct buf is a growable byte buffer with a hard cap; bufadd past the cap
 * fails cleanly (returns -1) and keeps what fit. */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <sys/types.h>

#define EXIT_GATE 1      /* a gate failed or a cell errored */
#define EXIT_USAGE 2     /* bad usage or a bad Evalfile: nothing was run */
#define EXIT_INTR 130    /* interrupted */

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* print "evalmake: fmt" (+ strerror if fmt ends in ':') and exit with code */
_Noreturn void fatal(int code, const char *fmt, ...);
/* fatal(EXIT_USAGE, ...) */
_Noreturn void die(const char *fmt, ...);
/* print a warning to stderr, same ':' convention */
void warn(const char *fmt, ...);

/* allocators that never return NULL */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* grow an array *p of *cap elements of size so that it holds at least need */
void xgrow(void *pp, size_t *cap, size_t need, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* a freshly allocated formatted string */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct buf {
	char *s;        /* always NUL-terminated when non-NULL */
	size_t len, cap;
	size_t max;     /* hard maximum of len; 0 means no cap */
	int truncated;  /* set once an add did not fit */
};

/* append n bytes; returns -1 (and keeps what fits) when past the cap */
int bufadd(struct buf *b, const void *p, size_t n);
int bufadds(struct buf *b, const char *s);
int bufaddc(struct buf *b, int c);
int bufaddf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* append s as a JSON string literal with quotes */
void bufaddjson(struct buf *b, const char *s, size_t n);
/* take the buffer's string (caller frees); the buffer is reset */
char *bufdetach(struct buf *b);
void buffree(struct buf *b);

#define READ_MAX ((size_t)1 << 30)  /* bytes: the largest file readfile reads */
/* a whole regular file (never a FIFO, device or directory, which would
 * block or never end) of at most READ_MAX bytes into a NUL-terminated
 * malloc'd string; NULL with errno set, and filewhy(errno) says why */
char *readfile(const char *path, size_t *len);
#define TEMPLATE_MAX ((size_t)16 << 20) /* bytes: a prompt template or rubric */
/* the same with a cap of max bytes (0: none) */
char *readfilemax(const char *path, size_t *len, size_t max);
/* open a regular file of at most max bytes (0: any size) for reading,
 * without blocking on a FIFO; its size in *size; -1 with errno set */
int regularfd(const char *path, size_t max, off_t *size);
/* the reason of the last failure of readfile or regularfd, when err is
 * still its errno ("is a FIFO, not a regular file", "is 2.0 GiB, past the
 * limit of 1.0 GiB"); else strerror(err) */
const char *filewhy(int err);
/* what a file of that mode is, in words: "a FIFO", "a socket" ... */
const char *filekind(mode_t m);
/* write a file atomically and durably: temp file beside it, fsync'ed,
 * renamed, and its folder fsync'ed (a device or pipe such as /dev/null is
 * written as it is); -1 with errno */
int writefile(const char *path, const void *data, size_t len);
/* mkdir -p; -1 with errno */
int mkdirs(const char *path, mode_t mode);
/* rm -rf; -1 on failure */
int rmtree(const char *path);
/* fsync a file or folder, so what it holds survives a power cut; -1 with
 * errno (a file system that cannot sync folders counts as success) */
int syncpath(const char *path);
/* fsync the folder that holds path: makes a rename or create in it durable */
int syncparent(const char *path);
/* fsync every regular file and folder under path (symlinks not followed);
 * -1 with errno when one failed */
int synctree(const char *path);
/* "dir/name", or name alone when it is absolute or dir is "" or "." */
char *pathjoin(const char *dir, const char *name);
/* the kind of network file system path (or, when it does not exist yet,
 * its nearest existing parent) is on: "nfs", "cifs", "ceph", ...; NULL for
 * a local one, or when it cannot be told */
const char *netfsname(const char *path);
/* the directory part of path ("." when none) */
char *dirname_of(const char *path);
/* final path component, without extension when stripext */
char *basename_of(const char *path, int stripext);

/* seconds since an arbitrary point, monotonic */
double now(void);
/* strip leading and trailing whitespace in place; returns start */
char *trim(char *s);
/* is name a file editors drop beside the files they save (vim's .*.swp and
 * 4913 probe, backups ending in ~, emacs's .#locks)? Neither a task's
 * input nor a change to watch. */
int editorjunk(const char *name);
/* decode one UTF-8 character at s (n > 0 bytes left, RFC 3629: no
 * overlongs, no surrogates, nothing past U+10FFFF): its length, with the
 * code point in *cp, or 1 with *cp = 0xFFFD for an invalid sequence */
size_t utf8dec(const unsigned char *s, size_t n, uint32_t *cp);
/* are the n bytes at s valid UTF-8? */
int utf8valid(const char *s, size_t n);
/* does JSON text hold an escaped NUL (\u0000) inside a string? */
int jsonnul(const char *s, size_t n);
/* the 1-based line of byte off in s */
int lineat(const char *s, size_t off);
/* does s[0..n) hold a NUL byte (text read as a C string would end there)?
 * *off is the first one's offset (loaders name FILE:LINE with lineat).
 * Bytes that are not UTF-8 are data, shown as U+FFFD in reports */
int hasnul(const char *s, size_t n, size_t *off);
/* the Levenshtein distance of two short strings */
int editdist(const char *a, const char *b);

#endif
