/* noop: see noop.h. The record's body, in the byte order of the machine
 * that made it (a marker says which; another is not read):
 *   "evalmake-noop 2\n", u32 0x01020304
 *   u64 n, then n paths:  u32 len, the path, u8 follow, i32 errno,
 *                         i64 mode, size, mtime, ctime, ino, dev
 *                         (errno -1: a racy task file, never the same)
 *   u64 n, then n variables: u32 len, the name, 16 bytes of hash
 *   u64 len, the plain table; u64 len, the coloured table
 *   u64 n, then n history lines: u32 len, the suite, u32 len, the line
 *   u8 1 when the plan follows (else 0, the end):
 * and, in a row of its own (the plan's key: plankey), read only when
 * task files changed:
 *   "evalmake-noop 2\n", u32 0x01020304
 *   u64 n, then n suites: Z name, u32 graders, u64 tasks, 5 hashes of
 *                         16 bytes (its part of the keys: keptconfig)
 *   the tasks, in the suites' order: each one's Z id, then each one's
 *   Z path, then each one's 16 bytes of hash (full)
 *   u64 n, then the n cells a column at a time: u32 suite, u32 task,
 *   u32 iteration, u8 scored, 16 bytes run key, f64 score, f64 seconds,
 *   i64 in tokens, i64 out tokens; u64 n, n f64 scores (several graders:
 *   each one's, cell after cell); then each cell's Z model
 * (Z: u32 len, the bytes and a NUL, read in place.) Only what the table
 * reads of a cell that stays up to date is kept: not its grade key, nor
 * its task's hash as the agent sees it (a task keyed again has both
 * anew). Rows are packed (pack). Paths are sorted, so
 * the files of one folder follow each other: they are stat-ed relative to
 * the folder, opened once. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
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
#include <pthread.h>
#include <unistd.h>

#include <zstd.h>

#include "report/noop.h"
#include "core/fswatch.h"
#include "core/loop.h"
#include "core/seen.h"
#include "core/util.h"
#include "store/db.h"
#include "store/history.h"

#define MAGIC "evalmake-noop 2\n"
#define ORDER 0x01020304u
#define PLACEHOLDER "0000-00-00T00:00:00Z"
/* a request to a watch: MAGIC KEY BODYHASH CWD; the reply "yes" or "no" */
#define ASKMAGIC "evalmake-noop-ask 1"
/* a racy task file's errno in a record: no stat gives it */
#define SUSPECT (-1)
/* at most this many changed task files are planned alone */
#define MAXCHANGED 64

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
	int plainplan;      /* no targets, --sample or -B: a record may keep its plan */
	int planned;        /* noopplan made the plan: body's paths go on */
	/* a record that holds but for some task files (noopholds 1) */
	char *changed[MAXCHANGED];
	int changeddir[MAXCHANGED]; /* that path was a folder (a glob listed it?) */
	size_t nchanged;
	const char *pathsat; /* its paths, in body */
	void *pbody;         /* the plan's record (its own row) */
	struct keptplan kp;
	struct keptsuite *ks;
	struct kepttask *kt;
	struct keptcell *kc;
	double *kscores;
};

static char *table(struct plan *p, struct suitesum *sum, int color, size_t *len);
static hash plankey(hash key);

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
	n->plainplan = !po->ntargets && !po->sample && !po->rebuild;
	storefollow(st, results);
	return n;
}

/* A record is kept packed: its magic and byte-order marker as they are,
 * the rest as one zstd frame (paths share their folders, stat data
 * their devices and modes: a tenth of the bytes to write and read) */
#define HEAD (sizeof(MAGIC) - 1 + sizeof(uint32_t))

static void pack(struct buf *b)
{
	if (b->len < HEAD)
		return;
	size_t cap = ZSTD_compressBound(b->len - HEAD);
	char *z = xmalloc(HEAD + cap + 1);
	memcpy(z, b->s, HEAD);
	size_t n = ZSTD_compress(z + HEAD, cap, b->s + HEAD, b->len - HEAD, 1);
	if (ZSTD_isError(n))
		fatal(EXIT_GATE, "cannot compress a no-op record: %s", ZSTD_getErrorName(n));
	free(b->s);
	b->s = z;
	b->len = HEAD + n;
	b->cap = HEAD + cap + 1;
	z[b->len] = '\0';
}

/* a record as packed: its body unpacked (malloc'd), or NULL */
static void *unpack(void *z, size_t zlen, size_t *len)
{
	void *out = NULL;

	if (zlen >= HEAD && !memcmp(z, MAGIC, strlen(MAGIC))) {
		unsigned long long n = ZSTD_getFrameContentSize((char *)z + HEAD, zlen - HEAD);
		if (n != ZSTD_CONTENTSIZE_ERROR && n != ZSTD_CONTENTSIZE_UNKNOWN && n < ((size_t)1 << 40)) {
			out = xmalloc(HEAD + (size_t)n + 1);
			memcpy(out, z, HEAD);
			size_t got = ZSTD_decompress((char *)out + HEAD, (size_t)n, (char *)z + HEAD, zlen - HEAD);
			if (ZSTD_isError(got) || got != n) {
				free(out);
				out = NULL;
			} else {
				*len = HEAD + (size_t)n;
			}
		}
	}
	free(z);
	return out;
}

