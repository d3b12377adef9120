/* store: see store.h for the layout and its guarantees.
 *
 * The index is CACHE/index.db (db.h has the schema): a row per run, grade
 * and cell, looked up one key at a time and kept in this process's tables
 * once seen, so a run reads the rows of the cells it plans and no others.
 * Writes are queued and committed in one transaction per batch (at
 * storeflush, closestore, or when many have gathered): a no-op run writes
 * nothing, a run that changes one cell writes its few rows. Runs and
 * grades live in their entries too (runs/, grades/): a row lost to a kill
 * is found again on disk. */
#define _GNU_SOURCE
#include <ctype.h>
#include <pthread.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zstd.h>

#include "store/archive.h"
#include "store/store.h"
#include "store/db.h"
#include "core/seen.h"
#include "core/util.h"

/* a write not committed yet */
struct op {
	char kind;           /* R run, G grade, C cell, U used (run), V used (grade), X run dropped */
	hash key;
	struct runrec run;
	double score;
	char *text;          /* G: the reason; C: the cell id */
	struct cellrec cell;
	unsigned day;
};

enum {
	ST_RUN, ST_GRADE, ST_CELL, ST_PUTRUN, ST_PUTGRADE, ST_PUTCELL, ST_USERUN, ST_USEGRADE, ST_DROPRUN,
	ST_ENTRY, ST_HASENTRY, ST_PUTENTRY, ST_DROPENTRY, ST_MADE, ST_ALLRUNS, ST_ALLGRADES,
	ST_RESULTS, ST_NOOPGET, ST_NOOPBODY, ST_NOOPDROP, ST_NOOPPUT, NST
};

struct pending;

struct store {
	char *dir;
	sqlite3 *db;         /* NULL until the cache folder exists */
	int lockfd;
	struct htab *runs;   /* 16-byte key -> struct runrec: rows seen or written */
	struct htab *grades; /* 16-byte key -> struct graderec */
	struct htab *cells;  /* cell id -> struct cellrec */
	unsigned tmpcount;
	unsigned char made[2][256]; /* runs/KK and grades/KK folders known to exist */
	struct op *ops;      /* writes not committed yet */
	size_t nops, capops;
	int markuse;         /* findrun/findgrade mark what they find used */
	int noinline;        /* store every run entry as a folder (storeinline) */
	unsigned today;      /* days since the epoch, at open */
	int isready;         /* the folders and the index exist */
	int unusable;        /* the cache folder could not be made ready */
	int runlockfd;       /* runlocks: fcntl locks, one byte per run key */
	struct htab *held;   /* run keys this process holds the lock of */
	sqlite3_stmt *st[NST];
	int reads;           /* lookups in the open read transaction (db.h) */
	int runqueries, gradequeries; /* point queries so far (scanrows) */
	int runscanned, gradescanned; /* the table was scanned */
	int batching;        /* storebatch: inline entries are held, not written */
	struct pending *pend; /* the inline entries held */
	size_t npend, cappend;
	struct htab *pendkeys; /* their keys (a lookup of one commits them first) */
	hash *deferred;      /* run locks released while their entry was held */
	size_t ndeferred, capdeferred;
	size_t pendbytes;    /* their bodies' size */
	size_t unsynced;     /* inline entries committed since the WAL was synced */
	double unsyncedsince; /* when the first of them was (monotonic s) */
	/* the syncer: a thread that syncs the WAL when asked, so the loop does
	 * not wait for the disk (started at the first request) */
	pthread_t syncer;
	char *walpath;
	int syncerup, syncwant, syncstop;
	pthread_mutex_t syncmu;
	pthread_cond_t synccv;
	/* storefollow: the generation our last commit left, -1 when lost */
	int follow;
	long long genwas, gennext;
};

static unsigned dayof(time_t t)
{
	return (unsigned)(t / 86400);
}

/* make the KK folder of path (kind 0: runs, 1: grades) once per process */
static void makeparent(struct store *s, int kind, hash key, const char *path)
{
	unsigned kk = (unsigned)(key.high64 >> 56);
	struct stat st;

	if (s->made[kind][kk])
		return;
	char *parent = dirname_of(path);
	if (stat(parent, &st) == 0 || (mkdirs(parent, 0755) == 0 && syncparent(parent) == 0))
		s->made[kind][kk] = 1;
	free(parent);
}

static void freegrade(void *p)
{
	struct graderec *g = p;

	if (g)
		free(g->reason);
	free(g);
}

static const char *const sql[NST] = {
	[ST_RUN] = "SELECT out, exit, seconds, used, intok, outtok, model FROM runs WHERE key = ?1",
	[ST_GRADE] = "SELECT score, reason, used FROM grades WHERE key = ?1",
	[ST_CELL] = "SELECT run, grade, agent, prompt, task, deps, env, iteration FROM cells WHERE id = ?1",
	[ST_PUTRUN] = ("INSERT OR REPLACE INTO runs(key, out, exit, seconds, used, intok, outtok, model)"
	               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
	[ST_PUTGRADE] = "INSERT OR REPLACE INTO grades(key, score, reason, used) VALUES (?1, ?2, ?3, ?4)",
	[ST_PUTCELL] = ("INSERT OR REPLACE INTO cells(id, run, grade, agent, prompt, task, deps, env, iteration)"
	                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
	[ST_USERUN] = "UPDATE runs SET used = ?2 WHERE key = ?1 AND used < ?2",
	[ST_USEGRADE] = "UPDATE grades SET used = ?2 WHERE key = ?1 AND used < ?2",
	[ST_DROPRUN] = "DELETE FROM runs WHERE key = ?1",
	[ST_ENTRY] = "SELECT zstd, size, body FROM entries WHERE key = ?1",
	[ST_HASENTRY] = "SELECT 1 FROM entries WHERE key = ?1",
	[ST_PUTENTRY] = "INSERT OR REPLACE INTO entries(key, zstd, size, made, body) VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_MADE] = "SELECT made FROM entries WHERE key = ?1",
	[ST_DROPENTRY] = "DELETE FROM entries WHERE key = ?1",
	/* as ST_RUN and ST_GRADE, every row; a run row of before version 2
	 * (intok NULL) is left to lookuprun, which completes it */
	[ST_ALLRUNS] = "SELECT out, exit, seconds, used, intok, outtok, model, key FROM runs WHERE intok IS NOT NULL",
	[ST_ALLGRADES] = "SELECT score, reason, used, key FROM grades",
	[ST_RESULTS] = "SELECT v FROM meta WHERE k = 'results'",
	[ST_NOOPGET] = "SELECT body FROM noops WHERE key = ?1 AND results = ?2 AND day = ?3",
	[ST_NOOPBODY] = "SELECT body FROM noops WHERE key = ?1",
	[ST_NOOPDROP] = "DELETE FROM noops WHERE results != ?1 OR day != ?2",
	[ST_NOOPPUT] = "INSERT OR REPLACE INTO noops(key, results, day, body) VALUES (?1, ?2, ?3, ?4)",
};

static sqlite3_stmt *stmt(struct store *s, int which)
{
	return dbstmt(s->db, &s->st[which], sql[which]);
}

/* stmt, or NULL when it cannot be prepared: the no-op tables are missing
 * from a read-only index of an older schema, which is not migrated */
static sqlite3_stmt *trystmt(struct store *s, int which)
{
	if (!s->st[which]
	    && sqlite3_prepare_v3(s->db, sql[which], -1, SQLITE_PREPARE_PERSISTENT, &s->st[which], NULL) != SQLITE_OK)
		return NULL;
	return stmt(s, which);
}

static int ready(struct store *s);

/* ST_PUTRUN's values: the row of run key */
static void bindrun(sqlite3_stmt *st, hash key, const struct runrec *r)
{
	bindhash(st, 1, key);
	bindhash(st, 2, r->out);
	sqlite3_bind_int(st, 3, r->exitcode);
	sqlite3_bind_double(st, 4, r->seconds);
	sqlite3_bind_int64(st, 5, r->used);
	sqlite3_bind_int64(st, 6, r->intokens);
	sqlite3_bind_int64(st, 7, r->outtokens);
	if (r->model[0])
		sqlite3_bind_text(st, 8, r->model, -1, SQLITE_TRANSIENT);
}

/* execute one queued write */
static int runop(struct store *s, const struct op *o)
{
	sqlite3_stmt *st;

	switch (o->kind) {
	case 'R':
		st = stmt(s, ST_PUTRUN);
		bindrun(st, o->key, &o->run);
		break;
	case 'G':
		st = stmt(s, ST_PUTGRADE);
		bindhash(st, 1, o->key);
		sqlite3_bind_double(st, 2, o->score);
		sqlite3_bind_text(st, 3, o->text, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, o->day);
		break;
	case 'C':
		st = stmt(s, ST_PUTCELL);
		sqlite3_bind_text(st, 1, o->text, -1, SQLITE_STATIC);
		bindhash(st, 2, o->cell.run);
		bindhash(st, 3, o->cell.grade);
		for (int i = 0; i < NPARTS; i++)
			bindhash(st, 4 + i, o->cell.parts[i]);
		sqlite3_bind_int(st, 4 + NPARTS, o->cell.iteration);
		break;
	case 'U':
	case 'V':
		st = stmt(s, o->kind == 'U' ? ST_USERUN : ST_USEGRADE);
		bindhash(st, 1, o->key);
		sqlite3_bind_int64(st, 2, o->day);
		break;
	default:
		/* a run dropped: its inline entry goes with its row */
		st = stmt(s, ST_DROPENTRY);
		bindhash(st, 1, o->key);
		if (dbdone(s->db, st, "writing the index") < 0)
			return -1;
		st = stmt(s, ST_DROPRUN);
		bindhash(st, 1, o->key);
		break;
	}
	return dbdone(s->db, st, "writing the index");
}

static void clearops(struct store *s)
{
	for (size_t i = 0; i < s->nops; i++)
		free(s->ops[i].text);
	s->nops = 0;
}

/* the generation as this connection sees it, in its write transaction */
static long long genread(struct store *s)
{
	sqlite3_stmt *st = trystmt(s, ST_RESULTS);
	long long v = -1;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	if (st)
		sqlite3_reset(st);
	return v;
}

/* storefollow's check, at the start of a write transaction: another
 * process wrote results since our last commit */
static void genbegin(struct store *s)
{
	if (s->follow && s->genwas >= 0 && genread(s) != s->genwas)
		s->genwas = -1;
}

static void genbeforecommit(struct store *s)
{
	if (s->follow)
		s->gennext = genread(s);
}

/* after the commit (ok) or a failure: a write not made loses the thread */
static void genafter(struct store *s, int ok)
{
	if (s->follow && s->genwas >= 0)
		s->genwas = ok ? s->gennext : -1;
}

void storefollow(struct store *s, long long results)
{
	s->follow = 1;
	s->genwas = results;
}

long long storemine(struct store *s)
{
	return s->follow ? s->genwas : -1;
}

void storeflush(struct store *s)
{
	if (!s->nops)
		return;
	if (ready(s) < 0) {
		genafter(s, 0);
		clearops(s);
		return;
	}
	dbendread(s->db, &s->reads);
	/* a shared flock: gc takes it exclusively to see a still index */
	flock(s->lockfd, LOCK_SH);
	int ok = dbexec(s->db, "BEGIN IMMEDIATE") == 0;
	if (ok)
		genbegin(s);
	for (size_t i = 0; ok && i < s->nops; i++)
		ok = runop(s, &s->ops[i]) == 0;
	if (ok)
		genbeforecommit(s);
	if (ok)
		ok = dbexec(s->db, "COMMIT") == 0;
	genafter(s, ok);
	if (!ok) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		warn("cannot write the index in %s: what was not written is found again on disk", s->dir);
	}
	flock(s->lockfd, LOCK_UN);
	clearops(s);
}

void storeresync(struct store *s)
{
	/* opened before the cache existed, the store has no index yet: the
	 * others made it meanwhile */
	if (ready(s) < 0)
		return;
	storeflush(s);
	dbendread(s->db, &s->reads);
}

/* queue a write; they are committed together (see the top of the file) */
static struct op *queue(struct store *s, char kind, hash key)
{
	if (s->nops >= 1024)
		storeflush(s);
	xgrow(&s->ops, &s->capops, s->nops + 1, sizeof(*s->ops));
	struct op *o = &s->ops[s->nops++];
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->key = key;
	return o;
}

#define STRAYAGE (7 * 86400.0) /* a leftover this old is one, whoever owns it */

/* is the leftover at path, written by process pid (0: unknown), safe to
 * remove? Its owner is gone, or it is older than any write in progress
 * (a pid can be reused by a process that will never clean up). A live
 * owner may be writing it now. */
static int stray(const char *path, long pid)
{
	struct stat st;

	if (pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		return 1;
	return lstat(path, &st) == 0 && difftime(time(NULL), st.st_mtime) > STRAYAGE;
}

/* this host's name as tmp/ names carry it: letters, digits and '-' */
static const char *hostpart(void)
{
	static char host[72];

	if (!host[0]) {
		if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
			snprintf(host, sizeof(host), "host");
		for (char *c = host; *c; c++)
			if (!isalnum((unsigned char)*c) && *c != '-')
				*c = '_';
	}
	return host;
}

/* a fresh path under tmp/: "PID-HOST.[kind]N". The host matters on a
 * folder shared by several machines (shards of a job array): a pid names
 * a process of its own host only, so no host sweeps another's entries
 * being written (only leftovers older than STRAYAGE) */
static char *tmpname(struct store *s, const char *kind)
{
	return xasprintf("%s/tmp/%ld-%s.%s%u", s->dir, (long)getpid(), hostpart(), kind, s->tmpcount++);
}

/* was the tmp/ entry name (after its pid: rest) made on this host? One
 * without a host is from before names had one: this host's */
static int madehere(const char *rest)
{
	const char *h = hostpart();
	size_t n = strlen(h);

	return *rest != '-' || (!strncmp(rest + 1, h, n) && rest[1 + n] == '.');
}

/* remove tmp/ entries of processes that are gone (killed mid-run, or mid
 * gc: an entry being deleted is renamed into tmp/ first), or very old;
 * another host's only when very old */
static void cleantmp(struct store *s)
{
	char *tmp = pathjoin(s->dir, "tmp");
	DIR *d = opendir(tmp);
	struct dirent *e;

	if (d) {
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char *end;
			long pid = strtol(e->d_name, &end, 10);
			char *p = pathjoin(tmp, e->d_name);
			if (!madehere(end) ? stray(p, 0) : pid == (long)getpid() || stray(p, pid <= 0 ? 0 : pid))
				rmtree(p);
			free(p);
		}
		closedir(d);
	}
	free(tmp);
}

/* open the index of an existing cache folder (converting an old one) */
static void openindex(struct store *s)
{
	if (!s->db)
		s->db = opendb(s->dir, 1);
}

/* create the cache folder and its index on the first write: a run that
 * fails before storing anything leaves no cache behind */
static int ready(struct store *s)
{
	static const char *const sub[] = {"runs", "grades", "errors", "tmp"};
	char *p;

	if (s->isready)
		return 0;
	if (s->unusable)
		return -1; /* said once already */
	s->unusable = 1;
	for (size_t i = 0; i < LEN(sub); i++) {
		p = pathjoin(s->dir, sub[i]);
		if (mkdirs(p, 0755) < 0) {
			warn("cannot create cache folder %s:", p);
			free(p);
			return -1;
		}
		free(p);
	}
	p = pathjoin(s->dir, "lock");
	if (s->lockfd < 0)
		s->lockfd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lockfd < 0) {
		warn("cannot open %s:", p);
		free(p);
		return -1;
	}
	free(p);
	openindex(s);
	if (!s->db || sqlite3_db_readonly(s->db, "main") == 1)
		return -1;
	s->unusable = 0;
	s->isready = 1;
	return 0;
}

