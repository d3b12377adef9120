/* state: the stat cache and the memo table, kept as one text file that is
 * read once at start and rewritten (temp file + rename) at the end of a run
 * when something changed. Lines:
 *   F size mtime_ns ctime_ns inode device hash derived path
 * (derived: a hash computed from the file's content by a caller, or "-")
 *   M key hash hash
 * A file modified less than a second before it was hashed is not recorded:
 * a second write in the same clock tick could keep its stat data (git's
 * "racy clean" problem), so such a file is simply re-hashed next time. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/state.h"
#include "core/util.h"

#define STATEHEADER "evalmake-state 2\n"

struct fileinfo {
	struct stamp st;     /* the stat data h was computed under */
	hash h;
	hash derived;        /* derivedput's, for content h */
	int hasderived;
	int racy;
};

struct state {
	char *path;
	struct htab *files;  /* path -> struct fileinfo */
	struct htab *memo;   /* 16-byte key -> hash[2] */
	int dirty;
};

static long long nsec(struct timespec ts)
{
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* a decimal number and the space after it; -1 at *ok when malformed */
static long long field(char **p, int *ok)
{
	char *end;
	long long v = strtoll(*p, &end, 10);

	if (end == *p || *end != ' ')
		*ok = 0;
	*p = end + (*end == ' ');
	return v;
}

/* a hash and the separator after it */
static int hashfield(char **p, hash *h)
{
	if (hashparse(*p, h) < 0 || ((*p)[32] != ' ' && (*p)[32] != '\0'))
		return -1;
	*p += 32 + ((*p)[32] == ' ');
	return 0;
}

static void load(struct state *s, char *text, size_t len)
{
	char *p, *end;

	if (strncmp(text, STATEHEADER, strlen(STATEHEADER)))
		return;
	for (p = text + strlen(STATEHEADER); p < text + len; p = end + 1) {
		end = memchr(p, '\n', (size_t)(text + len - p));
		if (!end)
			break; /* a torn last line */
		*end = '\0';
		if (p[0] == 'F' && p[1] == ' ') {
			struct fileinfo fi = {0};
			int ok = 1;
			char *q = p + 2;
			fi.st.size = field(&q, &ok);
			fi.st.mtime = field(&q, &ok);
			fi.st.ctime = field(&q, &ok);
			fi.st.ino = field(&q, &ok);
			fi.st.dev = field(&q, &ok);
			if (!ok || hashfield(&q, &fi.h) < 0 || !*q)
				continue;
			if (q[0] == '-' && q[1] == ' ')
				q += 2;
			else if (hashfield(&q, &fi.derived) == 0)
				fi.hasderived = 1;
			else
				continue;
			if (!*q)
				continue;
			void **slot = htabslot(s->files, q, (size_t)(end - q), 1);
			if (!*slot)
				*slot = xmalloc(sizeof(fi));
			*(struct fileinfo *)*slot = fi;
		} else if (p[0] == 'M' && p[1] == ' ') {
			hash k, v[2];
			char *q = p + 2;
			if (hashfield(&q, &k) < 0 || hashfield(&q, &v[0]) < 0 || hashfield(&q, &v[1]) < 0)
				continue;
			void **slot = htabslot(s->memo, &k, sizeof(k), 1);
			if (!*slot)
				*slot = xmalloc(sizeof(v));
			memcpy(*slot, v, sizeof(v));
		}
	}
}

struct state *openstate(const char *cachedir)
{
	struct state *s = xcalloc(1, sizeof(*s));
	char *text;

	size_t len = 0, lines = 0;

	s->path = pathjoin(cachedir, "state");
	text = readfile(s->path, &len);
	/* size the tables once: a line is a file or a memo */
	for (char *p = text; p && (p = memchr(p, '\n', (size_t)(text + len - p))); p++)
		lines++;
	s->files = mkhtab(lines / 2 + 64);
	s->memo = mkhtab(lines / 2 + 64);
	if (text) {
		load(s, text, len);
		free(text);
	}
	return s;
}

static int hashfd(int fd, hash *out)
{
	XXH3_state_t *st = XXH3_createState();
	char buf[65536];
	ssize_t n;

	if (!st)
		fatal(EXIT_GATE, "out of memory");
	XXH3_128bits_reset(st);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			XXH3_freeState(st);
			return -1;
		}
		XXH3_128bits_update(st, buf, (size_t)n);
	}
	*out = XXH3_128bits_digest(st);
	XXH3_freeState(st);
	return 0;
}

static void tostamp(const struct stat *st, struct stamp *out)
{
	*out = (struct stamp){st->st_size, nsec(st->st_mtim), nsec(st->st_ctim), (long long)st->st_ino,
	                      (long long)st->st_dev};
}

int stampnow(const char *path, struct stamp *out)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	tostamp(&st, out);
	return 0;
}

int stampeq(const struct stamp *a, const struct stamp *b)
{
	return a->size == b->size && a->mtime == b->mtime && a->ctime == b->ctime && a->ino == b->ino && a->dev == b->dev;
}

int hashedstamp(struct state *s, const char *path, struct stamp *st, hash *h)
{
	struct fileinfo *fi = htabget(s->files, path, strlen(path));

	if (!fi)
		return -1;
	if (st)
		*st = fi->st;
	if (h)
		*h = fi->h;
	return 0;
}

