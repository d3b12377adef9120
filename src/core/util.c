/* util: error reporting, allocation, buffers and file helpers.
 * Everything here is leaf code: it calls no other module. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "core/seen.h"
#include "core/util.h"

static void vwarn(const char *fmt, va_list ap)
{
	int err = errno;
	size_t n = strlen(fmt);

	fflush(stdout);
	fputs("evalmake: ", stderr);
	vfprintf(stderr, fmt, ap);
	if (n > 0 && fmt[n - 1] == ':')
		fprintf(stderr, " %s", strerror(err));
	fputc('\n', stderr);
}

void fatal(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	exit(code);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	exit(EXIT_USAGE);
}

void warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		fatal(EXIT_GATE, "out of memory");
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		fatal(EXIT_GATE, "out of memory");
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		fatal(EXIT_GATE, "out of memory");
	return p;
}

void xgrow(void *pp, size_t *cap, size_t need, size_t size)
{
	void **p = pp;
	size_t c = *cap;

	if (need <= c)
		return;
	if (c < 8)
		c = 8;
	while (c < need)
		c *= 2;
	*p = xrealloc(*p, c * size);
	*cap = c;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		fatal(EXIT_GATE, "out of memory");
	va_end(ap);
	return s;
}

int bufadd(struct buf *b, const void *p, size_t n)
{
	int ret = 0;

	if (b->max && b->len + n > b->max) {
		n = b->max > b->len ? b->max - b->len : 0;
		b->truncated = 1;
		ret = -1;
	}
	if (b->len + n + 1 > b->cap) {
		size_t c = b->cap ? b->cap : 64;
		while (c < b->len + n + 1)
			c *= 2;
		b->s = xrealloc(b->s, c);
		b->cap = c;
	}
	if (n)
		memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
	return ret;
}

int bufadds(struct buf *b, const char *s)
{
	return bufadd(b, s, strlen(s));
}

int bufaddc(struct buf *b, int c)
{
	char ch = (char)c;

	return bufadd(b, &ch, 1);
}

int bufaddf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256], *s = small;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof(small)) {
		s = xmalloc((size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(s, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	n = bufadd(b, s, (size_t)n);
	if (s != small)
		free(s);
	return n;
}

void bufaddjson(struct buf *b, const char *s, size_t n)
{
	bufaddc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': bufadds(b, "\\\""); break;
		case '\\': bufadds(b, "\\\\"); break;
		case '\n': bufadds(b, "\\n"); break;
		case '\r': bufadds(b, "\\r"); break;
		case '\t': bufadds(b, "\\t"); break;
		default:
			if (c < 0x20)
				bufaddf(b, "\\u%04x", c);
			else
				bufaddc(b, c);
		}
	}
	bufaddc(b, '"');
}

char *bufdetach(struct buf *b)
{
	char *s = b->s ? b->s : xstrdup("");

	b->s = NULL;
	b->len = b->cap = 0;
	b->truncated = 0;
	return s;
}

void buffree(struct buf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
	b->truncated = 0;
}

/* why the last readfile() or regularfd() failed, when errno alone cannot
 * say it ("is a FIFO, not a regular file", a size past the cap) */
static char filewhybuf[160];
static int filewhyerr;