struct store *openstore(const char *dir, char **err)
{
	struct store *s = xcalloc(1, sizeof(*s));
	struct stat st;

	*err = NULL;
	s->dir = xstrdup(dir);
	s->lockfd = s->runlockfd = -1;
	s->markuse = 1;
	s->today = dayof(time(NULL));
	s->held = mkhtab(16);
	s->runs = mkhtab(1024);
	s->grades = mkhtab(1024);
	s->cells = mkhtab(1024);
	if (stat(dir, &st) < 0) {
		if (errno == ENOENT)
			return s; /* made on the first write */
		*err = xasprintf("cannot use cache folder %s: %s", dir, strerror(errno));
		closestore(s);
		return NULL;
	}
	if (!S_ISDIR(st.st_mode)) {
		*err = xasprintf("cache folder %s is not a folder", dir);
		closestore(s);
		return NULL;
	}
	char *p = pathjoin(dir, "lock");
	s->lockfd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	free(p);
	openindex(s);
	cleantmp(s);
	return s;
}

static char *keypath(struct store *s, const char *kind, hash key)
{
	char hx[33];

	hashhex(key, hx);
	return xasprintf("%s/%s/%.2s/%s", s->dir, kind, hx, hx);
}

char *runpath(struct store *s, hash key)
{
	return keypath(s, "runs", key);
}

char *errorpath(struct store *s, const char *cellid)
{
	char hx[33];

	hashhex(hashbytes(cellid, strlen(cellid)), hx);
	return xasprintf("%s/errors/%s", s->dir, hx);
}

/* queue the row of a run */
static void logrun(struct store *s, hash key, const struct runrec *r)
{
	struct op *o = queue(s, 'R', key);

	o->run = *r;
	if (!o->run.used)
		o->run.used = s->today;
}

#define PACKHEADER "evalmake-entry 1\n"
#define INLINE_MAX (256 * 1024) /* a part larger than this: the entry is a folder */

/* the parts of a packed entry (a file, or an inline entry's body): a
 * header, then per part "NAME LENGTH\n" and the bytes. Calls each(name,
 * namelen, data, len, arg) per part until it returns nonzero; 1 when the
 * whole text parsed, 0 when it stopped early or is damaged. */
static int packwalk(const char *text, size_t len,
                    int (*each)(const char *, size_t, const char *, size_t, void *), void *arg)
{
	if (len < strlen(PACKHEADER) || strncmp(text, PACKHEADER, strlen(PACKHEADER)))
		return 0;
	for (const char *p = text + strlen(PACKHEADER); p < text + len;) {
		const char *nl = memchr(p, '\n', (size_t)(text + len - p)), *sp;
		char *end;
		if (!nl || !(sp = memchr(p, ' ', (size_t)(nl - p))))
			return 0;
		unsigned long long n = strtoull(sp + 1, &end, 10);
		if (end != nl || n > (unsigned long long)(text + len - (nl + 1)))
			return 0;
		if (each && each(p, (size_t)(sp - p), nl + 1, (size_t)n, arg))
			return 0;
		p = nl + 1 + n;
	}
	return 1;
}

struct findpart {
	const char *name;
	char *data;
	size_t len;
};

static int findeach(const char *name, size_t namelen, const char *data, size_t len, void *arg)
{
	struct findpart *f = arg;

	if (namelen != strlen(f->name) || memcmp(name, f->name, namelen))
		return 0;
	f->data = xstrndup(data, len);
	f->len = len;
	return 1;
}

/* part of the packed text, or NULL */
static char *packpart(const char *text, size_t len, const char *part, size_t *lenp)
{
	struct findpart f = {.name = part};

	packwalk(text, len, findeach, &f);
	if (f.data && lenp)
		*lenp = f.len;
	return f.data;
}

/* one part of an entry on disk: a folder or a packed file */
static char *diskpart(const char *entry, const char *part, size_t *lenp)
{
	struct stat st;
	size_t len;
	int rc = stat(entry, &st);

	seenstat(entry, 1, rc, &st); /* a no-op's table may show it (report/noop.h) */
	if (rc < 0)
		return NULL;
	if (S_ISDIR(st.st_mode)) {
		char *p = pathjoin(entry, part);
		char *r = readfile(p, lenp);
		free(p);
		return r;
	}
	char *text = readfile(entry, &len);
	char *r = text ? packpart(text, len, part, lenp) : NULL;
	free(text);
	return r;
}

static int haveeach(const char *name, size_t namelen, const char *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	if ((namelen == 6 && !memcmp(name, "output", 6)) || (namelen == 9 && !memcmp(name, "meta.json", 9)))
		++*(int *)arg;
	return 0;
}

/* does every part of a packed entry parse, to its last byte, and are the
 * parts a stored run has there? */
static int packwhole(const char *text, size_t len)
{
	int have = 0;

	return packwalk(text, len, haveeach, &have) && have >= 2;
}

/* the parts a stored run cannot do without: a folder missing one was half
 * deleted (by an older gc) or half copied */
static int folderwhole(const char *dir)
{
	static const char *const parts[] = {"output", "meta.json"};

	for (size_t i = 0; i < LEN(parts); i++) {
		char *p = pathjoin(dir, parts[i]);
		int ok = access(p, F_OK) == 0;
		free(p);
		if (!ok)
			return 0;
	}
	return 1;
}

/* mark a run or grade found now as used today: its mtime, for gc, and a
 * row's day, so the next run today need not touch it again. Once a day per
 * entry: a no-op run over 100,000 cells touches nothing after the first. */