/* the record of key at generation results today, unpacked; 0, else -1 */
static int getrecord(struct store *st, hash key, long long results, void **body, size_t *len)
{
	void *z;
	size_t zlen;

	if (storenoopget(st, key, results, &z, &zlen) < 0)
		return -1;
	*body = unpack(z, zlen, len);
	return *body ? 0 : -1;
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

/* a Z string: in place, NUL-terminated */
static const char *zstr(struct rd *r)
{
	uint32_t len = u32(r);
	const char *s = take(r, (size_t)len + 1);

	if (!s || s[len] || memchr(s, '\0', len)) {
		r->bad = 1;
		return NULL;
	}
	return s;
}

static hash takehash(struct rd *r)
{
	hash h = {0, 0};
	const void *p = take(r, sizeof(h));

	if (p)
		memcpy(&h, p, sizeof(h));
	return h;
}

/* does the folder part of path equal dir (len dl)? */
static size_t dirlen(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? (size_t)(slash - path) : 0;
}

/* one recorded path as read from r; 0, or -1 at the end of the body */
/* a recorded path's follow byte and the stat data after it (rest: i32
 * errno, then i64 mode, size, mtime, ctime, ino, dev) */
static struct seenpath entrydata(unsigned char follow, const void *rest)
{
	int32_t err;
	int64_t v[6];

	memcpy(&err, rest, sizeof(err));
	memcpy(v, (const char *)rest + sizeof(err), sizeof(v));
	return (struct seenpath){.follow = follow, .err = err, .mode = v[0], .size = v[1], .mtime = v[2],
	                         .ctime = v[3], .ino = v[4], .dev = v[5]};
}

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
	*sp = entrydata(*follow, rest);
	return 0;
}

/* one part of the paths, checked by one thread */
struct pathpart {
	const char *const *at;  /* where each path's entry starts */
	size_t from, to;
	const char *end;
	int collect;            /* keep up to MAXCHANGED changed paths */
	int *stop;              /* set by a part that found a change it cannot keep */
	char *changed[MAXCHANGED];
	int changeddir[MAXCHANGED]; /* recorded as a folder */
	size_t nchanged;
	char *bad;              /* the path that made it fail */
	int broken;             /* the record is bad */
};

static void *checkpart(void *arg)
{
	struct pathpart *pt = arg;
	int dfd = AT_FDCWD;
	char *dir = NULL, *path;
	size_t dl = 0;

	for (size_t i = pt->from; i < pt->to && !pt->bad && !pt->broken; i++) {
		if ((i & 1023) == 0 && __atomic_load_n(pt->stop, __ATOMIC_RELAXED))
			break;
		struct rd r = {pt->at[i], pt->end, 0};
		struct seenpath sp;
		if (nextpath(&r, &sp, &path) < 0) {
			pt->broken = 1;
			break;
		}
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
		if (seensame(at, name, &sp)) {
			free(path);
		} else if (pt->collect && pt->nchanged < MAXCHANGED) {
			pt->changeddir[pt->nchanged] = (!sp.err || sp.err == SUSPECT) && S_ISDIR(sp.mode);
			pt->changed[pt->nchanged++] = path;
		} else {
			pt->bad = path;
			__atomic_store_n(pt->stop, 1, __ATOMIC_RELAXED);
		}
	}
	if (dfd != AT_FDCWD)
		close(dfd);
	free(dir);
	return NULL;
}

/* do the n paths read from r hold? 0 when every one is as recorded.
 * With no given, up to MAXCHANGED paths that do not are kept in
 * no->changed (then 0 too, when no more changed). Two threads stat them,
 * each half of the paths (the kernel's lookups are most of the time) */
