/* noop: see noop.h. The record's body, in the byte order of the machine
 * that made it (a marker says which; another is not read):
 *   "evalmake-noop 1\n", u32 0x01020304
 *   u64 n, then n paths:  u32 len, the path, u8 follow, i32 errno,
 *                         i64 mode, size, mtime, ctime, ino, dev
 *   u64 n, then n variables: u32 len, the name, 16 bytes of hash
 *   u64 len, the plain table; u64 len, the coloured table
 *   u64 n, then n history lines: u32 len, the suite, u32 len, the line
 * Paths are sorted, so the files of one folder follow each other: they are
 * stat-ed relative to the folder, opened once. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "report/noop.h"
#include "core/fswatch.h"
#include "core/loop.h"
#include "core/seen.h"
#include "core/util.h"
#include "store/db.h"
#include "store/history.h"

#define MAGIC "evalmake-noop 1\n"
#define ORDER 0x01020304u
#define PLACEHOLDER "0000-00-00T00:00:00Z"
/* a request to a watch: MAGIC KEY BODYHASH CWD; the reply "yes" or "no" */
#define ASKMAGIC "evalmake-noop-ask 1"

struct noop {
	struct store *st;
	hash key;
	long long results;  /* the generation at noopopen */
	int held;           /* noopholds found a record that holds */
	int vouched;        /* a watch vouched for its paths: none was stat-ed */
	const char *cachedir;
	char *body;         /* the record held */
	size_t len;
	const char *plain, *color;
	size_t plainlen, colorlen;
	size_t nlines;
	char **suites, **lines;
};

/* EVALMAKE_NOOP_DEBUG: say on stderr why a record was not replayed or
 * not kept (as ninja -d explain) */