static void markused(struct store *s, const char *kind, hash key, unsigned *used)
{
	if (!s->markuse || *used >= s->today)
		return;
	*used = s->today;
	char *p = keypath(s, kind, key);
	int r = utimensat(AT_FDCWD, p, NULL, 0);
	free(p);
	if (r < 0 && errno != ENOENT) {
		/* a read-only cache: nothing can be recorded, and no run writes */
		s->markuse = 0;
		return;
	}
	queue(s, kind[0] == 'r' ? 'U' : 'V', key)->day = s->today;
}

void storemarkuse(struct store *s, int on)
{
	s->markuse = on;
}

void storeinline(struct store *s, int on)
{
	s->noinline = !on;
}

/* the tokens and model of a run's meta.json ("usage", "model") */
static void metausage(const cJSON *m, struct runrec *r)
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(m, "usage");
	const cJSON *in = cJSON_GetObjectItemCaseSensitive(u, "input_tokens");
	const cJSON *out = cJSON_GetObjectItemCaseSensitive(u, "output_tokens");
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(m, "model");

	r->intokens = cJSON_IsNumber(in) && in->valuedouble >= 0 ? (long long)in->valuedouble : -1;
	r->outtokens = cJSON_IsNumber(out) && out->valuedouble >= 0 ? (long long)out->valuedouble : -1;
	snprintf(r->model, sizeof(r->model), "%s", cJSON_IsString(model) ? model->valuestring : "");
}

/* index a run entry found on disk (its meta.json); NULL when there is none
 * or it is damaged (then the cell runs again and replaces it) */
static int hasinline(struct store *s, hash key);
static void seepending(struct store *s, hash key);

static const struct runrec *indexrun(struct store *s, hash key)
{
	char *dir = runpath(s, key);
	struct stat st;
	size_t len;
	char *text = NULL, *o;

	int found = stat(dir, &st) == 0;

	if (hasinline(s, key)) {
		/* a row whose run row was lost (deleted by hand) */
		if ((o = entrypart(s, key, "output", NULL)))
			text = entrypart(s, key, "meta.json", NULL);
		free(o);
	} else if (found && S_ISDIR(st.st_mode) && folderwhole(dir)) {
		text = diskpart(dir, "meta.json", NULL);
	} else if (found && S_ISREG(st.st_mode) && (text = readfile(dir, &len))) {
		char *whole = packwhole(text, len) ? packpart(text, len, "meta.json", NULL) : NULL;
		free(text);
		text = whole;
	}
	free(dir);
	if (!text)
		return NULL;
	cJSON *m = cJSON_Parse(text);
	free(text);
	const cJSON *out = cJSON_GetObjectItemCaseSensitive(m, "output_hash");
	struct runrec rec = {0};
	if (!cJSON_IsString(out) || hashparse(out->valuestring, &rec.out) < 0) {
		cJSON_Delete(m);
		return NULL;
	}
	const cJSON *ex = cJSON_GetObjectItemCaseSensitive(m, "exit");
	rec.exitcode = cJSON_IsNumber(ex) ? (int)ex->valuedouble : 0;
	const cJSON *sec = cJSON_GetObjectItemCaseSensitive(m, "seconds");
	rec.seconds = cJSON_IsNumber(sec) ? sec->valuedouble : 0;
	metausage(m, &rec);
	cJSON_Delete(m);
	void **slot = htabslot(s->runs, &key, sizeof(key), 1);
	if (!*slot)
		*slot = xmalloc(sizeof(rec));
	*(struct runrec *)*slot = rec;
	logrun(s, key, *slot);
	return *slot;
}

/* a run's row from the columns of ST_RUN that st is on (out parsed) */
static void runrow(sqlite3_stmt *st, struct runrec *r)
{
	r->exitcode = sqlite3_column_int(st, 1);
	r->seconds = sqlite3_column_double(st, 2);
	r->used = (unsigned)sqlite3_column_int64(st, 3);
	r->intokens = sqlite3_column_type(st, 4) != SQLITE_NULL ? sqlite3_column_int64(st, 4) : -1;
	r->outtokens = sqlite3_column_type(st, 5) != SQLITE_NULL ? sqlite3_column_int64(st, 5) : -1;
	const unsigned char *model = sqlite3_column_text(st, 6);
	snprintf(r->model, sizeof(r->model), "%s", model ? (const char *)model : "");
}

/* a grade's row from the columns of ST_GRADE that st is on */
static struct graderec *graderow(sqlite3_stmt *st)
{
	struct graderec *g = xmalloc(sizeof(*g));
	const char *reason = (const char *)sqlite3_column_text(st, 1);

	g->score = sqlite3_column_double(st, 0);
	g->reason = xstrdup(reason ? reason : "");
	g->used = (unsigned)sqlite3_column_int64(st, 2);
	return g;
}

/* Past this many point queries into runs or grades a run is a big one (a
 * no-op plan asks for one run and one grade per cell): the rest of the table
 * is read in one scan, at a fraction of a point query's cost per row. A small
 * run never pays for the scan. */
enum { SCAN_AFTER = 256 };

/* Read every row of runs (which == ST_ALLRUNS) or grades into memory, in the
 * read transaction the point queries use, keeping every key already there
 * (looked up, written or dropped by this process). A key the scan does not
 * find is still looked up by its point query, so nothing stored later by
 * another process is missed; a row found is the one the point query would
 * have read in this snapshot. */
static void scanrows(struct store *s, int which)
{
	struct htab *t = which == ST_ALLRUNS ? s->runs : s->grades;
	int col = which == ST_ALLRUNS ? 7 : 3, rc;

	if (which == ST_ALLRUNS)
		s->runscanned = 1;
	else
		s->gradescanned = 1;
	dbread(s->db, &s->reads);
	sqlite3_stmt *st = stmt(s, which);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		hash key;
		if (columnhash(st, col, &key) < 0 || htabslot(t, &key, sizeof(key), 0))
			continue;
		if (which == ST_ALLGRADES) {
			htabput(t, &key, sizeof(key), graderow(st));
			continue;
		}
		struct runrec r = {0};
		if (columnhash(st, 0, &r.out) < 0)
			continue;
		runrow(st, &r);
		struct runrec *rp = xmalloc(sizeof(r));
		*rp = r;
		htabput(t, &key, sizeof(key), rp);
	}
	if (rc != SQLITE_DONE)
		dberror(s->db, rc, which == ST_ALLRUNS ? "reading the runs" : "reading the grades");
	sqlite3_reset(st);
}

/* the row of run key: seen before, or read from the index; NULL when
 * the index has none */
static struct runrec *lookuprun(struct store *s, hash key)
{
	void **slot = htabslot(s->runs, &key, sizeof(key), 0);

	if (slot && *slot)
		return *slot;
	if (!s->db)
		return NULL;
	if (!slot && !s->runscanned && ++s->runqueries > SCAN_AFTER) {
		scanrows(s, ST_ALLRUNS);
		if ((slot = htabslot(s->runs, &key, sizeof(key), 0)) && *slot)
			return *slot;
	}
	dbread(s->db, &s->reads);
	sqlite3_stmt *st = stmt(s, ST_RUN);
	struct runrec r = {0}, *rp = NULL;
	bindhash(st, 1, key);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && columnhash(st, 0, &r.out) == 0) {
		int known = sqlite3_column_type(st, 4) != SQLITE_NULL;
		runrow(st, &r);
		sqlite3_reset(st);
		/* a row of an index before version 2: its usage is read from the
		 * entry's meta.json once, and the row written again with it */
		if (!known && indexrun(s, key))
			return htabget(s->runs, &key, sizeof(key));
		rp = xmalloc(sizeof(r));
		*rp = r;
		htabput(s->runs, &key, sizeof(key), rp);
		return rp;
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		dberror(s->db, rc, "looking up a run");
	}
	sqlite3_reset(st);
	return rp;
}

const struct runrec *findrun(struct store *s, hash key)
{
	seepending(s, key);
	struct runrec *r = lookuprun(s, key);

	/* not in our snapshot: another process may have stored it since our
	 * read transaction began (an inline entry is only in the index) */
	if (!r && s->db && s->reads > 0) {
		dbendread(s->db, &s->reads);
		r = lookuprun(s, key);
	}
	/* not indexed: an entry renamed into place by a process killed before
	 * its row was committed */
	if (!r)
		r = (struct runrec *)indexrun(s, key);
	if (r)
		markused(s, "runs", key, &r->used);
	return r;
}

/* the row of grade key, as lookuprun */
static struct graderec *lookupgrade(struct store *s, hash key)
{
	void **slot = htabslot(s->grades, &key, sizeof(key), 0);

	if (slot && *slot)
		return *slot;
	if (!s->db)
		return NULL;
	if (!slot && !s->gradescanned && ++s->gradequeries > SCAN_AFTER) {
		scanrows(s, ST_ALLGRADES);
		if ((slot = htabslot(s->grades, &key, sizeof(key), 0)) && *slot)
			return *slot;
	}
	dbread(s->db, &s->reads);
	sqlite3_stmt *st = stmt(s, ST_GRADE);
	struct graderec *g = NULL;
	bindhash(st, 1, key);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		g = graderow(st);
		htabput(s->grades, &key, sizeof(key), g);
	} else if (rc != SQLITE_DONE) {
		dberror(s->db, rc, "looking up a grade");
	}
	sqlite3_reset(st);
	return g;
}

const struct graderec *findgrade(struct store *s, hash key, int ondisk)
{
	struct graderec *g = lookupgrade(s, key);

	if (g)
		markused(s, "grades", key, &g->used);
	if (g || !ondisk)
		return g;
	/* not indexed: look for the grade file itself */
	char *path = keypath(s, "grades", key);
	char *text = readfile(path, NULL);
	free(path);
	if (!text)
		return NULL;
	char *nl = strchr(text, '\n'), *end;
	double score = strtod(text, &end);
	if (!nl || end != nl || !(score >= 0 && score <= 1)) {
		free(text);
		return NULL;
	}
	char *reason = nl + 1;
	reason[strcspn(reason, "\n")] = '\0';
	g = xmalloc(sizeof(*g));
	g->score = score;
	g->reason = xstrdup(reason);
	g->used = 0;
	free(text);
	void **slot = htabslot(s->grades, &key, sizeof(key), 1);
	freegrade(*slot);
	*slot = g;
	struct op *o = queue(s, 'G', key);
	o->score = score;
	o->text = xstrdup(g->reason);
	markused(s, "grades", key, &g->used);
	return g;
}