static int pathshold(struct rd *r, uint64_t n, struct noop *no)
{
	if (n > (uint64_t)(r->end - r->p) / (4 + 1 + sizeof(int32_t) + 6 * sizeof(int64_t))) {
		r->bad = 1;
		return -1;
	}
	const char **at = xcalloc(n + 1, sizeof(*at));
	for (uint64_t i = 0; i < n && !r->bad; i++) {
		at[i] = r->p;
		uint32_t len = u32(r);
		take(r, (size_t)len + 1 + sizeof(int32_t) + 6 * sizeof(int64_t));
	}
	if (r->bad) {
		free(at);
		return -1;
	}
	int stop = 0;
	struct pathpart pt[2] = {{.at = at, .from = 0, .to = n, .end = r->end, .collect = no != NULL, .stop = &stop},
	                     {.at = at, .from = n, .to = n, .end = r->end, .collect = no != NULL, .stop = &stop}};
	pthread_t th;
	int two = n >= 8192;
	if (two) {
		pt[0].to = pt[1].from = n / 2;
		if (pthread_create(&th, NULL, checkpart, &pt[1]) != 0) {
			two = 0;
			pt[0].to = n;
			pt[1].from = n;
		}
	}
	checkpart(&pt[0]);
	if (two)
		pthread_join(th, NULL);
	free(at);
	int ok = !pt[0].bad && !pt[1].bad && !pt[0].broken && !pt[1].broken;
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < pt[k].nchanged; i++) {
			if (ok && no && no->nchanged < MAXCHANGED) {
				no->changeddir[no->nchanged] = pt[k].changeddir[i];
				no->changed[no->nchanged++] = pt[k].changed[i];
			}
			else {
				if (ok)
					explain("%s changed", pt[k].changed[i]);
				ok = 0;
				free(pt[k].changed[i]);
			}
		}
	}
	for (int k = 0; k < 2; k++) {
		if (pt[k].bad)
			explain("%s changed", pt[k].bad);
		free(pt[k].bad);
	}
	if (pt[0].broken || pt[1].broken)
		r->bad = 1;
	return ok ? 0 : -1;
}

/* skip the n paths (a watch vouched for them) */
static void skippaths(struct rd *r, uint64_t n)
{
	for (uint64_t i = 0; i < n && !r->bad; i++) {
		uint32_t len = u32(r);
		take(r, len + 1 + sizeof(int32_t) + 6 * sizeof(int64_t));
	}
}

/* the record's plan as read (readkept) */
static void freekeptplan(struct noop *n)
{
	free(n->ks);
	free(n->kt);
	free(n->kc);
	free(n->kscores);
	free(n->pbody);
	n->pbody = NULL;
	n->ks = NULL;
	n->kt = NULL;
	n->kc = NULL;
	n->kscores = NULL;
	memset(&n->kp, 0, sizeof(n->kp));
}

/* that, and the changed paths noopholds found */
static void freekept(struct noop *n)
{
	for (size_t i = 0; i < n->nchanged; i++)
		free(n->changed[i]);
	n->nchanged = 0;
	freekeptplan(n);
}

/* n values of size bytes each, in place (a column of the plan) */
static const char *column(struct rd *r, uint64_t n, size_t size)
{
	if (r->bad || n > (uint64_t)(r->end - r->p) / size) {
		r->bad = 1;
		return NULL;
	}
	return take(r, (size_t)n * size);
}

static uint32_t u32at(const char *col, size_t i)
{
	uint32_t v;

	memcpy(&v, col + i * sizeof(v), sizeof(v));
	return v;
}

static uint64_t u64at(const char *col, size_t i)
{
	uint64_t v;

	memcpy(&v, col + i * sizeof(v), sizeof(v));
	return v;
}

/* read the record's plan (its strings in place); 0, else -1 */
static int readkept(struct noop *n, struct rd *r)
{
	uint64_t ns = u64(r), nt = 0;

	if (r->bad || ns > (uint64_t)(r->end - r->p))
		return -1;
	n->ks = xcalloc(ns + 1, sizeof(*n->ks));
	uint32_t *ngraders = xcalloc(ns + 1, sizeof(*ngraders));
	for (uint64_t i = 0; i < ns && !r->bad; i++) {
		n->ks[i].name = zstr(r);
		ngraders[i] = u32(r);
		n->ks[i].ntasks = u64(r);
		for (int k = 0; k < NKEPT; k++)
			n->ks[i].config[k] = takehash(r);
		nt += n->ks[i].ntasks;
		if (nt > (uint64_t)(r->end - r->p))
			r->bad = 1;
	}
	if (!r->bad) {
		n->kt = xcalloc(nt + 1, sizeof(*n->kt));
		for (uint64_t j = 0; j < nt && !r->bad; j++)
			n->kt[j].id = zstr(r);
		for (uint64_t j = 0; j < nt && !r->bad; j++)
			n->kt[j].path = zstr(r);
		const char *full = column(r, nt, sizeof(hash));
		for (uint64_t j = 0; full && j < nt; j++)
			memcpy(&n->kt[j].full, full + j * sizeof(hash), sizeof(hash));
		for (uint64_t i = 0, at = 0; i < ns; i++) {
			n->ks[i].tasks = n->kt + at;
			at += n->ks[i].ntasks;
		}
	}
	uint64_t nc = u64(r);
	const char *su = column(r, nc, 4), *ta = column(r, nc, 4), *it = column(r, nc, 4);
	const char *sc = column(r, nc, 1), *rk = column(r, nc, sizeof(hash)), *score = column(r, nc, 8);
	const char *secs = column(r, nc, 8), *in = column(r, nc, 8), *out = column(r, nc, 8);
	uint64_t ng = u64(r);
	const char *gs = column(r, ng, 8);
	if (r->bad) {
		free(ngraders);
		return -1;
	}
	n->kc = xcalloc(nc + 1, sizeof(*n->kc));
	if (ng) {
		n->kscores = xcalloc(ng, sizeof(double));
		memcpy(n->kscores, gs, ng * sizeof(double));
	}
	uint64_t gat = 0;
	for (uint64_t i = 0; i < nc && !r->bad; i++) {
		struct keptcell *c = &n->kc[i];
		c->suite = u32at(su, i);
		c->taskno = u32at(ta, i);
		c->iteration = (int)u32at(it, i);
		c->scored = sc[i] != 0;
		memcpy(&c->runkey, rk + i * sizeof(hash), sizeof(hash));
		memcpy(&c->score, score + i * 8, 8);
		memcpy(&c->seconds, secs + i * 8, 8);
		c->intokens = (long long)u64at(in, i);
		c->outtokens = (long long)u64at(out, i);
		c->model = zstr(r);
		if (c->suite >= ns) {
			r->bad = 1;
			break;
		}
		if (ngraders[c->suite] > 1) {
			if (ngraders[c->suite] > ng - gat) {
				r->bad = 1;
				break;
			}
			c->scores = n->kscores + gat;
			gat += ngraders[c->suite];
		}
	}
	free(ngraders);
	n->kp = (struct keptplan){n->ks, ns, n->kc, nc};
	return r->bad ? -1 : 0;
}