int filehash(struct state *s, const char *path, hash *out)
{
	struct stat sb;
	struct stamp now;
	size_t len = strlen(path);
	void **slot;
	struct fileinfo *fi;

	if (stat(path, &sb) < 0)
		return -1;
	if (S_ISDIR(sb.st_mode)) {
		errno = EISDIR;
		return -1;
	}
	tostamp(&sb, &now);
	slot = htabslot(s->files, path, len, 1);
	fi = *slot;
	if (fi && !fi->racy && stampeq(&fi->st, &now)) {
		*out = fi->h;
		return 0;
	}
	/* a FIFO or a device (a task glob may match one) would block or
	 * never end: only regular files are hashed */
	int fd = regularfd(path, 0, NULL);
	if (fd < 0)
		return -1;
	int r = hashfd(fd, out);
	int err = errno;
	close(fd);
	if (r < 0) {
		errno = err;
		return -1;
	}
	if (!fi)
		fi = *slot = xcalloc(1, sizeof(*fi));
	if (!hasheq(fi->h, *out))
		fi->hasderived = 0;
	fi->st = now;
	fi->h = *out;
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	fi->racy = nsec(wall) - fi->st.mtime < 1000000000LL || nsec(wall) - fi->st.ctime < 1000000000LL;
	s->dirty = 1;
	return 0;
}

int samecontent(struct state *s, const char *path, struct stamp *now)
{
	struct fileinfo *fi = htabget(s->files, path, strlen(path));
	hash h;

	if (!fi || stampnow(path, now) < 0)
		return -1;
	/* a racy record may hide a write in the same clock tick: read it */
	if (stampeq(&fi->st, now) && !fi->racy)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = hashfd(fd, &h);
	close(fd);
	if (r < 0 || !hasheq(h, fi->h))
		return -1;
	fi->st = *now;
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	fi->racy = nsec(wall) - now->mtime < 1000000000LL || nsec(wall) - now->ctime < 1000000000LL;
	s->dirty = 1;
	return 0;
}

int derivedget(struct state *s, const char *path, hash content, hash *out)
{
	struct fileinfo *fi = htabget(s->files, path, strlen(path));

	if (!fi || !fi->hasderived || !hasheq(fi->h, content))
		return -1;
	*out = fi->derived;
	return 0;
}

void derivedput(struct state *s, const char *path, hash content, hash derived)
{
	struct fileinfo *fi = htabget(s->files, path, strlen(path));

	if (!fi || !hasheq(fi->h, content) || (fi->hasderived && hasheq(fi->derived, derived)))
		return;
	fi->derived = derived;
	fi->hasderived = 1;
	s->dirty = 1;
}

void forgetfile(struct state *s, const char *path)
{
	void **slot = htabslot(s->files, path, strlen(path), 0);

	if (slot && *slot)
		((struct fileinfo *)*slot)->racy = 1;
}

int memoget(struct state *s, hash key, hash val[2])
{
	hash *v = htabget(s->memo, &key, sizeof(key));

	if (!v)
		return -1;
	val[0] = v[0];
	val[1] = v[1];
	return 0;
}

void memoput(struct state *s, hash key, const hash val[2])
{
	void **slot = htabslot(s->memo, &key, sizeof(key), 1);
	hash *v = *slot;

	if (v && hasheq(v[0], val[0]) && hasheq(v[1], val[1]))
		return;
	if (!v)
		v = *slot = xmalloc(2 * sizeof(*v));
	v[0] = val[0];
	v[1] = val[1];
	s->dirty = 1;
}

void savestate(struct state *s)
{
	struct buf b = {0};
	size_t pos = 0, klen;
	const void *key;
	void *val;
	char h1[33], h2[33], h3[33], d[33];

	if (!s->dirty)
		return;
	bufadds(&b, STATEHEADER);
	while (htabnext(s->files, &pos, &key, &klen, &val)) {
		struct fileinfo *fi = val;
		if (!fi || fi->racy || memchr(key, '\n', klen))
			continue;
		hashhex(fi->h, h1);
		if (fi->hasderived)
			hashhex(fi->derived, d);
		else
			strcpy(d, "-");
		bufaddf(&b, "F %lld %lld %lld %lld %lld %s %s %.*s\n", fi->st.size, fi->st.mtime, fi->st.ctime, fi->st.ino,
		        fi->st.dev, h1, d, (int)klen, (const char *)key);
	}
	pos = 0;
	while (htabnext(s->memo, &pos, &key, &klen, &val)) {
		hash k, *v = val;
		memcpy(&k, key, sizeof(k));
		hashhex(k, h1);
		hashhex(v[0], h2);
		hashhex(v[1], h3);
		bufaddf(&b, "M %s %s %s\n", h1, h2, h3);
	}
	char *dir = dirname_of(s->path);
	mkdirs(dir, 0755);
	free(dir);
	if (writefile(s->path, b.s, b.len) < 0)
		warn("cannot write %s:", s->path);
	else
		s->dirty = 0;
	buffree(&b);
}

void closestate(struct state *s)
{
	if (!s)
		return;
	htabfree(s->files, free);
	htabfree(s->memo, free);
	free(s->path);
	free(s);
}