const struct cellrec *findcell(struct store *s, const char *id)
{
	void **slot = htabslot(s->cells, id, strlen(id), 0);

	if (slot && *slot)
		return *slot;
	if (!s->db)
		return NULL;
	dbread(s->db, &s->reads);
	sqlite3_stmt *st = stmt(s, ST_CELL);
	struct cellrec c = {0}, *cp = NULL;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int ok = columnhash(st, 0, &c.run) == 0 && columnhash(st, 1, &c.grade) == 0;
		for (int i = 0; i < NPARTS; i++)
			if (columnhash(st, 2 + i, &c.parts[i]) < 0)
				c.parts[i] = (hash){0};
		c.iteration = sqlite3_column_int(st, 2 + NPARTS);
		if (ok) {
			cp = xmalloc(sizeof(c));
			*cp = c;
			htabput(s->cells, id, strlen(id), cp);
		}
	} else if (rc != SQLITE_DONE) {
		dberror(s->db, rc, "looking up a cell");
	}
	sqlite3_reset(st);
	return cp;
}

void setcell(struct store *s, const char *id, const struct cellrec *r)
{
	const struct cellrec *old = findcell(s, id);

	if (old && hasheq(old->run, r->run) && hasheq(old->grade, r->grade) && old->iteration == r->iteration) {
		int same = 1;
		for (int i = 0; i < NPARTS; i++)
			same &= hasheq(old->parts[i], r->parts[i]);
		if (same)
			return;
	}
	void **slot = htabslot(s->cells, id, strlen(id), 1);
	if (!*slot)
		*slot = xmalloc(sizeof(*r));
	*(struct cellrec *)*slot = *r;
	struct op *o = queue(s, 'C', (hash){0});
	o->text = xstrdup(id);
	o->cell = *r;
}

char *newentry(struct store *s, int artifacts)
{
	if (ready(s) < 0)
		fatal(EXIT_GATE, "cannot use the cache folder %s", s->dir);
	/* a fresh name: our pid and a counter, and tmp/ is swept of dead pids */
	char *p = tmpname(s, "");

	if (mkdirs(p, 0755) < 0)
		fatal(EXIT_GATE, "cannot create %s:", p);
	if (artifacts) {
		char *art = pathjoin(p, "artifacts");
		if (mkdir(art, 0755) < 0)
			fatal(EXIT_GATE, "cannot create %s:", art);
		free(art);
	}
	return p;
}

/* move an entry out of the way into tmp/ (one rename: it is there whole
 * or gone), then delete it; a kill in between leaves it to cleantmp */
static void moveaside(struct store *s, const char *path)
{
	char *trash = tmpname(s, "trash.");

	if (rename(path, trash) == 0)
		rmtree(trash);
	free(trash);
}

/* index a run just stored */
static void putrun(struct store *s, hash key, const struct runrec *r)
{
	void **slot = htabslot(s->runs, &key, sizeof(key), 1);

	if (!*slot)
		*slot = xmalloc(sizeof(*r));
	*(struct runrec *)*slot = *r;
	((struct runrec *)*slot)->used = s->today;
	logrun(s, key, r);
}

/* rename src to dst (a run entry) with the semantics of commitrun: first
 * writer wins unless replace; an entry already there that is damaged is
 * replaced. 0 stored, 1 kept another's whole entry, -1 with errno. */
static int placerun(struct store *s, hash key, const char *src, const char *dst, int replace)
{
	if (replace)
		moveaside(s, dst); /* a crash now leaves no entry: the cell runs again */
	for (int attempt = 0; attempt < 3; attempt++) {
		if (renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno == ENOENT) {
			/* runs/KK removed under us (an older gc removed empty ones) */
			s->made[0][(unsigned)(key.high64 >> 56)] = 0;
			makeparent(s, 0, key, dst);
			continue;
		}
		if (errno != EEXIST && errno != ENOTEMPTY)
			return -1;
		/* another process stored this key first: keep its entry, unless
		 * it is damaged (then it is as good as missing) */
		if (lookuprun(s, key) || indexrun(s, key))
			return 1;
		moveaside(s, dst);
	}
	return -1;
}

static int folderparts(const char *dir, struct part **parts, size_t *n);
static int putinline(struct store *s, hash key, const struct part *parts, size_t n, const struct runrec *r, int replace);

int commitrun(struct store *s, hash key, const char *tmp, const struct runrec *r, int replace)
{
	char *dst = runpath(s, key);
	struct part *parts;
	size_t n;
	int ret, err;

	if (ready(s) < 0) {
		err = errno;
		free(dst);
		rmtree(tmp);
		errno = err;
		return -1;
	}
	if (!s->noinline && folderparts(tmp, &parts, &n) == 0) {
		/* small, and no artifacts: a row, not a folder */
		free(dst);
		ret = putinline(s, key, parts, n, r, replace);
		err = errno;
		for (size_t i = 0; i < n; i++) {
			free((char *)parts[i].name);
			free((char *)parts[i].data);
		}
		free(parts);
		rmtree(tmp);
		errno = err;
		return ret;
	}
	if (hasinline(s, key)) {
		if (!replace) {
			/* stored first, inline, by another process: kept */
			free(dst);
			rmtree(tmp);
			lookuprun(s, key);
			return 0;
		}
		/* -B: the row goes first, so the folder is what is read */
		queue(s, 'X', key);
		storeflush(s);
	}
	makeparent(s, 0, key, dst);
	/* durable before it is visible: every file and folder of the entry,
	 * then (after the rename) the folder it is renamed into */
	ret = synctree(tmp) < 0 ? -1 : placerun(s, key, tmp, dst, replace);
	err = errno;
	if (ret < 0)
		warn("cannot store %s:", dst);
	if (ret != 0)
		rmtree(tmp);
	else
		syncparent(dst);
	free(dst);
	if (ret == 0)
		putrun(s, key, r);
	errno = err;
	return ret < 0 ? -1 : 0;
}

/* the packed text of an inline entry, as stored: compressed when that
 * saves an eighth or more (JSON and transcripts do; a one-line output
 * does not, and is stored as it is). *z tells which. */
static void packbody(struct buf *b, const struct part *parts, size_t n, int *z, char **zbody, size_t *zlen)
{
	bufadds(b, PACKHEADER);
	for (size_t i = 0; i < n; i++) {
		bufaddf(b, "%s %zu\n", parts[i].name, parts[i].len);
		bufadd(b, parts[i].data, parts[i].len);
	}
	*z = 0;
	*zbody = NULL;
	if (b->len < 128)
		return;
	/* one context for the process: ZSTD_compress makes (and clears) a
	 * new one each call, most of the cost for an entry of a few hundred
	 * bytes (reachable to the end, so no leak) */
	static ZSTD_CCtx *zc;
	if (!zc && !(zc = ZSTD_createCCtx()))
		return;
	size_t cap = ZSTD_compressBound(b->len);
	char *c = xmalloc(cap);
	size_t r = ZSTD_compressCCtx(zc, c, cap, b->s, b->len, 3);
	if (ZSTD_isError(r) || r > b->len - b->len / 8) {
		free(c);
		return;
	}
	*z = 1;
	*zbody = c;
	*zlen = r;
}

/* is there a whole run entry for key on disk (a folder or packed file)? */
static int diskwhole(struct store *s, hash key)
{
	char *dir = runpath(s, key);
	struct stat st;
	int whole = 0;
	size_t len;

	if (stat(dir, &st) < 0) {
		whole = 0;
	} else if (S_ISDIR(st.st_mode)) {
		whole = folderwhole(dir);
	} else if (S_ISREG(st.st_mode)) {
		char *text = readfile(dir, &len);
		whole = text && packwhole(text, len);
		free(text);
	}
	free(dir);
	return whole;
}

/* is there an inline entry for key? */
static int hasinline(struct store *s, hash key)
{
	if (!s->db)
		return 0;
	dbread(s->db, &s->reads);
	sqlite3_stmt *st = stmt(s, ST_HASENTRY);
	bindhash(st, 1, key);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		dberror(s->db, rc, "looking up an entry");
	sqlite3_reset(st);
	return rc == SQLITE_ROW;
}

/* a lookup of an entry held in the batch commits the batch first: what
 * this process wrote, it reads back */
static void seepending(struct store *s, hash key)
{
	if (s->pendkeys && htabget(s->pendkeys, &key, sizeof(key)))
		storecommitbatch(s);
}

/* remember a run in this process's table (its row is written by the caller) */
static void remember(struct store *s, hash key, const struct runrec *r)
{
	void **slot = htabslot(s->runs, &key, sizeof(key), 1);

	if (!*slot)
		*slot = xmalloc(sizeof(*r));
	*(struct runrec *)*slot = *r;
	((struct runrec *)*slot)->used = s->today;
}

/* an inline entry ready to be written: its packed body (compressed when z)
 * and its run row */
struct pending {
	hash key;
	struct runrec rec;
	int z;
	char *body;
	size_t len;        /* of body */
	size_t size;       /* of the packed text, uncompressed */
};

static void mkpending(struct pending *e, hash key, const struct part *parts, size_t n, const struct runrec *r)
{
	struct buf b = {0};
	char *zbody;
	size_t zlen = 0;

	packbody(&b, parts, n, &e->z, &zbody, &zlen);
	e->key = key;
	e->rec = *r;
	e->size = b.len;
	if (e->z) {
		e->body = zbody;
		e->len = zlen;
		buffree(&b);
	} else {
		e->len = b.len;
		e->body = bufdetach(&b);
	}
}

/* write the entry row and run row of e in the open write transaction;
 * unless replace, keep what another process (or an earlier entry of this
 * transaction) stored first for its key: *kept. 0, or -1 */
static int writeinline(struct store *s, struct pending *e, int replace, int *kept)
{
	sqlite3_stmt *st;

	*kept = 0;
	if (!replace) {
		/* another process stored key first: keep its entry (when whole:
		 * the entry and its run row) */
		st = stmt(s, ST_HASENTRY);
		bindhash(st, 1, e->key);
		int inl = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_reset(st);
		st = stmt(s, ST_RUN);
		bindhash(st, 1, e->key);
		int row = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_reset(st);
		char *p = runpath(s, e->key);
		struct stat sb;
		*kept = (row && (inl || stat(p, &sb) == 0)) || diskwhole(s, e->key);
		free(p);
		if (*kept)
			return 0;
	}
	st = stmt(s, ST_PUTENTRY);
	bindhash(st, 1, e->key);
	sqlite3_bind_int(st, 2, e->z);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)e->size);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)now.tv_sec * 1000000000 + now.tv_nsec);
	sqlite3_bind_blob(st, 5, e->body, (int)e->len, SQLITE_STATIC);
	if (dbdone(s->db, st, "storing an entry") < 0)
		return -1;
	e->rec.used = s->today;
	st = stmt(s, ST_PUTRUN);
	bindrun(st, e->key, &e->rec);
	return dbdone(s->db, st, "storing an entry");
}