/* the kept task a changed path is, as (suite, task); -1 when none */
static int changedtask(const struct noop *n, const char *path, size_t *suite, size_t *task)
{
	for (size_t i = 0; i < n->kp.nsuites; i++)
		for (size_t j = 0; j < n->ks[i].ntasks; j++)
			if (!strcmp(n->ks[i].tasks[j].path, path)) {
				*suite = i;
				*task = j;
				return 0;
			}
	return -1;
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

	if (getrecord(n->st, n->key, n->results, &body, &len) < 0) {
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
	n->pathsat = r.p;
	uint64_t np = u64(&r);
	if (askwatch(n)) {
		n->vouched = 1;
		skippaths(&r, np);
	} else if (pathshold(&r, np, n) < 0) {
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
	if (n->nchanged) {
		/* the record holds but for these: are they all task files of
		 * its plan? Then they alone are planned again (noopplan) */
		const unsigned char *kept = take(&r, 1);
		size_t plen;
		if (!kept || !*kept || getrecord(n->st, plankey(n->key), n->results, &n->pbody, &plen) < 0) {
			explain("%s changed", n->changed[0]);
			goto bad;
		}
		struct rd pr = {n->pbody, (const char *)n->pbody + plen, 0};
		const char *pmagic = bytes(&pr, strlen(MAGIC));
		if (!pmagic || memcmp(pmagic, MAGIC, strlen(MAGIC)) || u32(&pr) != ORDER || readkept(n, &pr) < 0) {
			explain("%s changed (the plan's record cannot be read)", n->changed[0]);
			goto bad;
		}
		/* a folder: one a task glob lists, noopplan checks, after
		 * listing it again */
		for (size_t i = 0; i < n->nchanged; i++) {
			size_t su, t;
			if (!n->changeddir[i] && changedtask(n, n->changed[i], &su, &t) < 0) {
				explain("%s changed", n->changed[i]);
				goto bad;
			}
		}
		return 1;
	}
	n->held = 1;
	return 0;
bad:
	freekept(n);
	freelines(n);
	free(n->body);
	n->body = NULL;
	n->len = 0;
	n->vouched = 0;
	return -1;
}

/* the key of the row that keeps the plan of record key */
static hash plankey(hash key)
{
	struct hasher h;

	hashstart(&h, "noop-plan");
	hashaddhash(&h, key);
	return hashend(&h);
}

/* is the path of len bytes at p one of the changed ones? */
static int ischangedn(const struct noop *n, const char *p, size_t len)
{
	for (size_t i = 0; i < n->nchanged; i++)
		if (strlen(n->changed[i]) == len && !memcmp(n->changed[i], p, len))
			return 1;
	return 0;
}

/* do the task globs, listed again, find exactly the record's tasks, and
 * list each folder that changed? */
static int samelisting(const struct noop *n, const struct evalfile *ef)
{
	if (ef->nsuites != n->kp.nsuites)
		return 0;
	for (size_t i = 0; i < ef->nsuites; i++) {
		const struct strv *paths = &ef->suites[i].taskpaths;
		if (paths->n != n->ks[i].ntasks)
			return 0;
		for (size_t j = 0; j < paths->n; j++)
			if (strcmp(paths->v[j], n->ks[i].tasks[j].path))
				return 0;
	}
	for (size_t c = 0; c < n->nchanged; c++) {
		int listed = !n->changeddir[c];
		for (size_t i = 0; !listed && i < ef->nsuites; i++)
			for (size_t j = 0; !listed && j < ef->suites[i].taskdirs.n; j++)
				listed = !strcmp(ef->suites[i].taskdirs.v[j], n->changed[c]);
		if (!listed)
			return 0;
	}
	return 1;
}

struct plan *noopplan(struct noop *n, struct evalfile *ef, struct state *st, struct store *store,
                      const struct planopts *po, char **experr)
{
	char *err = NULL;

	*experr = NULL;
	if (!n || !n->nchanged || !n->body)
		return NULL;
	/* what the record saw, but the changed files, holds: its paths are
	 * merged into the next record (mergepaths), its variables are as if
	 * read now */
	struct rd r = {n->pathsat, n->body + n->len, 0};
	skippaths(&r, u64(&r));
	uint64_t nv = u64(&r);
	for (uint64_t i = 0; i < nv && !r.bad; i++) {
		char *name = cstr(&r, u32(&r));
		hash h = takehash(&r);
		if (name)
			seenputvar(name, h);
		free(name);
	}
	/* each task a changed file is: one file may be a task of several
	 * suites (globs that overlap), each planned again */
	size_t *su = NULL, *tn = NULL, nfiles = 0, ntasks = 0, cap = 0;
	const char **files = NULL;
	int relist = 0;
	for (size_t i = 0; i < n->nchanged && !r.bad; i++) {
		if (n->changeddir[i]) {
			relist = 1;
			continue;
		}
		size_t found = 0;
		for (size_t a = 0; a < n->kp.nsuites; a++)
			for (size_t b = 0; b < n->ks[a].ntasks; b++) {
				if (strcmp(n->ks[a].tasks[b].path, n->changed[i]))
					continue;
				if (ntasks == cap) {
					cap = cap ? 2 * cap : 16;
					su = xrealloc(su, cap * sizeof(*su));
					tn = xrealloc(tn, cap * sizeof(*tn));
					files = xrealloc(files, cap * sizeof(*files));
				}
				su[ntasks] = a;
				tn[ntasks] = b;
				files[ntasks++] = n->changed[i];
				found++;
			}
		if (!found)
			r.bad = 1;
		nfiles++;
	}
	/* a folder changed (a file came, went or was renamed over: an
	 * editor's save): the task globs list again, and must find the tasks
	 * the record has, and each changed folder must be one they list */
	if (relist && !r.bad) {
		if (expandtasks(ef, experr) < 0 || !samelisting(n, ef)) {
			if (!*experr)
				explain("planned in full: a task file came or went");
			free(su);
			free(tn);
			free(files);
			return NULL;
		}
	}
	struct plan *p = r.bad ? NULL : plankept(ef, st, store, po, &n->kp, &err);
	/* the plan has its own copies: the record's is done with (the
	 * changed paths stay: the next record's merge skips them) */
	freekeptplan(n);
	for (size_t i = 0; p && i < ntasks; i++) {
		int list = 0;
		if (rekeytask(p, &p->sp[su[i]], tn[i], &err) < 0
		    || (list = jsonholdslist(st, files[i], p->sp[su[i]].tasks.v[tn[i]].full, &err)) != 0) {
			if (list > 0)
				err = xasprintf("%s holds a list of tasks now", files[i]);
			freeplan(p);
			p = NULL;
		}
	}
	if (!p) {
		explain("planned in full: %s", err ? err : "the record cannot be read");
		free(err);
	} else if (nfiles) {
		n->planned = 1;
		explain("planned the tasks of %zu changed file%s alone (%s%s)%s", nfiles, nfiles == 1 ? "" : "s", files[0],
		        nfiles > 1 ? ", ..." : "", relist ? ", the task globs listed again" : "");
	} else {
		n->planned = 1;
		explain("the task globs listed again: the same tasks, none changed");
	}
	free(su);
	free(tn);
	free(files);
	return p;
}

void noopcompare(struct plan *kept, struct plan *full)
{
	const char *why = kept->ncells != full->ncells ? "another number of cells" : NULL;

	for (size_t i = 0; !why && i < kept->ncells; i++) {
		const struct cell *a = &kept->cells[i], *b = &full->cells[i];
		if (strcmp(a->id, b->id))
			why = "another cell";
		else if (!hasheq(a->runkey, b->runkey) || a->need != b->need || a->status != b->status)
			why = a->id;
		else if (a->need == NEED_NOTHING && (a->scored != b->scored
		                                     || (a->score != b->score && !(isnan(a->score) && isnan(b->score)))))
			why = a->id;
		else if (a->need == NEED_NOTHING && !hashzero(a->gradekey) && !hasheq(a->gradekey, b->gradekey))
			why = a->id;
	}
	if (!why) {
		struct suitesum *sa = summarize(kept), *sb = summarize(full);
		size_t la, lb;
		char *ta = table(kept, sa, 0, &la), *tb = table(full, sb, 0, &lb);
		if (la != lb || memcmp(ta, tb, la))
			why = "another table";
		free(ta);
		free(tb);
		freesummary(kept, sa);
		freesummary(full, sb);
	}
	if (why)
		fatal(70, "internal error: the plan a no-op record kept disagrees with planning (%s)", why);
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

/* may the record keep the plan (noopplan)? Every suite of the Evalfile,
 * every task a .json file */
static int keepsplan(const struct noop *n, const struct plan *p)
{
	if (!n->plainplan || p->nsp != p->ef->nsuites)
		return 0;
	for (size_t i = 0; i < p->nsp; i++)
		for (size_t j = 0; j < p->sp[i].tasks.n; j++)
			if (p->sp[i].tasks.v[j].kind != TASK_JSON)
				return 0;
	return 1;
}

/* is path a task file of the plan, or a folder its task globs list
 * (noopplan lists it again)? */
static int taskfile(const struct plan *p, const char *path)
{
	for (size_t i = 0; i < p->nsp; i++)
		for (size_t j = 0; j < p->sp[i].tasks.n; j++)
			if (!strcmp(p->sp[i].tasks.v[j].path, path))
				return 1;
	for (size_t i = 0; i < p->ef->nsuites; i++)
		for (size_t j = 0; j < p->ef->suites[i].taskdirs.n; j++)
			if (!strcmp(p->ef->suites[i].taskdirs.v[j], path))
				return 1;
	return 0;
}

/* room for n more bytes at once (a record is megabytes: growing by
 * doubling would copy it over and over) */
static void reserve(struct buf *b, size_t n)
{
	if (b->cap >= b->len + n + 1)
		return;
	b->s = xrealloc(b->s, b->len + n + 1);
	b->cap = b->len + n + 1;
}

static void putz(struct buf *b, const char *s)
{
	size_t len = strlen(s);

	put32(b, (uint32_t)len);
	put(b, s, len + 1);
}

static void putf64(struct buf *b, double v)
{
	put(b, &v, sizeof(v));
}

/* the plan, for noopplan (see the body's layout at the top), a column
 * at a time: most columns are one value repeated, which packs to nothing */
static void putplan(struct buf *b, struct plan *p)
{
	size_t ng = 0, size = 64 + p->ncells * 80;

	for (size_t i = 0; i < p->nsp; i++)
		for (size_t j = 0; j < p->sp[i].tasks.n; j++)
			size += strlen(p->sp[i].tasks.v[j].id) + strlen(p->sp[i].tasks.v[j].path) + 32;
	reserve(b, size);
	put64(b, p->nsp);
	for (size_t i = 0; i < p->nsp; i++) {
		const struct suiteplan *sp = &p->sp[i];
		hash config[NKEPT];
		putz(b, sp->suite->name);
		put32(b, (uint32_t)sp->suite->ngraders);
		put64(b, sp->tasks.n);
		keptconfig(sp, config);
		put(b, config, sizeof(config));
	}
	for (size_t i = 0; i < p->nsp; i++)
		for (size_t j = 0; j < p->sp[i].tasks.n; j++)
			putz(b, p->sp[i].tasks.v[j].id);
	for (size_t i = 0; i < p->nsp; i++)
		for (size_t j = 0; j < p->sp[i].tasks.n; j++)
			putz(b, p->sp[i].tasks.v[j].path);
	for (size_t i = 0; i < p->nsp; i++)
		for (size_t j = 0; j < p->sp[i].tasks.n; j++)
			put(b, &p->sp[i].tasks.v[j].full, sizeof(hash));
	size_t nc = p->ncells;
	put64(b, nc);
	uint32_t *u = xcalloc(nc + 1, sizeof(*u));
	for (size_t i = 0; i < nc; i++)
		u[i] = (uint32_t)(p->cells[i].sp - p->sp);
	put(b, u, nc * sizeof(*u));
	for (size_t i = 0; i < nc; i++)
		u[i] = (uint32_t)p->cells[i].taskno;
	put(b, u, nc * sizeof(*u));
	for (size_t i = 0; i < nc; i++)
		u[i] = (uint32_t)p->cells[i].iteration;
	put(b, u, nc * sizeof(*u));
	free(u);
	unsigned char *sc = xcalloc(nc + 1, 1);
	for (size_t i = 0; i < nc; i++)
		sc[i] = (unsigned char)!!p->cells[i].scored;
	put(b, sc, nc);
	free(sc);
	hash *h = xcalloc(nc + 1, sizeof(*h));
	for (size_t i = 0; i < nc; i++)
		h[i] = p->cells[i].runkey;
	put(b, h, nc * sizeof(*h));
	free(h);
	double *d = xcalloc(nc + 1, sizeof(*d));
	for (size_t i = 0; i < nc; i++)
		d[i] = p->cells[i].score;
	put(b, d, nc * sizeof(*d));
	for (size_t i = 0; i < nc; i++)
		d[i] = p->cells[i].seconds;
	put(b, d, nc * sizeof(*d));
	free(d);
	const struct runrec **runs = xcalloc(nc + 1, sizeof(*runs));
	int64_t *t = xcalloc(nc + 1, sizeof(*t));
	for (size_t i = 0; i < nc; i++) {
		runs[i] = cellrun(p, &p->cells[i]);
		t[i] = runs[i] ? runs[i]->intokens : -1;
	}
	put(b, t, nc * sizeof(*t));
	for (size_t i = 0; i < nc; i++)
		t[i] = runs[i] ? runs[i]->outtokens : -1;
	put(b, t, nc * sizeof(*t));
	free(t);
	for (size_t i = 0; i < nc; i++)
		if (p->cells[i].sp->suite->ngraders > 1)
			ng += p->cells[i].sp->suite->ngraders;
	put64(b, ng);
	for (size_t i = 0; i < nc; i++)
		for (size_t g = 0; p->cells[i].sp->suite->ngraders > 1 && g < p->cells[i].sp->suite->ngraders; g++)
			putf64(b, scoreof(&p->cells[i], g));
	for (size_t i = 0; i < nc; i++)
		putz(b, runs[i] ? runs[i]->model : "");
	free(runs);
}

static void putpath(struct buf *b, const struct seenpath *s)
{
	unsigned char follow = (unsigned char)s->follow;
	int32_t err = s->racy ? SUSPECT : s->err;
	int64_t v[6] = {s->mode, s->size, s->mtime, s->ctime, s->ino, s->dev};

	putstr(b, s->path, strlen(s->path));
	put(b, &follow, 1);
	put(b, &err, sizeof(err));
	put(b, v, sizeof(v));
}

/* the paths of a plan noopplan made: the record's (they held), but the
 * changed ones, merged with the np seen now (both sorted by path and
 * follow, as seenrecord sorts), the record's copied as they are. -1 when
 * one was seen with other stat data than the record's: it changed */
static int mergepaths(struct buf *b, struct noop *n, const struct seenpath *paths, size_t np)
{
	struct rd r = {n->pathsat, n->body + n->len, 0};
	uint64_t nold = u64(&r), count = 0;
	size_t at = b->len, i = 0;

	put64(b, 0); /* the count, filled in below */
	for (uint64_t k = 0; k <= nold && !r.bad; k++) {
		const char *start = r.p, *old = NULL;
		uint32_t len = 0;
		const unsigned char *follow = NULL;
		const char *rest = NULL;
		if (k < nold) {
			len = u32(&r);
			old = bytes(&r, len);
			follow = take(&r, 1);
			rest = take(&r, sizeof(int32_t) + 6 * sizeof(int64_t));
			if (r.bad)
				break;
		}
		/* the paths seen now that sort before this one */
		for (; i < np; i++) {
			int c = -1; /* past the record's last: all that is left */
			if (old) {
				size_t l = strlen(paths[i].path);
				c = memcmp(paths[i].path, old, l < len ? l : len);
				if (!c)
					c = l < len ? -1 : l > len ? 1 : paths[i].follow - *follow;
			}
			if (c > 0)
				break;
			if (c == 0) {
				/* seen again: it must be as the record has it */
				struct seenpath was = entrydata(*follow, rest);
				int same = seeneq(&was, &paths[i]);
				int changed = ischangedn(n, old, len);
				if (!same && !changed) {
					explain("not kept: %s changed while it was planned", paths[i].path);
					return -1;
				}
				if (changed) { /* read again: as seen now, not as it was */
					putpath(b, &paths[i]);
					count++;
					old = NULL;
				}
				i++;
				break; /* else the record's entry follows */
			}
			putpath(b, &paths[i]);
			count++;
		}
		if (!old || ischangedn(n, old, len))
			continue;
		put(b, start, (size_t)(r.p - start));
		count++;
	}
	if (r.bad)
		return -1;
	memcpy(b->s + at, &count, sizeof(count));
	return 0;
}

/* the cells that ran or were graded now as a later run finds them: cached
 * (put back by asbefore) */
struct was {
	enum cellstatus status;
	int graded_now, fetched;
};

static struct was *ascached(struct plan *p)
{
	struct was *w = xcalloc(p->ncells + 1, sizeof(*w));

	for (size_t i = 0; i < p->ncells; i++) {
		struct cell *c = &p->cells[i];
		w[i] = (struct was){c->status, c->graded_now, c->fetched};
		c->status = CELL_CACHED;
		c->graded_now = c->fetched = 0;
	}
	return w;
}

static void asbefore(struct plan *p, struct was *w)
{
	for (size_t i = 0; i < p->ncells; i++) {
		p->cells[i].status = w[i].status;
		p->cells[i].graded_now = w[i].graded_now;
		p->cells[i].fetched = w[i].fetched;
	}
	free(w);
}

void noopsave(struct noop *n, struct plan *p, struct suitesum *sum, int partial, int ok)
{
	struct seenpath *paths;
	struct seenvar *vars;
	size_t np, nv;
	int uptodate = ok, now = 0;

	seenstop();
	/* up to date: found so, or run and graded by this command */
	for (size_t i = 0; i < p->ncells && uptodate; i++) {
		const struct cell *c = &p->cells[i];
		uptodate = c->need == NEED_NOTHING && (c->status == CELL_CACHED || c->status == CELL_RAN);
		now |= c->status == CELL_RAN || c->graded_now || c->fetched;
	}
	if (n->held && noopverifying() && (!uptodate || now))
		fatal(70, "internal error: a no-op record held that planning disagrees with (a cell is not up to date)");
	if (!uptodate) {
		explain("not kept: not every cell was up to date");
		return;
	}
	/* the record's table is the one a later run prints, finding the
	 * cells that ran now in the cache */
	struct was *was = now ? ascached(p) : NULL;
	struct suitesum *later = now ? summarize(p) : sum;
	size_t plainlen, colorlen;
	/* the table reads more than the plan did: a failing task's output,
	 * from its run's entry, which may be a folder or file under runs/
	 * (deleted, it shows as "?") */
	seenresume();
	char *plain = table(p, later, 0, &plainlen);
	seenstop();
	if (n->held && noopverifying() && (plainlen != n->plainlen || memcmp(plain, n->plain, plainlen)))
		fatal(70, "internal error: a no-op record held that planning disagrees with (another table)");
	char *color = NULL;
	struct buf b = {0}, pb = {0};
	/* this run's own writes still queued (a regrade's grades) go
	 * first: else the generation moves on under the record, which is
	 * then never kept */
	storeflush(n->st);
	long long gen = storemine(n->st);
	int keep = keepsplan(n, p);
	if (seenrecord(&paths, &np, &vars, &nv) < 0) {
		explain("not kept: %s", seenwhy());
		goto done;
	}
	/* a file written within the margin: only a task file or a task
	 * folder, which the record marks to be read again (noopplan) */
	for (size_t i = 0, racy = 0; i < np; i++) {
		if (!paths[i].racy)
			continue;
		if (!keep || ++racy > MAXCHANGED || !taskfile(p, paths[i].path)) {
			explain("not kept: %s", seenwhy());
			goto done;
		}
	}
	if (gen < 0) {
		explain("not kept: results were stored, changed or removed by another process meanwhile");
		goto done;
	}
	color = table(p, later, 1, &colorlen);
	size_t size = 64 + plainlen + colorlen + (n->planned ? n->len : 0);
	for (size_t i = 0; i < np; i++)
		size += strlen(paths[i].path) + 64;
	reserve(&b, size);
	put(&b, MAGIC, strlen(MAGIC));
	put32(&b, ORDER);
	if (n->planned) {
		if (mergepaths(&b, n, paths, np) < 0)
			goto done;
	} else {
		put64(&b, np);
		for (size_t i = 0; i < np; i++)
			putpath(&b, &paths[i]);
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
		char *line = historyline(PLACEHOLDER, name, &later[i], "evalmake", partial);
		putstr(&b, name, strlen(name));
		putstr(&b, line, strlen(line));
		free(line);
	}
	unsigned char kept = (unsigned char)keep;
	put(&b, &kept, 1);
	if (keep) {
		/* in a row of its own: a replay does not read it */
		put(&pb, MAGIC, strlen(MAGIC));
		put32(&pb, ORDER);
		putplan(&pb, p);
	}
	pack(&b);
	if (keep)
		pack(&pb);
	if (storenoopput2(n->st, n->key, gen, b.s, b.len, plankey(n->key), keep ? pb.s : NULL, pb.len) < 0)
		explain("not kept: results were stored, changed or removed while it planned");
done:
	buffree(&b);
	buffree(&pb);
	free(plain);
	free(color);
	if (was) {
		freesummary(p, later);
		asbefore(p, was);
	}
}

void noopfree(struct noop *n)
{
	if (!n)
		return;
	freekept(n);
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
	if (storenoopbody(s->st, key, &body, &len) < 0 || !(body = unpack(body, len, &len)))
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
		ok = pathshold(&r, np, NULL) == 0;
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
