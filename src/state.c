/* state: the stat cache and the memo table, kept as one text file that is
 * read once at start and rewritten (temp file + rename) at the end of a run
 * when something changed. Lines:
 *   F size mtime_ns ctime_ns inode hash path
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

#include "state.h"
#include "util.h"

#define STATEHEADER "evalmake-state 1\n"

struct fileinfo {
	long long size, mtime, ctime, ino;
	hash h;
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

static void load(struct state *s, char *text)
{
	char *line, *save = NULL;

	if (strncmp(text, STATEHEADER, strlen(STATEHEADER)))
		return;
	for (line = strtok_r(text + strlen(STATEHEADER), "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char hx[33], kx[33], vx[2][33];
		int off = 0;
		if (line[0] == 'F') {
			struct fileinfo fi = {0};
			if (sscanf(line, "F %lld %lld %lld %lld %32s %n", &fi.size, &fi.mtime, &fi.ctime, &fi.ino, hx, &off) < 5
			    || !off || hashparse(hx, &fi.h) < 0)
				continue;
			struct fileinfo *p = xmalloc(sizeof(*p));
			*p = fi;
			void **slot = htabslot(s->files, line + off, strlen(line + off), 1);
			free(*slot);
			*slot = p;
		} else if (line[0] == 'M') {
			hash k, *v = xmalloc(2 * sizeof(*v));
			if (sscanf(line, "M %32s %32s %32s", kx, vx[0], vx[1]) != 3 || hashparse(kx, &k) < 0
			    || hashparse(vx[0], &v[0]) < 0 || hashparse(vx[1], &v[1]) < 0) {
				free(v);
				continue;
			}
			void **slot = htabslot(s->memo, &k, sizeof(k), 1);
			free(*slot);
			*slot = v;
		}
	}
}

struct state *openstate(const char *cachedir)
{
	struct state *s = xcalloc(1, sizeof(*s));
	char *text;

	s->path = pathjoin(cachedir, "state");
	s->files = mkhtab(1024);
	s->memo = mkhtab(1024);
	if ((text = readfile(s->path, NULL))) {
		load(s, text);
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

int filehash(struct state *s, const char *path, hash *out)
{
	struct stat st;
	size_t len = strlen(path);
	void **slot;
	struct fileinfo *fi;

	if (stat(path, &st) < 0)
		return -1;
	slot = htabslot(s->files, path, len, 1);
	fi = *slot;
	if (fi && !fi->racy && fi->size == st.st_size && fi->mtime == nsec(st.st_mtim) && fi->ctime == nsec(st.st_ctim)
	    && fi->ino == (long long)st.st_ino) {
		*out = fi->h;
		return 0;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
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
		fi = *slot = xmalloc(sizeof(*fi));
	fi->size = st.st_size;
	fi->mtime = nsec(st.st_mtim);
	fi->ctime = nsec(st.st_ctim);
	fi->ino = (long long)st.st_ino;
	fi->h = *out;
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	fi->racy = nsec(wall) - fi->mtime < 1000000000LL || nsec(wall) - fi->ctime < 1000000000LL;
	s->dirty = 1;
	return 0;
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
	char h1[33], h2[33], h3[33];

	if (!s->dirty)
		return;
	bufadds(&b, STATEHEADER);
	while (htabnext(s->files, &pos, &key, &klen, &val)) {
		struct fileinfo *fi = val;
		if (!fi || fi->racy || memchr(key, '\n', klen))
			continue;
		hashhex(fi->h, h1);
		bufaddf(&b, "F %lld %lld %lld %lld %s %.*s\n", fi->size, fi->mtime, fi->ctime, fi->ino, h1, (int)klen,
		        (const char *)key);
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