/* write n inline entries, each body with its run row, in one transaction:
 * a kill -9 leaves all or none, and each is durable at commit. First
 * writer wins unless replace (then an entry on disk for a key goes, after
 * the commit: until then the row is read first). Frees the bodies.
 * 0, or -1 with errno (none was written). */
static int putinlines(struct store *s, struct pending *e, size_t n, int replace)
{
	int ok;
	unsigned char *kept = xcalloc(n ? n : 1, 1);
	size_t nops = s->nops;

	dbendread(s->db, &s->reads);
	flock(s->lockfd, LOCK_SH);
	ok = dbexec(s->db, "BEGIN IMMEDIATE") == 0;
	if (ok)
		genbegin(s);
	/* what is queued goes first, in the same transaction (one commit
	 * where there were two) */
	for (size_t i = 0; ok && i < nops; i++)
		ok = runop(s, &s->ops[i]) == 0;
	for (size_t i = 0; ok && i < n; i++) {
		int k;
		ok = writeinline(s, &e[i], replace, &k) == 0;
		kept[i] = (unsigned char)k;
	}
	if (ok)
		genbeforecommit(s);
	if (ok)
		ok = dbexec(s->db, "COMMIT") == 0;
	genafter(s, ok);
	if (!ok)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	flock(s->lockfd, LOCK_UN);
	if (nops && !ok)
		warn("cannot write the index in %s: what was not written is found again on disk", s->dir);
	if (nops)
		clearops(s);
	if (ok) {
		/* a commit is whole at once (a kill -9 loses nothing committed);
		 * on the disk, results are synced in groups (storesync) */
		if (!s->unsynced)
			s->unsyncedsince = now();
		s->unsynced += n;
		if (now() - s->unsyncedsince >= SYNC_EVERY)
			storesync(s);
	}
	for (size_t i = 0; i < n; i++) {
		free(e[i].body);
		e[i].body = NULL;
		if (!ok)
			continue;
		if (kept[i]) {
			lookuprun(s, e[i].key);
			continue;
		}
		remember(s, e[i].key, &e[i].rec);
		if (replace) {
			char *p = runpath(s, e[i].key);
			moveaside(s, p);
			free(p);
		}
	}
	free(kept);
	if (!ok) {
		warn("cannot store %s in %s/%s", n == 1 ? "an entry" : "entries", s->dir, DB_NAME);
		errno = EIO;
		return -1;
	}
	return 0;
}

/* store an entry inline (see putinlines); in a batch (storebatch), held
 * until the batch commits */
static int putinline(struct store *s, hash key, const struct part *parts, size_t n, const struct runrec *r, int replace)
{
	struct pending e;

	if (ready(s) < 0)
		return -1;
	mkpending(&e, key, parts, n, r);
	if (s->batching && !replace) {
		xgrow(&s->pend, &s->cappend, s->npend + 1, sizeof(*s->pend));
		s->pend[s->npend++] = e;
		s->pendbytes += e.len;
		if (!s->pendkeys)
			s->pendkeys = mkhtab(64);
		htabput(s->pendkeys, &key, sizeof(key), s);
		return 0;
	}
	return putinlines(s, &e, 1, replace);
}

/* what SQLite's synchronous=FULL does at each commit: the WAL's data to
 * the disk (a fresh descriptor: the file may have been made anew since).
 * System calls only: the syncer thread must not hold a lock (malloc's)
 * while the main thread forks an agent */
static void syncwal(const char *walpath)
{
	int fd = open(walpath, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		fdatasync(fd);
		close(fd);
	}
}

static void *syncerloop(void *arg)
{
	struct store *s = arg;

	pthread_mutex_lock(&s->syncmu);
	for (;;) {
		while (!s->syncwant && !s->syncstop)
			pthread_cond_wait(&s->synccv, &s->syncmu);
		if (!s->syncwant)
			break; /* stopped, nothing asked */
		s->syncwant = 0;
		pthread_mutex_unlock(&s->syncmu);
		syncwal(s->walpath);
		pthread_mutex_lock(&s->syncmu);
	}
	pthread_mutex_unlock(&s->syncmu);
	return NULL;
}

void storesync(struct store *s)
{
	if (!s->unsynced)
		return;
	s->unsynced = 0;
	if (!s->walpath)
		s->walpath = xasprintf("%s/%s-wal", s->dir, DB_NAME);
	if (!s->syncerup) {
		pthread_mutex_init(&s->syncmu, NULL);
		pthread_cond_init(&s->synccv, NULL);
		/* signals go to the main thread: the syncer blocks them all */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		s->syncerup = pthread_create(&s->syncer, NULL, syncerloop, s) == 0 ? 1 : -1;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (s->syncerup < 0) {
		syncwal(s->walpath); /* no thread: wait for the disk here */
		return;
	}
	pthread_mutex_lock(&s->syncmu);
	s->syncwant = 1;
	pthread_cond_signal(&s->synccv);
	pthread_mutex_unlock(&s->syncmu);
}

/* wait for the syncer to finish what it was asked, and stop it */
static void stopsyncer(struct store *s)
{
	if (s->syncerup <= 0)
		return;
	pthread_mutex_lock(&s->syncmu);
	s->syncstop = 1;
	pthread_cond_broadcast(&s->synccv);
	pthread_mutex_unlock(&s->syncmu);
	pthread_join(s->syncer, NULL);
	pthread_mutex_destroy(&s->syncmu);
	pthread_cond_destroy(&s->synccv);
	s->syncerup = 0;
}

void storebatch(struct store *s, int on)
{
	if (!on)
		storecommitbatch(s);
	s->batching = on;
}

size_t storebatched(const struct store *s, size_t *bytes)
{
	*bytes = s->pendbytes;
	return s->npend;
}

int storecommitbatch(struct store *s)
{
	if (!s->npend)
		return 0;
	int ret = putinlines(s, s->pend, s->npend, 0);
	s->npend = 0;
	s->pendbytes = 0;
	htabfree(s->pendkeys, NULL);
	s->pendkeys = NULL;
	/* their run locks, kept until now: another process that takes one
	 * finds the entry */
	for (size_t i = 0; i < s->ndeferred; i++)
		unlockrun(s, s->deferred[i]);
	s->ndeferred = 0;
	return ret;
}

/* the parts of a folder entry when it can go inline: regular files of at
 * most INLINE_MAX bytes, and an artifacts/ folder only when empty; else
 * -1 (and nothing in *parts) */
static int folderparts(const char *dir, struct part **parts, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t cap = 0;
	int ok = d != NULL;

	*parts = NULL;
	*n = 0;
	while (ok && (e = readdir(d))) {
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *p = pathjoin(dir, e->d_name);
		if (lstat(p, &st) < 0) {
			ok = 0;
		} else if (S_ISDIR(st.st_mode)) {
			/* an empty artifacts folder is as good as none */
			ok = !strcmp(e->d_name, "artifacts") && rmdir(p) == 0;
		} else if (!S_ISREG(st.st_mode) || st.st_size > INLINE_MAX || strchr(e->d_name, ' ')
		           || strchr(e->d_name, '\n')) {
			ok = 0;
		} else {
			size_t len;
			char *data = readfile(p, &len);
			if (!data) {
				ok = 0;
			} else {
				xgrow(parts, &cap, *n + 1, sizeof(**parts));
				(*parts)[(*n)++] = (struct part){xstrdup(e->d_name), data, len};
			}
		}
		free(p);
	}
	if (d)
		closedir(d);
	if (!ok) {
		for (size_t i = 0; i < *n; i++) {
			free((char *)(*parts)[i].name);
			free((char *)(*parts)[i].data);
		}
		free(*parts);
		*parts = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

int commitentry(struct store *s, hash key, const struct part *parts, size_t n, const char *artifacts,
                const struct runrec *r, int replace)
{
	int big = 0;
	struct stat st;

	for (size_t i = 0; i < n; i++)
		big |= parts[i].len > INLINE_MAX;
	/* artifacts that are an empty folder are none */
	if (artifacts && (stat(artifacts, &st) < 0 || (S_ISDIR(st.st_mode) && rmdir(artifacts) == 0)))
		artifacts = NULL;
	if (!big && !artifacts && !s->noinline)
		return putinline(s, key, parts, n, r, replace);
	/* a folder: the parts as files beside artifacts/ */
	if (ready(s) < 0)
		return -1;
	char *tmp = newentry(s, 0);
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		char *p = pathjoin(tmp, parts[i].name);
		ret = writefile(p, parts[i].data, parts[i].len);
		free(p);
	}
	if (ret == 0 && artifacts) {
		char *p = pathjoin(tmp, "artifacts");
		ret = rename(artifacts, p);
		free(p);
	}
	if (ret < 0) {
		int err = errno;
		rmtree(tmp);
		free(tmp);
		errno = err;
		return -1;
	}
	ret = commitrun(s, key, tmp, r, replace);
	free(tmp);
	return ret;
}

char *entrypart(struct store *s, hash key, const char *part, size_t *lenp)
{
	char *r = NULL;

	seepending(s, key);
	if (s->db) {
		dbread(s->db, &s->reads);
		sqlite3_stmt *st = stmt(s, ST_ENTRY);
		bindhash(st, 1, key);
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *body = sqlite3_column_blob(st, 2);
			size_t blen = (size_t)sqlite3_column_bytes(st, 2);
			sqlite3_int64 size = sqlite3_column_int64(st, 1);
			if (sqlite3_column_int(st, 0) && size > 0) {
				char *plain = xmalloc((size_t)size);
				size_t got = ZSTD_decompress(plain, (size_t)size, body, blen);
				if (!ZSTD_isError(got))
					r = packpart(plain, got, part, lenp);
				free(plain);
			} else if (body) {
				r = packpart(body, blen, part, lenp);
			}
			sqlite3_reset(st);
			return r; /* inline: the disk has nothing for key */
		}
		if (rc != SQLITE_DONE)
			dberror(s->db, rc, "reading an entry");
		sqlite3_reset(st);
	}
	char *dir = runpath(s, key);
	r = diskpart(dir, part, lenp);
	free(dir);
	return r;
}

static int nameeach(const char *name, size_t namelen, const char *data, size_t len, void *arg)
{
	struct buf *b = arg;

	(void)data;
	(void)len;
	bufadd(b, name, namelen);
	bufaddc(b, '\n');
	return 0;
}

char *entryparts(struct store *s, hash key)
{
	seepending(s, key);
	struct buf b = {0};
	char *dir = runpath(s, key), *text;
	size_t len;
	struct stat st;

	if (s->db && hasinline(s, key)) {
		/* the body, whole: entrypart's query, without picking a part */
		sqlite3_stmt *q = stmt(s, ST_ENTRY);
		bindhash(q, 1, key);
		if (sqlite3_step(q) == SQLITE_ROW) {
			const char *body = sqlite3_column_blob(q, 2);
			size_t blen = (size_t)sqlite3_column_bytes(q, 2);
			sqlite3_int64 size = sqlite3_column_int64(q, 1);
			char *plain = NULL;
			if (sqlite3_column_int(q, 0) && size > 0) {
				plain = xmalloc((size_t)size);
				size_t got = ZSTD_decompress(plain, (size_t)size, body, blen);
				if (!ZSTD_isError(got))
					packwalk(plain, got, nameeach, &b);
			} else if (body) {
				packwalk(body, blen, nameeach, &b);
			}
			free(plain);
		}
		sqlite3_reset(q);
		bufaddc(&b, '\0');
	} else if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
		DIR *d = opendir(dir);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			struct stat fs;
			char *p = pathjoin(dir, e->d_name);
			if (e->d_name[0] != '.' && lstat(p, &fs) == 0 && S_ISREG(fs.st_mode))
				bufaddf(&b, "%s\n", e->d_name);
			free(p);
		}
		if (d)
			closedir(d);
		bufaddc(&b, '\0');
	} else if (stat(dir, &st) == 0 && S_ISREG(st.st_mode) && (text = readfile(dir, &len))) {
		packwalk(text, len, nameeach, &b);
		free(text);
		bufaddc(&b, '\0');
	}
	free(dir);
	return b.s;
}