static void setwhy(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void setwhy(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(filewhybuf, sizeof(filewhybuf), fmt, ap);
	va_end(ap);
	filewhyerr = err;
	errno = err;
}

const char *filewhy(int err)
{
	return err == filewhyerr && filewhybuf[0] ? filewhybuf : strerror(err);
}

const char *filekind(mode_t m)
{
	return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device"
	       : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

/* a size in words: "1.5 GiB" */
static void fmtsize(char out[32], double n)
{
	static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
	size_t u = 0;

	while (n >= 1024 && u + 1 < LEN(units)) {
		n /= 1024;
		u++;
	}
	snprintf(out, 32, u ? "%.1f %s" : "%.0f %s", n, units[u]);
}

int regularfd(const char *path, size_t max, off_t *size)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;

	filewhybuf[0] = '\0';
	if (fd < 0) {
		/* a socket cannot be opened (ENXIO): say what it is */
		int err = errno;
		seenpath(path, 1);
		if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			setwhy(err, "is %s, not a regular file", filekind(st.st_mode));
		errno = err;
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	seenstat(path, 1, 0, &st);
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		if (S_ISDIR(st.st_mode))
			setwhy(EISDIR, "is a directory, not a file");
		else
			setwhy(EINVAL, "is %s, not a regular file", filekind(st.st_mode));
		return -1;
	}
	if (max && (uintmax_t)st.st_size > max) {
		char have[32], cap[32];
		close(fd);
		fmtsize(have, (double)st.st_size);
		fmtsize(cap, (double)max);
		setwhy(EFBIG, "is %s, past the limit of %s", have, cap);
		return -1;
	}
	/* O_NONBLOCK stays: it has no effect on a regular file */
	if (size)
		*size = st.st_size;
	return fd;
}

char *readfilemax(const char *path, size_t *lenp, size_t max)
{
	struct buf b = {.max = max};
	off_t size;
	ssize_t n;
	int fd = regularfd(path, max, &size);

	if (fd < 0)
		return NULL;
	/* one allocation of the right size, then reads until the end (the
	 * file may grow while being read, up to the cap) */
	b.cap = size > 0 ? (size_t)size + 1 : 4096;
	b.s = xmalloc(b.cap);
	b.s[0] = '\0';
	for (;;) {
		char extra[4096];
		int full = b.cap - b.len < 2;
		/* full: look for the end in a small buffer before growing */
		n = full ? read(fd, extra, sizeof(extra)) : read(fd, b.s + b.len, b.cap - b.len - 1);
		if (full && n > 0) {
			if (bufadd(&b, extra, (size_t)n) < 0) {
				char cap[32];
				close(fd);
				buffree(&b);
				fmtsize(cap, (double)max);
				setwhy(EFBIG, "grew past the limit of %s while being read", cap);
				return NULL;
			}
			continue;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int err = errno;
			close(fd);
			buffree(&b);
			errno = err;
			return NULL;
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
	}
	b.s[b.len] = '\0';
	close(fd);
	if (lenp)
		*lenp = b.len;
	return bufdetach(&b);
}

char *readfile(const char *path, size_t *lenp)
{
	return readfilemax(path, lenp, READ_MAX);
}

static int writeall(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int writefile(const char *path, const void *data, size_t len)
{
	static unsigned counter;
	struct stat st;

	/* not a regular file (/dev/null, /dev/stdout, a pipe): write to it as
	 * it is; a rename would replace the device with a file */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		int r = writeall(fd, data, len);
		int err = errno;
		if (close(fd) < 0 && r == 0)
			return -1;
		errno = err;
		return r;
	}
	char *tmp = xasprintf("%s.tmp.%ld.%u", path, (long)getpid(), counter++);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int err;

	if (fd < 0)
		goto fail;
	/* durable before it is visible: the data reaches the disk before the
	 * rename, and the rename before we return (as git's core.fsync) */
	if (writeall(fd, data, len) < 0 || fsync(fd) < 0) {
		close(fd);
		goto fail;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0)
		goto fail;
	free(tmp);
	syncparent(path);
	return 0;
fail:
	err = errno;
	unlink(tmp);
	free(tmp);
	errno = err;
	return -1;
}

int mkdirs(const char *path, mode_t mode)
{
	/* the common case first: only the last folder is missing, or none */
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -1;
	char *parent = dirname_of(path);
	int r = strcmp(parent, path) && strcmp(parent, ".") ? mkdirs(parent, mode) : -1;
	free(parent);
	if (r < 0)
		return -1;
	return mkdir(path, mode) == 0 || errno == EEXIST ? 0 : -1;
}

int syncpath(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -1;
	int r = fsync(fd);
	int err = errno;
	close(fd);
	errno = err;
	/* some file systems cannot sync a folder: nothing more to do there */
	return r < 0 && errno != EINVAL ? -1 : 0;
}

int syncparent(const char *path)
{
	char *dir = dirname_of(path);
	int r = syncpath(dir);

	free(dir);
	return r;
}

/* the files under path (regular, not followed through links) into *v, and
 * its folders, deepest first, into *dirs */
static void listtree(const char *path, int top, char ***v, size_t *n, size_t *cap, char ***dirs, size_t *nd,
                     size_t *capd)
{
	struct stat st;
	DIR *d;
	struct dirent *e;

	if (lstat(path, &st) < 0)
		return;
	if (S_ISREG(st.st_mode)) {
		xgrow(v, cap, *n + 1, sizeof(**v));
		(*v)[(*n)++] = xstrdup(path);
		return;
	}
	if (!S_ISDIR(st.st_mode) || !(d = opendir(path)))
		return;
	int empty = 1;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *sub = pathjoin(path, e->d_name);
		listtree(sub, 0, v, n, cap, dirs, nd, capd);
		free(sub);
		empty = 0;
	}
	closedir(d);
	/* an empty folder has no entries to make durable: its own existence
	 * is its parent's entry (an agent's artifacts/ is mostly empty) */
	if (empty && !top)
		return;
	xgrow(dirs, capd, *nd + 1, sizeof(**dirs));
	(*dirs)[(*nd)++] = xstrdup(path);
}

int synctree(const char *path)
{
	char **files = NULL, **dirs = NULL;
	size_t nf = 0, capf = 0, nd = 0, capd = 0;
	int ret = 0;

	listtree(path, 1, &files, &nf, &capf, &dirs, &nd, &capd);
	/* Every file fdatasync'ed, then every folder fsync'ed. On Linux the
	 * files' writeback is started for all before any is waited for: the
	 * first fdatasync's journal commit then covers the others, which find
	 * their data written (an entry of 40 files costs about one fsync). */
#ifdef SYNC_FILE_RANGE_WRITE
	for (size_t i = 0; i < nf; i++) {
		int fd = open(files[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0) {
			sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE); /* a hint: fdatasync decides */
			close(fd);
		}
	}
#endif
	for (size_t i = 0; i < nf; i++) {
		int fd = open(files[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 || fdatasync(fd) < 0)
			ret = -1;
		if (fd >= 0)
			close(fd);
	}
	for (size_t i = 0; i < nd; i++)
		if (syncpath(dirs[i]) < 0)
			ret = -1;
	for (size_t i = 0; i < nf; i++)
		free(files[i]);
	for (size_t i = 0; i < nd; i++)
		free(dirs[i]);
	free(files);
	free(dirs);
	return ret;
}

int rmtree(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	int ret = 0;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *sub = pathjoin(path, e->d_name);
		if (rmtree(sub) < 0)
			ret = -1;
		free(sub);
	}
	closedir(d);
	if (rmdir(path) < 0)
		ret = -1;
	return ret;
}

char *pathjoin(const char *dir, const char *name)
{
	if (name[0] == '/' || !dir[0] || !strcmp(dir, "."))
		return xstrdup(name);
	size_t n = strlen(dir);
	return xasprintf("%s%s%s", dir, dir[n - 1] == '/' ? "" : "/", name);
}

char *dirname_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

char *basename_of(const char *path, int stripext)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	const char *dot = stripext ? strrchr(base, '.') : NULL;

	if (dot && dot != base)
		return xstrndup(base, (size_t)(dot - base));
	return xstrdup(base);
}