static void explain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void explain(const char *fmt, ...)
{
	const char *v = getenv("EVALMAKE_NOOP_DEBUG");
	va_list ap;

	if (!v || !v[0] || !strcmp(v, "0"))
		return;
	fputs("evalmake: no-op record: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int noopverifying(void)
{
	const char *v = getenv("EVALMAKE_NOOP_VERIFY");

	return v && v[0] && strcmp(v, "0");
}

/* the binary that plans: a rebuilt evalmake may key or grade otherwise */
static void addself(struct hasher *h)
{
	struct stat sb;

	if (stat("/proc/self/exe", &sb) < 0)
		memset(&sb, 0, sizeof(sb));
	hashaddu64(h, (uint64_t)sb.st_dev);
	hashaddu64(h, (uint64_t)sb.st_ino);
	hashaddu64(h, (uint64_t)sb.st_size);
	hashaddu64(h, (uint64_t)sb.st_mtim.tv_sec * 1000000000ull + (uint64_t)sb.st_mtim.tv_nsec);
	hashaddu64(h, (uint64_t)sb.st_ctim.tv_sec * 1000000000ull + (uint64_t)sb.st_ctim.tv_nsec);
}

struct noop *noopopen(struct store *st, const char *cachedir, const char *evalfile, const struct planopts *po)
{
	struct hasher h;
	char cwd[4096];

	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	long long results = storeresults(st);
	if (results < 0)
		return NULL;
	hashstart(&h, "noop");
	hashaddu64(&h, CACHE_VERSION);
	hashaddu64(&h, DB_VERSION);
	addself(&h);
	hashaddstr(&h, cwd);
	/* what one user may read another may not: planning would say so */
	hashaddu64(&h, (uint64_t)geteuid());
	hashaddstr(&h, evalfile);
	hashaddu64(&h, (uint64_t)po->ntargets);
	for (int i = 0; i < po->ntargets; i++)
		hashaddstr(&h, po->targets[i]);
	hashaddu64(&h, (uint64_t)po->iterations);
	hashaddu64(&h, (uint64_t)po->sample);
	struct noop *n = xcalloc(1, sizeof(*n));
	n->st = st;
	n->cachedir = cachedir;
	n->key = hashend(&h);
	n->results = results;
	return n;
}

/* reading a body: every read checks the bounds */
struct rd {
	const char *p, *end;
	int bad;
};

static const void *take(struct rd *r, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = 1;
		return NULL;
	}
	const void *v = r->p;
	r->p += n;
	return v;
}

static uint64_t u64(struct rd *r)
{
	uint64_t v = 0;
	const void *p = take(r, sizeof(v));

	if (p)
		memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t u32(struct rd *r)
{
	uint32_t v = 0;
	const void *p = take(r, sizeof(v));

	if (p)
		memcpy(&v, p, sizeof(v));
	return v;
}

/* a string of len bytes, NUL-terminated in place of the next length's
 * first byte is not possible: strings are copied where a C string is
 * needed (paths, names) */
static const char *bytes(struct rd *r, size_t len)
{
	return take(r, len);
}

static char *cstr(struct rd *r, size_t len)
{
	const char *s = bytes(r, len);

	if (!s || memchr(s, '\0', len)) {
		r->bad = 1;
		return NULL;
	}
	char *c = xmalloc(len + 1);
	memcpy(c, s, len);
	c[len] = '\0';
	return c;
}

/* does the folder part of path equal dir (len dl)? */
static size_t dirlen(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? (size_t)(slash - path) : 0;
}

/* one recorded path as read from r; 0, or -1 at the end of the body */
static int nextpath(struct rd *r, struct seenpath *sp, char **path)
{
	uint32_t len = u32(r);

	*path = cstr(r, len);
	const unsigned char *follow = take(r, 1);
	const void *rest = take(r, sizeof(int32_t) + 6 * sizeof(int64_t));
	if (!*path || !follow || !rest) {
		free(*path);
		*path = NULL;
		r->bad = 1;
		return -1;
	}
	int32_t err;
	int64_t v[6];
	memcpy(&err, rest, sizeof(err));
	memcpy(v, (const char *)rest + sizeof(err), sizeof(v));
	*sp = (struct seenpath){.follow = *follow, .err = err, .mode = v[0], .size = v[1], .mtime = v[2],
	                        .ctime = v[3], .ino = v[4], .dev = v[5]};
	return 0;
}

/* do the n paths read from r hold? 0 when every one is as recorded */
static int pathshold(struct rd *r, uint64_t n)
{
	int dfd = AT_FDCWD, ok = 1;
	char *dir = NULL, *path;
	size_t dl = 0;

	for (uint64_t i = 0; ok && i < n && !r->bad; i++) {
		struct seenpath sp;
		if (nextpath(r, &sp, &path) < 0)
			break;
		/* a path in a folder: relative to the folder, opened once for
		 * the files that follow in it ("/x" and "x" as they are) */
		size_t l = dirlen(path);
		const char *name = path;
		int at = AT_FDCWD;
		if (l && path[0] != '/') {
			if (!dir || dl != l || strncmp(dir, path, l)) {
				if (dfd != AT_FDCWD)
					close(dfd);
				free(dir);
				dir = xstrndup(path, l);
				dl = l;
				dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
				if (dfd < 0)
					dfd = AT_FDCWD;
			}
			if (dfd != AT_FDCWD) {
				at = dfd;
				name = path + l + 1;
			}
		}
		ok = seensame(at, name, &sp);
		if (!ok)
			explain("%s changed", path);
		free(path);
	}
	if (dfd != AT_FDCWD)
		close(dfd);
	free(dir);
	return ok && !r->bad ? 0 : -1;
}

/* skip the n paths (a watch vouched for them) */
static void skippaths(struct rd *r, uint64_t n)
{
	for (uint64_t i = 0; i < n && !r->bad; i++) {
		uint32_t len = u32(r);
		take(r, len + 1 + sizeof(int32_t) + 6 * sizeof(int64_t));
	}
}

static void freelines(struct noop *n)
{
	for (size_t i = 0; i < n->nlines; i++) {
		free(n->suites[i]);
		free(n->lines[i]);
	}
	free(n->suites);
	free(n->lines);
	n->suites = n->lines = NULL;
	n->nlines = 0;
}

/* the abstract socket a watch on cachedir answers at */
static void sockname(const char *cachedir, struct sockaddr_un *a, socklen_t *len)
{
	char hx[33];

	hashhex(hashbytes(cachedir, strlen(cachedir)), hx);
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	int n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "evalmake-noop-%s", hx);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* does a watch running on this cache vouch that no path of the record
 * changed? 1 when it says so, 0 when there is none or it cannot tell */
static int askwatch(struct noop *n)
{
	struct sockaddr_un a;
	socklen_t alen;
	char cwd[4096], key[33], bh[33];

	if (!n->cachedir || !getcwd(cwd, sizeof(cwd)))
		return 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	sockname(n->cachedir, &a, &alen);
	struct timeval tv = {2, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* an abstract socket has no permissions: only a watch of this user
	 * is believed (another could bind the name first and say yes) */
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	if (connect(fd, (struct sockaddr *)&a, alen) < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0
	    || cr.uid != geteuid()) {
		close(fd);
		return 0;
	}
	hashhex(n->key, key);
	hashhex(hashbytes(n->body, n->len), bh);
	char *req = xasprintf("%s %s %s %s\n", ASKMAGIC, key, bh, cwd);
	ssize_t w = write(fd, req, strlen(req));
	int ok = w == (ssize_t)strlen(req);
	free(req);
	char reply[8] = {0};
	size_t got = 0;
	while (ok && got < 4) {
		ssize_t r = read(fd, reply + got, 4 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	return ok && got == 4 && !memcmp(reply, "yes\n", 4);
}

int noopholds(struct noop *n)
{
	void *body;
	size_t len;

	if (storenoopget(n->st, n->key, n->results, &body, &len) < 0) {
		explain("none for this command, or results stored, changed or removed since, or another day");
		return -1;
	}
	n->body = body;
	n->len = len;
	struct rd r = {body, (const char *)body + len, 0};
	const char *magic = bytes(&r, strlen(MAGIC));
	if (!magic || memcmp(magic, MAGIC, strlen(MAGIC)) || u32(&r) != ORDER)
		goto bad;
	/* the variables come after the paths: a watch running on the cache
	 * may vouch for the paths, else each is stat-ed */
	uint64_t np = u64(&r);
	if (askwatch(n)) {
		n->vouched = 1;
		skippaths(&r, np);
	} else if (pathshold(&r, np) < 0) {
		goto bad;
	}
	uint64_t nv = u64(&r);
	for (uint64_t i = 0; i < nv && !r.bad; i++) {
		char *name = cstr(&r, u32(&r));
		const void *h = take(&r, sizeof(hash));
		if (name && h) {
			hash want, now = seenvarhash(name, getenv(name));
			memcpy(&want, h, sizeof(want));
			if (!hasheq(want, now)) {
				explain("$%s changed", name);
				r.bad = 1;
			}
		}
		free(name);
	}
	n->plainlen = u64(&r);
	n->plain = bytes(&r, n->plainlen);
	n->colorlen = u64(&r);
	n->color = bytes(&r, n->colorlen);
	uint64_t nl = u64(&r);
	if (!r.bad && nl <= (uint64_t)(r.end - r.p)) {
		n->suites = xcalloc(nl + 1, sizeof(char *));
		n->lines = xcalloc(nl + 1, sizeof(char *));
		for (uint64_t i = 0; i < nl && !r.bad; i++) {
			n->suites[i] = cstr(&r, u32(&r));
			n->lines[i] = cstr(&r, u32(&r));
			n->nlines++;
		}
	} else {
		r.bad = 1;
	}
	if (r.bad)
		goto bad;
	n->held = 1;
	return 0;
bad:
	freelines(n);
	free(n->body);
	n->body = NULL;
	n->len = 0;
	n->vouched = 0;
	return -1;
}

int noopvouched(const struct noop *n)
{
	return n->vouched;
}

void noopprint(struct noop *n, FILE *out, int color)
{
	if (color)
		fwrite(n->color, 1, n->colorlen, out);
	else
		fwrite(n->plain, 1, n->plainlen, out);
}

void noophistory(struct noop *n, const char *cachedir)
{
	char when[HISTORY_TIME_LEN + 1];

	if (!n->nlines)
		return;
	historynow(when);
	for (size_t i = 0; i < n->nlines; i++) {
		char *at = strstr(n->lines[i], PLACEHOLDER);
		if (at)
			memcpy(at, when, HISTORY_TIME_LEN);
	}
	appendlines(cachedir, when, n->nlines, n->suites, n->lines);
}

static void put(struct buf *b, const void *p, size_t n)
{
	bufadd(b, p, n);
}

static void put64(struct buf *b, uint64_t v)
{
	put(b, &v, sizeof(v));
}

static void put32(struct buf *b, uint32_t v)
{
	put(b, &v, sizeof(v));
}

static void putstr(struct buf *b, const char *s, size_t len)
{
	put32(b, (uint32_t)len);
	put(b, s, len);
}

/* the table as the command prints it */
static char *table(struct plan *p, struct suitesum *sum, int color, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	if (!f)
		fatal(EXIT_GATE, "out of memory");
	struct reportopts ro = {.color = color};
	printtable(f, p, sum, &ro);
	fclose(f);
	return text;
}

void noopsave(struct noop *n, struct plan *p, struct suitesum *sum, int partial, int ok)
{
	struct seenpath *paths;
	struct seenvar *vars;
	size_t np, nv;
	int uptodate = ok;

	seenstop();
	for (size_t i = 0; i < p->ncells && uptodate; i++)
		uptodate = p->cells[i].need == NEED_NOTHING && p->cells[i].status == CELL_CACHED;
	size_t plainlen, colorlen;
	/* the table reads more than the plan did: a failing task's output,
	 * from its run's entry, which may be a folder or file under runs/
	 * (deleted, it shows as "?") */
	if (uptodate)
		seenresume();
	char *plain = table(p, sum, 0, &plainlen);
	seenstop();
	if (n->held && noopverifying()) {
		/* the record said up to date: planning must agree */
		if (!uptodate || plainlen != n->plainlen || memcmp(plain, n->plain, plainlen))
			fatal(70, "internal error: a no-op record held that planning disagrees with (%s)",
			      uptodate ? "another table" : "a cell is not up to date");
	}
	if (!uptodate) {
		explain("not kept: not every cell was up to date");
		free(plain);
		return;
	}
	if (seenrecord(&paths, &np, &vars, &nv) < 0) {
		explain("not kept: %s", seenwhy());
		free(plain);
		return;
	}
	char *color = table(p, sum, 1, &colorlen);
	struct buf b = {0};
	put(&b, MAGIC, strlen(MAGIC));
	put32(&b, ORDER);
	put64(&b, np);
	for (size_t i = 0; i < np; i++) {
		struct seenpath *s = &paths[i];
		unsigned char follow = (unsigned char)s->follow;
		int32_t err = s->err;
		int64_t v[6] = {s->mode, s->size, s->mtime, s->ctime, s->ino, s->dev};
		putstr(&b, s->path, strlen(s->path));
		put(&b, &follow, 1);
		put(&b, &err, sizeof(err));
		put(&b, v, sizeof(v));
	}
	put64(&b, nv);
	for (size_t i = 0; i < nv; i++) {
		putstr(&b, vars[i].name, strlen(vars[i].name));
		put(&b, &vars[i].value, sizeof(vars[i].value));
	}
	put64(&b, plainlen);
	put(&b, plain, plainlen);
	put64(&b, colorlen);
	put(&b, color, colorlen);
	put64(&b, p->nsp);
	for (size_t i = 0; i < p->nsp; i++) {
		const char *name = p->sp[i].suite->name;
		char *line = historyline(PLACEHOLDER, name, &sum[i], "evalmake", partial);
		putstr(&b, name, strlen(name));
		putstr(&b, line, strlen(line));
		free(line);
	}
	if (storenoopput(n->st, n->key, n->results, b.s, b.len) < 0)
		explain("not kept: results were stored, changed or removed while it planned");
	buffree(&b);
	free(plain);
	free(color);
}

void noopfree(struct noop *n)
{
	if (!n)
		return;
	freelines(n);
	free(n->body);
	free(n);
	seenfree();
}

/* the watch's side: see noop.h */
struct noopserver {
	struct loop *l;
	struct store *st;
	struct fswatch *fw;
	int fd;
	char *cwd;
	/* the last record vouched for, and the event count then */
	int valid;
	hash vkey, vhash;
	unsigned long long vepoch;
};

/* would a change to the recorded path reach the watch? Its folder and
 * every folder above it (to the project's) are watched, a folder it lists
 * is too, and it is no symbolic link and no hard link (a change through
 * another name is reported in that name's folder) */
static int covered(struct noopserver *s, const char *path, const struct seenpath *sp, char **lastdir)
{
	if (path[0] == '/' || !strncmp(path, "../", 3) || strstr(path, "/../"))
		return 0;
	if (!sp->err && S_ISDIR(sp->mode) && !fswatchwatched(s->fw, path))
		return 0;
	size_t l = dirlen(path);
	if (!*lastdir || strlen(*lastdir) != l || strncmp(*lastdir, path, l)) {
		char *d = xstrndup(path, l);
		/* "a/b/c": "a/b", "a" and ".", each a folder, no symbolic link
		 * (the watch stays with the folder a link named when it was
		 * added, not with the one it names after a retarget) */
		struct stat ds;
		int ok = fswatchwatched(s->fw, ".");
		for (char *slash = d + strlen(d); ok && slash > d; slash = strrchr(d, '/') ? strrchr(d, '/') : d) {
			ok = fswatchwatched(s->fw, d) && lstat(d, &ds) == 0 && S_ISDIR(ds.st_mode);
			*slash = '\0';
		}
		if (!ok) {
			free(d);
			return 0;
		}
		free(*lastdir);
		*lastdir = xstrndup(path, l);
		free(d);
	}
	struct stat st;
	if (!sp->err && (lstat(path, &st) < 0 || S_ISLNK(st.st_mode) || (!S_ISDIR(st.st_mode) && st.st_nlink > 1)))
		return 0;
	return 1;
}

/* can the watch vouch that no path of record key (body hash bh) changed? */
static int vouch(struct noopserver *s, hash key, hash bh)
{
	void *body;
	size_t len;
	char *path, *lastdir = NULL;
	int ok = 1;

	fswatchdrain(s->fw);
	unsigned long long e0 = fswatchepoch(s->fw);
	if (s->valid && hasheq(s->vkey, key) && hasheq(s->vhash, bh) && s->vepoch == e0)
		return 1;
	if (storenoopbody(s->st, key, &body, &len) < 0)
		return 0;
	if (!hasheq(hashbytes(body, len), bh)) {
		free(body);
		return 0;
	}
	struct rd r = {body, (const char *)body + len, 0};
	const char *magic = bytes(&r, strlen(MAGIC));
	if (!magic || memcmp(magic, MAGIC, strlen(MAGIC)) || u32(&r) != ORDER) {
		free(body);
		return 0;
	}
	const char *paths = r.p;
	uint64_t np = u64(&r);
	for (uint64_t i = 0; ok && i < np; i++) {
		struct seenpath sp;
		if (nextpath(&r, &sp, &path) < 0)
			break;
		ok = covered(s, path, &sp, &lastdir);
		free(path);
	}
	free(lastdir);
	if (ok && !r.bad) {
		/* every path as recorded, now: from here on, events tell */
		r.p = paths;
		np = u64(&r);
		ok = pathshold(&r, np) == 0;
	}
	free(body);
	if (!ok || r.bad)
		return 0;
	s->valid = 1;
	s->vkey = key;
	s->vhash = bh;
	s->vepoch = e0;
	return 1;
}

/* does the watch's folder name still name the folder it watches? (one
 * moved away and another put in its place: a client there is in another
 * project, whose files the watch sees no event of) */
static int samecwd(const struct noopserver *s)
{
	struct stat here, named;

	return stat(".", &here) == 0 && stat(s->cwd, &named) == 0 && here.st_dev == named.st_dev
	       && here.st_ino == named.st_ino;
}

static void onask(void *arg, int fd, int revents)
{
	struct noopserver *s = arg;
	char buf[8192];
	size_t got = 0;

	(void)fd;
	(void)revents;
	int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	/* a local client writes its one line at once: wait a little for it */
	struct timeval tv = {0, 500000};
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (got < sizeof(buf) - 1 && !memchr(buf, '\n', got)) {
		ssize_t n = read(c, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	char *nl = strchr(buf, '\n');
	int yes = 0;
	size_t ml = strlen(ASKMAGIC);
	if (nl && got > ml + 1 && !strncmp(buf, ASKMAGIC, ml) && buf[ml] == ' ') {
		*nl = '\0';
		char *k = buf + ml + 1, *h = strchr(k, ' '), *cwd = h ? strchr(h + 1, ' ') : NULL;
		hash key, bh;
		if (h && cwd && samecwd(s)) {
			*h++ = '\0';
			*cwd++ = '\0';
			/* relative paths are the client's: only a client in this
			 * watch's folder is answered */
			yes = hashparse(k, &key) == 0 && hashparse(h, &bh) == 0 && !strcmp(cwd, s->cwd) && vouch(s, key, bh);
		}
	}
	const char *reply = yes ? "yes\n" : "no\n";
	ssize_t w = write(c, reply, strlen(reply));
	(void)w;
	close(c);
}

struct noopserver *noopserve(struct loop *l, struct store *st, struct fswatch *fw, const char *cachedir)
{
	struct sockaddr_un a;
	socklen_t alen;
	char cwd[4096];

	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	/* inotify sees no change made by another machine: on a network file
	 * system the watch cannot vouch */
	if (netfsname("."))
		return NULL;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return NULL;
	sockname(cachedir, &a, &alen);
	/* another watch on this cache answers already: fine */
	if (bind(fd, (struct sockaddr *)&a, alen) < 0 || listen(fd, 16) < 0) {
		close(fd);
		return NULL;
	}
	struct noopserver *s = xcalloc(1, sizeof(*s));
	*s = (struct noopserver){.l = l, .st = st, .fw = fw, .fd = fd, .cwd = xstrdup(cwd)};
	loopfd(l, fd, POLLIN, onask, s);
	return s;
}

void freenoopserver(struct noopserver *s)
{
	if (!s)
		return;
	loopfd(s->l, s->fd, 0, NULL, NULL);
	close(s->fd);
	free(s->cwd);
	free(s);
}