char *entryartifacts(struct store *s, hash key)
{
	seepending(s, key);
	char *dir = runpath(s, key), *art = pathjoin(dir, "artifacts");
	struct stat st;

	free(dir);
	if (stat(art, &st) == 0 && S_ISDIR(st.st_mode) && !hasinline(s, key))
		return art;
	free(art);
	return NULL;
}

char *entrywhere(struct store *s, hash key)
{
	seepending(s, key);
	char hx[33];

	hashhex(key, hx);
	if (hasinline(s, key))
		return xasprintf("%s/%s, entry %s", s->dir, DB_NAME, hx);
	return runpath(s, key);
}

long long entrytime(struct store *s, hash key)
{
	seepending(s, key);
	long long t = -1;

	if (s->db) {
		dbread(s->db, &s->reads);
		sqlite3_stmt *st = stmt(s, ST_MADE);
		bindhash(st, 1, key);
		if (sqlite3_step(st) == SQLITE_ROW)
			t = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (t >= 0)
			return t;
	}
	char *dir = runpath(s, key);
	struct stat sb;
	if (stat(dir, &sb) == 0)
		t = (long long)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
	free(dir);
	return t;
}

int haserror(struct store *s, const char *cellid)
{
	char *dir = errorpath(s, cellid);
	struct stat st;
	int r = stat(dir, &st) == 0;

	free(dir);
	return r;
}

char *errorpart(struct store *s, const char *cellid, const char *part, size_t *len)
{
	char *dir = errorpath(s, cellid);
	char *r = diskpart(dir, part, len);

	free(dir);
	return r;
}

/* the parts of a packed blob (pointing into it); -1 when it does not parse */
static int blobparts(const char *text, size_t len, struct part **parts, size_t *n)
{
	size_t cap = 0;

	*parts = NULL;
	*n = 0;
	if (!packwhole(text, len))
		return -1;
	for (const char *p = text + strlen(PACKHEADER); p < text + len;) {
		const char *nl = memchr(p, '\n', (size_t)(text + len - p)), *sp = memchr(p, ' ', (size_t)(nl - p));
		size_t k = (size_t)strtoull(sp + 1, NULL, 10);
		char *name = xstrndup(p, (size_t)(sp - p));
		for (size_t i = 0; i < *n; i++)
			if (!strcmp((*parts)[i].name, name)) {
				/* a part twice: which one would be read? not a whole entry */
				free(name);
				for (size_t j = 0; j < *n; j++)
					free((char *)(*parts)[j].name);
				free(*parts);
				*parts = NULL;
				*n = 0;
				return -1;
			}
		xgrow(parts, &cap, *n + 1, sizeof(**parts));
		(*parts)[(*n)++] = (struct part){name, nl + 1, k};
		p = nl + 1 + k;
	}
	return 0;
}

char *packrun(struct store *s, hash key, size_t *len, char **artifacts, size_t *alen)
{
	seepending(s, key);
	char *list = entryparts(s, key), *err = NULL;
	struct buf b = {0};
	int ok = list != NULL;

	*artifacts = NULL;
	*alen = 0;
	/* the parts in name order: the same entry gives the same blob */
	char **names = NULL;
	size_t n = 0, cap = 0;
	for (char *p = list, *nl; ok && p && *p; p = nl + 1) {
		if (!(nl = strchr(p, '\n')))
			break;
		*nl = '\0';
		if (*p && !strpbrk(p, " ")) {
			xgrow(&names, &cap, n + 1, sizeof(*names));
			names[n++] = p;
		}
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	bufadds(&b, PACKHEADER);
	for (size_t i = 0; ok && i < n; i++) {
		size_t k;
		char *data = entrypart(s, key, names[i], &k);
		if (data) {
			bufaddf(&b, "%s %zu\n", names[i], k);
			bufadd(&b, data, k);
		} else {
			ok = 0; /* a part gone: not a whole entry */
		}
		free(data);
	}
	free(names);
	free(list);
	char *art = ok ? entryartifacts(s, key) : NULL;
	if (art) {
		*artifacts = packfolder(art, alen, &err);
		if (!*artifacts) {
			ok = 0;
		} else if (archiveempty(*artifacts, *alen)) {
			free(*artifacts);
			*artifacts = NULL;
			*alen = 0;
		}
	}
	free(err);
	free(art);
	if (!ok) {
		free(*artifacts);
		*artifacts = NULL;
		buffree(&b);
		return NULL;
	}
	*len = b.len;
	return bufdetach(&b);
}

int unpackrun(struct store *s, hash key, const char *blob, size_t len, const char *artifacts, size_t alen,
              char **err)
{
	struct part *parts;
	size_t n;
	struct runrec rec = {0};
	const char *out = NULL, *meta = NULL;
	size_t outlen = 0, metalen = 0;
	int r = -1;

	*err = NULL;
	if (blobparts(blob, len, &parts, &n) < 0) {
		*err = xstrdup("not a whole run entry");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(parts[i].name, "output"))
			out = parts[i].data, outlen = parts[i].len;
		else if (!strcmp(parts[i].name, "meta.json"))
			meta = parts[i].data, metalen = parts[i].len;
	}
	char *mtext = meta ? xstrndup(meta, metalen) : NULL;
	cJSON *m = mtext ? cJSON_Parse(mtext) : NULL;
	const cJSON *oh = cJSON_GetObjectItemCaseSensitive(m, "output_hash");
	const cJSON *ex = cJSON_GetObjectItemCaseSensitive(m, "exit");
	const cJSON *sec = cJSON_GetObjectItemCaseSensitive(m, "seconds");
	if (!out || !cJSON_IsString(oh) || hashparse(oh->valuestring, &rec.out) < 0
	    || !hasheq(rec.out, hashbytes(out, outlen))) {
		*err = xstrdup("its meta.json does not name the hash of its output");
		goto out;
	}
	rec.exitcode = cJSON_IsNumber(ex) ? (int)ex->valuedouble : 0;
	rec.seconds = cJSON_IsNumber(sec) ? sec->valuedouble : 0;
	metausage(m, &rec);
	char *tmp = NULL, *art = NULL;
	if (artifacts) {
		/* the artifacts unpacked in a private folder, moved in whole */
		tmp = newentry(s, 1);
		art = pathjoin(tmp, "artifacts");
		if (unpackfolder(artifacts, alen, art, err) < 0) {
			rmtree(tmp);
			free(art);
			free(tmp);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (strchr(parts[i].name, '/') || parts[i].name[0] == '.' || !strcmp(parts[i].name, "artifacts")) {
			*err = xasprintf("a part with an unsafe name '%s'", parts[i].name);
			break;
		}
	if (!*err && (r = commitentry(s, key, parts, n, art, &rec, 0)) < 0)
		*err = xasprintf("cannot store it: %s", strerror(errno));
	if (tmp)
		rmtree(tmp);
	free(art);
	free(tmp);
out:
	cJSON_Delete(m);
	free(mtext);
	for (size_t i = 0; i < n; i++)
		free((char *)parts[i].name);
	free(parts);
	return r;
}

/* commitgrade, with a grader's stderr after the reason line in the file */
static int putgrade(struct store *s, hash key, double score, const char *reason, const char *log, int durable)
{
	struct buf b = {0};

	if (ready(s) < 0)
		return -1;
	if (durable) {
		char *path = keypath(s, "grades", key);
		makeparent(s, 1, key, path);
		bufaddf(&b, "%.17g\n%s\n", score, reason ? reason : "");
		if (log)
			bufadds(&b, log);
		int ret = writefile(path, b.s, b.len);
		if (ret < 0)
			warn("cannot store %s:", path);
		buffree(&b);
		free(path);
		if (ret < 0)
			return -1;
	}
	struct graderec *g = xmalloc(sizeof(*g));
	g->score = score;
	g->reason = xstrdup(reason ? reason : "");
	g->used = s->today;
	void **slot = htabslot(s->grades, &key, sizeof(key), 1);
	if (*slot)
		freegrade(*slot);
	*slot = g;
	struct op *o = queue(s, 'G', key);
	o->score = score;
	o->text = xstrdup(g->reason);
	o->day = s->today;
	return 0;
}

int commitgrade(struct store *s, hash key, double score, const char *reason, int durable)
{
	return putgrade(s, key, score, reason, NULL, durable);
}

int commitgradelog(struct store *s, hash key, double score, const char *reason, const char *log)
{
	/* the reason is one line, so the log starts at the file's third */
	char *one = xstrdup(reason ? reason : "");
	for (char *p = one; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	int r = putgrade(s, key, score, one, log, 1);
	free(one);
	return r;
}

char *gradelog(struct store *s, hash key)
{
	char *path = keypath(s, "grades", key);
	char *text = readfile(path, NULL), *p = text, *r = NULL;

	free(path);
	for (int i = 0; p && i < 2; i++)
		if ((p = strchr(p, '\n')))
			p++;
	if (p && *p)
		r = xstrdup(p);
	free(text);
	return r;
}

void keeperror(struct store *s, const char *cellid, const char *tmp)
{
	ready(s);
	char *dst = errorpath(s, cellid);
	char *old = xasprintf("%s.old.%ld", dst, (long)getpid());

	/* move the previous error aside first, so dst is replaced whole */
	rename(dst, old);
	if (rename(tmp, dst) < 0)
		rmtree(tmp);
	rmtree(old);
	free(old);
	free(dst);
}

int lockrun(struct store *s, hash key)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (off_t)(key.low64 >> 2), .l_len = 1};

	/* fcntl locks belong to the process: a second cell of ours with the
	 * same key must wait for the first, so we track what we hold */
	if (htabget(s->held, &key, sizeof(key)))
		return 0;
	if (s->runlockfd < 0) {
		if (ready(s) < 0)
			return -1;
		char *p = pathjoin(s->dir, "runlocks");
		s->runlockfd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		free(p);
		if (s->runlockfd < 0)
			return -1;
	}
	/* one byte per key, at an offset from the key: no file per key to
	 * clean up, and the kernel drops a dead holder's locks */
	if (fcntl(s->runlockfd, F_SETLK, &fl) < 0)
		return errno == EACCES || errno == EAGAIN ? 0 : -1;
	htabput(s->held, &key, sizeof(key), s);
	return 1;
}

void unlockrun(struct store *s, hash key)
{
	struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = (off_t)(key.low64 >> 2), .l_len = 1};
	void **slot = htabslot(s->held, &key, sizeof(key), 0);

	if (s->pendkeys && htabget(s->pendkeys, &key, sizeof(key))) {
		/* its entry is held in the batch: released at the commit */
		xgrow(&s->deferred, &s->capdeferred, s->ndeferred + 1, sizeof(*s->deferred));
		s->deferred[s->ndeferred++] = key;
		return;
	}
	if (!slot || !*slot)
		return;
	*slot = NULL;
	fcntl(s->runlockfd, F_SETLK, &fl);
}