double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	*e = '\0';
	return s;
}

int editdist(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int row[64];

	if (la >= LEN(row) || lb >= LEN(row))
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int prev = row[0];
		row[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int cur = row[j];
			int best = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

int editorjunk(const char *name)
{
	size_t n = strlen(name);

	if (!strcmp(name, "4913") || (n && name[n - 1] == '~') || !strncmp(name, ".#", 2))
		return 1;
	return name[0] == '.' && (fnmatch(".*.sw?", name, 0) == 0 || fnmatch(".*.sw??", name, 0) == 0);
}

/* Scan JSON text for an escaped NUL (\u0000) inside a string. A parser
 * into C strings (cJSON) silently cuts the string there. */
int jsonnul(const char *s, size_t n)
{
	int instr = 0;

	for (size_t i = 0; i < n; i++) {
		if (!instr) {
			instr = s[i] == '"';
			continue;
		}
		if (s[i] == '"') {
			instr = 0;
		} else if (s[i] == '\\' && i + 1 < n) {
			i++;
			if (s[i] == 'u' && i + 4 < n && !strncmp(s + i + 1, "0000", 4))
				return 1;
		}
	}
	return 0;
}

/* decode one character at s (n > 0 bytes left): its length, with the code
 * point in *cp, or 1 with *cp = 0xFFFD for an invalid sequence */
size_t utf8dec(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		c &= 0x1F;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		c &= 0x0F;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		goto bad;
	}
	if (n < len)
		goto bad;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			goto bad;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		goto bad;
	*cp = c;
	return len;
bad:
	*cp = 0xFFFD;
	return 1;
}

int utf8valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = utf8dec(u + i, n - i, &cp);
		if (k == 1 && u[i] >= 0x80)
			return 0;
		i += k;
	}
	return 1;
}


int lineat(const char *s, size_t off)
{
	int line = 1;

	for (size_t i = 0; i < off; i++)
		line += s[i] == '\n';
	return line;
}

int hasnul(const char *s, size_t n, size_t *off)
{
	const char *z = memchr(s, 0, n);

	if (z)
		*off = (size_t)(z - s);
	return z != NULL;
}

const char *netfsname(const char *path)
{
	static const struct {
		unsigned long magic;
		const char *name;
	} kinds[] = {
		{0x6969, "nfs"},          {0xFF534D42, "cifs"},   {0xFE534D42, "smb2"},  {0x517B, "smb"},
		{0x00C36400, "ceph"},     {0x0BD00BD0, "lustre"}, {0x47504653, "gpfs"},  {0x01021997, "9p"},
		{0x65735546, "fuse"},     {0x6B414653, "afs"},
	};
	char *p = xstrdup(path);
	struct statfs st;
	int ok;

	/* the folder may not be made yet: ask its nearest parent */
	while (!(ok = statfs(p, &st) == 0) && errno == ENOENT) {
		char *slash = strrchr(p, '/');
		if (!slash || slash == p)
			break;
		*slash = '\0';
	}
	free(p);
	for (size_t i = 0; ok && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if ((unsigned long)st.f_type == kinds[i].magic)
			return kinds[i].name;
	return NULL;
}