int droprun(struct store *s, hash key)
{
	seepending(s, key);
	void **slot = htabslot(s->runs, &key, sizeof(key), 0);
	char *p = runpath(s, key);
	char *trash = tmpname(s, "trash.");
	int r = 0;

	if (slot) {
		free(*slot);
		*slot = NULL;
	}
	/* at once: a later lookup must not find the row again */
	queue(s, 'X', key);
	storeflush(s);
	if (ready(s) < 0 || (rename(p, trash) < 0 && errno != ENOENT))
		r = -1;
	else
		rmtree(trash);
	free(trash);
	free(p);
	return r;
}

/* bytes of the files under path */
static long long du(const char *path)
{
	struct stat st;
	long long n = 0;

	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return (long long)st.st_size;
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *sub = pathjoin(path, e->d_name);
		n += du(sub);
		free(sub);
	}
	if (d)
		closedir(d);
	return n;
}

/* the pid in a leftover's name after marker ("KEY.tmp.PID.N"), else -1 */
static long ownerof(const char *name, const char *marker)
{
	const char *m = strstr(name, marker);

	return m ? strtol(m + strlen(marker), NULL, 10) : -1;
}

struct gcscan {
	struct store *s;
	const struct gcopts *o;
	double cutoff;            /* used before this (epoch seconds): old */
	char **doomed;            /* "runs/KK/KEY" paths, relative to the cache */
	size_t ndoomed, capdoomed;
	struct htab *dead[2];     /* doomed keys: runs, grades */
	struct htab *present;     /* run keys with an entry on disk */
	struct gcstats *st;
};

/* decide for every entry under kind/ (0 runs, 1 grades): kept (live,
 * locked, or used recently), or doomed; sweep writers' leftovers */
static void scankind(struct gcscan *g, int kind, struct htab *live, struct htab *table)
{
	static const char *const kinds[] = {"runs", "grades"};
	char *top = pathjoin(g->s->dir, kinds[kind]);
	DIR *d = opendir(top), *sd;
	struct dirent *e, *se;
	struct stat st;

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *sub = pathjoin(top, e->d_name);
		if ((sd = opendir(sub))) {
			while ((se = readdir(sd))) {
				hash k;
				if (se->d_name[0] == '.')
					continue;
				char *p = pathjoin(sub, se->d_name);
				long pid = ownerof(se->d_name, ".tmp.");
				if (strlen(se->d_name) != 32 || hashparse(se->d_name, &k) < 0) {
					/* a grade file being written by writefile, or left by a kill */
					if (pid > 0 && !g->o->dryrun && stray(p, pid))
						unlink(p);
					free(p);
					continue;
				}
				if (kind == 0)
					htabput(g->present, &k, sizeof(k), g);
				if (htabget(live, &k, sizeof(k)) || lstat(p, &st) < 0) {
					free(p);
					continue;
				}
				const unsigned *used = NULL;
				if (kind == 0 && htabget(table, &k, sizeof(k)))
					used = &((struct runrec *)htabget(table, &k, sizeof(k)))->used;
				else if (kind == 1 && htabget(table, &k, sizeof(k)))
					used = &((struct graderec *)htabget(table, &k, sizeof(k)))->used;
				double t = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
				if (used && *used * 86400.0 > t)
					t = *used * 86400.0;
				if (g->o->keep >= 0 && t >= g->cutoff) {
					g->st->kept++;
					free(p);
					continue;
				}
				long long bytes = du(p);
				g->st->entries++;
				g->st->bytes += bytes;
				if (g->o->list)
					fprintf(g->o->list, "%s/%s/%s %lld\n", kinds[kind], e->d_name, se->d_name, bytes);
				xgrow(&g->doomed, &g->capdoomed, g->ndoomed + 1, sizeof(*g->doomed));
				g->doomed[g->ndoomed++] = xasprintf("%s/%s/%s", kinds[kind], e->d_name, se->d_name);
				htabput(g->dead[kind], &k, sizeof(k), g);
				free(p);
			}
			closedir(sd);
		}
		free(sub);
	}
	if (d)
		closedir(d);
	free(top);
}

/* errors/ID.old.PID: a previous error moved aside by a killed process */
static void sweeperrors(struct store *s)
{
	char *top = pathjoin(s->dir, "errors");
	DIR *d = opendir(top);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		long pid = ownerof(e->d_name, ".old.");
		if (pid <= 0)
			continue;
		char *p = pathjoin(top, e->d_name);
		if (stray(p, pid))
			rmtree(p);
		free(p);
	}
	if (d)
		closedir(d);
	free(top);
}

/* every run and grade row, into runs and grades (gc looks at them all),
 * and the size of every inline entry into inl (a long long per key) */
static void loadall(struct store *s, struct htab *runs, struct htab *grades, struct htab *inl)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (!s->db)
		return;
	dbendread(s->db, &s->reads);
	sqlite3_prepare_v2(s->db, "SELECT key, length(body) FROM entries", -1, &st, NULL);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		hash k;
		if (columnhash(st, 0, &k) < 0)
			continue;
		long long *n = xmalloc(sizeof(*n));
		*n = sqlite3_column_int64(st, 1);
		free(htabget(inl, &k, sizeof(k)));
		htabput(inl, &k, sizeof(k), n);
	}
	if (rc != SQLITE_DONE)
		dberror(s->db, rc, "reading the entries");
	sqlite3_finalize(st);
	st = NULL;
	dbendread(s->db, &s->reads);
	sqlite3_prepare_v2(s->db, "SELECT key, out, exit, seconds, used FROM runs", -1, &st, NULL);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		hash k;
		struct runrec r = {0};
		if (columnhash(st, 0, &k) < 0 || columnhash(st, 1, &r.out) < 0)
			continue;
		r.exitcode = sqlite3_column_int(st, 2);
		r.seconds = sqlite3_column_double(st, 3);
		r.used = (unsigned)sqlite3_column_int64(st, 4);
		struct runrec *rp = xmalloc(sizeof(r));
		*rp = r;
		htabput(runs, &k, sizeof(k), rp);
	}
	if (rc != SQLITE_DONE)
		dberror(s->db, rc, "reading the runs");
	sqlite3_finalize(st);
	st = NULL;
	sqlite3_prepare_v2(s->db, "SELECT key, score, reason, used FROM grades", -1, &st, NULL);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		hash k;
		if (columnhash(st, 0, &k) < 0)
			continue;
		struct graderec *g = xmalloc(sizeof(*g));
		g->score = sqlite3_column_double(st, 1);
		const char *reason = (const char *)sqlite3_column_text(st, 2);
		g->reason = xstrdup(reason ? reason : "");
		g->used = (unsigned)sqlite3_column_int64(st, 3);
		void **slot = htabslot(grades, &k, sizeof(k), 1);
		freegrade(*slot);
		*slot = g;
	}
	if (rc != SQLITE_DONE)
		dberror(s->db, rc, "reading the grades");
	sqlite3_finalize(st);
}

/* delete the rows of the keys in dead, of runs with no entry on disk
 * (when present is given) and of cells whose run is gone, in one
 * transaction; forget what this process has seen. 0 or -1. */
static int droprows(struct store *s, struct htab *runs, struct htab **dead, struct htab *present)
{
	sqlite3_stmt *dr = NULL, *de = NULL, *dg = NULL, *dc = NULL, *cells = NULL;
	size_t pos = 0, klen;
	const void *key;
	void *val;
	struct htab *gone = mkhtab(64);
	int ok = dbexec(s->db, "BEGIN IMMEDIATE") == 0, rc;

	ok = ok && sqlite3_prepare_v2(s->db, "DELETE FROM runs WHERE key = ?1", -1, &dr, NULL) == SQLITE_OK;
	ok = ok && sqlite3_prepare_v2(s->db, "DELETE FROM entries WHERE key = ?1", -1, &de, NULL) == SQLITE_OK;
	ok = ok && sqlite3_prepare_v2(s->db, "DELETE FROM grades WHERE key = ?1", -1, &dg, NULL) == SQLITE_OK;
	ok = ok && sqlite3_prepare_v2(s->db, "DELETE FROM cells WHERE id = ?1", -1, &dc, NULL) == SQLITE_OK;
	while (ok && htabnext(runs, &pos, &key, &klen, &val)) {
		if (!val || !((dead && htabget(dead[0], key, klen)) || (present && !htabget(present, key, klen))))
			continue;
		hash h;
		memcpy(&h, key, sizeof(h));
		htabput(gone, &h, sizeof(h), s);
		sqlite3_reset(dr);
		bindhash(dr, 1, h);
		ok = dbdone(s->db, dr, "deleting a run") == 0;
		sqlite3_reset(de);
		bindhash(de, 1, h);
		ok = ok && dbdone(s->db, de, "deleting an entry") == 0;
	}
	pos = 0;
	while (ok && dead && htabnext(dead[1], &pos, &key, &klen, &val)) {
		hash h;
		memcpy(&h, key, sizeof(h));
		sqlite3_reset(dg);
		bindhash(dg, 1, h);
		ok = dbdone(s->db, dg, "deleting a grade") == 0;
	}
	/* cells whose run went: collected first, then deleted */
	char **ids = NULL;
	size_t nids = 0, capids = 0;
	ok = ok && sqlite3_prepare_v2(s->db, "SELECT id, run FROM cells", -1, &cells, NULL) == SQLITE_OK;
	while (ok && (rc = sqlite3_step(cells)) == SQLITE_ROW) {
		hash r;
		if (columnhash(cells, 1, &r) == 0 && (htabget(gone, &r, sizeof(r)) || (dead && htabget(dead[0], &r, sizeof(r))))) {
			xgrow(&ids, &capids, nids + 1, sizeof(*ids));
			ids[nids++] = xstrdup((const char *)sqlite3_column_text(cells, 0));
		}
	}
	for (size_t i = 0; i < nids; i++) {
		if (ok) {
			sqlite3_reset(dc);
			sqlite3_bind_text(dc, 1, ids[i], -1, SQLITE_STATIC);
			ok = dbdone(s->db, dc, "deleting a cell") == 0;
		}
		free(ids[i]);
	}
	free(ids);
	sqlite3_finalize(dr);
	sqlite3_finalize(de);
	sqlite3_finalize(dg);
	sqlite3_finalize(dc);
	sqlite3_finalize(cells);
	htabfree(gone, NULL);
	if (ok)
		ok = dbexec(s->db, "COMMIT") == 0;
	if (!ok) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	/* what we hold in memory is read again when asked for */
	htabfree(s->runs, free);
	htabfree(s->grades, freegrade);
	htabfree(s->cells, free);
	s->runs = mkhtab(1024);
	s->grades = mkhtab(1024);
	s->cells = mkhtab(1024);
	/* PASSIVE: TRUNCATE would wait for readers, our own state among them */
	sqlite3_exec(s->db, "PRAGMA wal_checkpoint(PASSIVE)", NULL, NULL, NULL);
	return 0;
}

long gcstore(struct store *s, struct htab *liveruns, struct htab *livegrades, const struct gcopts *o,
             struct gcstats *st, char **err)
{
	static const struct gcopts all = {.keep = -1};
	struct gcstats dummy;
	struct store fresh = {.runs = mkhtab(1024), .grades = mkhtab(1024), .cells = mkhtab(1024)};
	struct gcscan g = {.s = s, .o = o ? o : &all, .st = st ? st : &dummy};
	struct stat sb;
	char *trash = NULL;
	struct htab *inl = NULL; /* inline entries: key -> bytes */
	int locked = 0;

	*err = NULL;
	memset(g.st, 0, sizeof(*g.st));
	if (stat(s->dir, &sb) < 0)
		goto done; /* no cache: nothing to do, and nothing made */
	if (!g.o->dryrun) {
		storeflush(s);
		/* where entries go to be deleted; also the test that we can write */
		char *tmpd = pathjoin(s->dir, "tmp");
		trash = xasprintf("%s/%ld.gc", tmpd, (long)getpid());
		if ((mkdirs(tmpd, 0755) < 0 || mkdir(trash, 0755) < 0) && errno != EEXIST) {
			*err = xasprintf("cannot write to the cache folder %s: %s", s->dir, strerror(errno));
			free(tmpd);
			goto done;
		}
		free(tmpd);
		if (ready(s) < 0) {
			*err = xasprintf("cannot write to the cache folder %s", s->dir);
			goto done;
		}
	}
	if (s->lockfd >= 0 && !g.o->dryrun) {
		flock(s->lockfd, LOCK_EX);
		locked = 1;
	}
	/* every row, as other processes left them */
	inl = mkhtab(1024);
	loadall(s, fresh.runs, fresh.grades, inl);
	if (liveruns && livegrades) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		g.cutoff = (double)ts.tv_sec + ts.tv_nsec / 1e9 - (g.o->keep > 0 ? g.o->keep : 0);
		g.dead[0] = mkhtab(64);
		g.dead[1] = mkhtab(64);
		g.present = mkhtab(htabcount(fresh.runs) + 16);
		scankind(&g, 0, liveruns, fresh.runs);
		scankind(&g, 1, livegrades, fresh.grades);
		/* inline entries: kept by their run row's day of use */
		size_t ipos = 0, iklen;
		const void *ikey;
		void *ival;
		while (htabnext(inl, &ipos, &ikey, &iklen, &ival)) {
			if (!ival)
				continue;
			htabput(g.present, ikey, iklen, &g);
			if (htabget(liveruns, ikey, iklen))
				continue;
			const struct runrec *rr = htabget(fresh.runs, ikey, iklen);
			if (g.o->keep >= 0 && rr && rr->used * 86400.0 >= g.cutoff) {
				g.st->kept++;
				continue;
			}
			char hx[33];
			hash k;
			memcpy(&k, ikey, sizeof(k));
			hashhex(k, hx);
			g.st->entries++;
			g.st->bytes += *(long long *)ival;
			if (g.o->list)
				fprintf(g.o->list, "runs/%.2s/%s %lld\n", hx, hx, *(long long *)ival);
			htabput(g.dead[0], &k, sizeof(k), &g);
		}
		/* grades kept only in the log (cheap graders): by their use */
		size_t pos = 0, klen;
		const void *key;
		void *val;
		while (htabnext(fresh.grades, &pos, &key, &klen, &val)) {
			const struct graderec *gr = val;
			if (gr && !htabget(livegrades, key, klen)
			    && (g.o->keep < 0 || gr->used * 86400.0 < g.cutoff))
				htabput(g.dead[1], key, klen, &g);
		}
	}
	if (!g.o->dryrun) {
		if (!s->db || droprows(s, fresh.runs, g.dead[0] ? g.dead : NULL, g.present) == 0) {
			/* each entry goes whole: one rename into the trash, then the
			 * trash is deleted (by cleantmp, should we be killed now) */
			for (size_t i = 0; i < g.ndoomed; i++) {
				char *from = pathjoin(s->dir, g.doomed[i]), *to = xasprintf("%s/%zu", trash, i);
				if (rename(from, to) < 0 && errno != ENOENT) {
					warn("cannot remove %s:", from);
					g.st->entries--;
				}
				free(from);
				free(to);
			}
			rmtree(trash);
			sweeperrors(s);
			cleantmp(s);
		}
	}
	if (locked)
		flock(s->lockfd, LOCK_UN);
done:
	if (trash)
		rmdir(trash);
	free(trash);
	htabfree(fresh.runs, free);
	htabfree(fresh.grades, freegrade);
	htabfree(fresh.cells, free);
	if (inl)
		htabfree(inl, free);
	if (g.dead[0]) {
		htabfree(g.dead[0], NULL);
		htabfree(g.dead[1], NULL);
		htabfree(g.present, NULL);
	}
	for (size_t i = 0; i < g.ndoomed; i++)
		free(g.doomed[i]);
	free(g.doomed);
	return *err ? -1 : g.st->entries;
}

void closestore(struct store *s)
{
	if (!s)
		return;
	storecommitbatch(s);
	free(s->pend);
	free(s->deferred);
	storeflush(s);
	storesync(s);
	stopsyncer(s); /* it syncs what it was asked before it stops */
	free(s->walpath);
	free(s->ops);
	dbendread(s->db, &s->reads);
	closedb(s->db);
	if (s->lockfd >= 0)
		close(s->lockfd);
	if (s->runlockfd >= 0)
		close(s->runlockfd); /* releases every run lock we hold */
	htabfree(s->held, NULL);
	htabfree(s->runs, free);
	htabfree(s->grades, freegrade);
	htabfree(s->cells, free);
	free(s->dir);
	free(s);
}

long long storeresults(struct store *s)
{
	sqlite3_stmt *st;
	long long v = -1;

	if (!s->db)
		return -1;
	dbread(s->db, &s->reads);
	if (!(st = trystmt(s, ST_RESULTS)))
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

/* step st; its first column, copied, when it gives a row: 0, else -1 */
static int stepblob(sqlite3_stmt *st, void **body, size_t *len)
{
	int r = -1;

	if (sqlite3_step(st) == SQLITE_ROW) {
		const void *b = sqlite3_column_blob(st, 0);
		*len = (size_t)sqlite3_column_bytes(st, 0);
		*body = xmalloc(*len ? *len : 1);
		if (*len)
			memcpy(*body, b, *len);
		r = 0;
	}
	sqlite3_reset(st);
	return r;
}

int storenoopget(struct store *s, hash key, long long results, void **body, size_t *len)
{
	sqlite3_stmt *st;

	if (!s->db || results < 0)
		return -1;
	dbread(s->db, &s->reads);
	if (!(st = trystmt(s, ST_NOOPGET)))
		return -1;
	bindhash(st, 1, key);
	sqlite3_bind_int64(st, 2, results);
	sqlite3_bind_int64(st, 3, s->today);
	return stepblob(st, body, len);
}

int storenoopbody(struct store *s, hash key, void **body, size_t *len)
{
	sqlite3_stmt *st;

	if (!s->db)
		return -1;
	storeflush(s);
	dbendread(s->db, &s->reads);
	if (!(st = trystmt(s, ST_NOOPBODY)))
		return -1;
	bindhash(st, 1, key);
	return stepblob(st, body, len);
}

/* one no-op record's row, in the caller's transaction */
static int putnoop(struct store *s, hash key, long long results, const void *body, size_t len)
{
	sqlite3_stmt *st = stmt(s, ST_NOOPPUT);

	bindhash(st, 1, key);
	sqlite3_bind_int64(st, 2, results);
	sqlite3_bind_int64(st, 3, s->today);
	sqlite3_bind_blob(st, 4, body, (int)len, SQLITE_STATIC);
	return dbdone(s->db, st, "storing a no-op record");
}

int storenoopput(struct store *s, hash key, long long results, const void *body, size_t len)
{
	return storenoopput2(s, key, results, body, len, key, NULL, 0);
}

int storenoopput2(struct store *s, hash key, long long results, const void *body, size_t len, hash key2,
                  const void *body2, size_t len2)
{
	sqlite3_stmt *st;

	if (!s->db || results < 0 || sqlite3_db_readonly(s->db, "main") == 1)
		return -1;
	storeflush(s);
	dbendread(s->db, &s->reads);
	if (dbexec(s->db, "BEGIN IMMEDIATE") < 0)
		return -1;
	int ok = storeresults(s) == results;
	s->reads = 0; /* the lookup ran in the write transaction */
	if (ok) {
		st = stmt(s, ST_NOOPDROP);
		sqlite3_bind_int64(st, 1, results);
		sqlite3_bind_int64(st, 2, s->today);
		ok = dbdone(s->db, st, "dropping old no-op records") == 0;
	}
	ok = ok && putnoop(s, key, results, body, len) == 0;
	ok = ok && (!body2 || putnoop(s, key2, results, body2, len2) == 0);
	if (!ok || dbexec(s->db, "COMMIT") < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}
