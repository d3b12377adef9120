/* store: see store.h for the layout and its guarantees.
 *
 * The log is loaded once at open into three hash tables. Lines look like
 *   R <key> <outhash> <exit> <seconds> <check>
 *   G <key> <score> <reason> <check>
 *   C <cell> <run> <grade> <agent> <prompt> <task> <deps> <iteration> <check>
 *   U <key> <day> <check>      (a run or grade used on that day)
 *   D <day> <check>            (the lines after it were written that day)
 * separated by tabs, with tabs, newlines and backslashes escaped, and
 * <check> the XXH32 of the rest of the line: a torn line from a killed
 * process fails it and is skipped. Compaction (gc, or when most lines are
 * dead) rewrites the log under an exclusive lock; appends take a shared one. */
#define _GNU_SOURCE
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

#include "store/store.h"
#include "core/util.h"

#define LOGHEADER "evalmake-log 1\n"
#define CELLSHEADER "evalmake-cells 1\n"

struct store {
	char *dir;
	int logfd, lockfd;
	struct htab *runs;   /* 16-byte key -> struct runrec */
	struct htab *grades; /* 16-byte key -> struct graderec */
	struct htab *cells;  /* cell id -> struct cellrec */
	size_t lines;        /* lines in the log, live or not */
	unsigned tmpcount;
	unsigned char made[2][256]; /* runs/KK and grades/KK folders known to exist */
	struct buf pending;  /* log lines not written yet */
	/* cell records live in their own file, read only when asked for: a
	 * no-op run needs none of them */
	int cellsloaded;
	struct buf cpending; /* cell lines not written yet */
	int markuse;         /* findrun/findgrade mark what they find used */
	unsigned today;      /* days since the epoch, at open */
	unsigned loadday;    /* while loading: the day of the last D line */
	int unusable;        /* the cache folder could not be made ready */
	int runlockfd;       /* runlocks: fcntl locks, one byte per run key */
	struct htab *held;   /* run keys this process holds the lock of */
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

static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (*r == '\\' && r[1]) {
			r++;
			*w++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : *r;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

static void addescaped(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\t')
			bufadds(b, "\\t");
		else if (*s == '\n')
			bufadds(b, "\\n");
		else if (*s == '\\')
			bufadds(b, "\\\\");
		else
			bufaddc(b, *s);
	}
}

static void freegrade(void *p)
{
	struct graderec *g = p;

	free(g->reason);
	free(g);
}

/* apply one log line (already checked) to the tables */
static void apply(struct store *s, char *line)
{
	char *f[12];
	int n = 0;
	char *save = NULL;

	for (char *t = strtok_r(line, "\t", &save); t && n < 12; t = strtok_r(NULL, "\t", &save))
		f[n++] = t;
	if (n < 2)
		return;
	hash key;
	if (f[0][0] == 'R' && n == 5 && hashparse(f[1], &key) == 0) {
		struct runrec r = {.used = s->loadday};
		if (hashparse(f[2], &r.out) < 0)
			return;
		r.exitcode = atoi(f[3]);
		r.seconds = strtod(f[4], NULL);
		void **slot = htabslot(s->runs, &key, sizeof(key), 1);
		if (!*slot)
			*slot = xmalloc(sizeof(r));
		*(struct runrec *)*slot = r;
	} else if (f[0][0] == 'G' && (n == 3 || n == 4) && hashparse(f[1], &key) == 0) {
		struct graderec *g = xcalloc(1, sizeof(*g));
		g->used = s->loadday;
		g->score = strtod(f[2], NULL);
		if (n == 4)
			unescape(f[3]);
		g->reason = xstrdup(n == 4 ? f[3] : "");
		void **slot = htabslot(s->grades, &key, sizeof(key), 1);
		if (*slot)
			freegrade(*slot);
		*slot = g;
	} else if (f[0][0] == 'C' && n == 5 + NPARTS) {
		struct cellrec c = {0};
		unescape(f[1]);
		if (hashparse(f[2], &c.run) < 0 || hashparse(f[3], &c.grade) < 0)
			return;
		for (int i = 0; i < NPARTS; i++)
			if (hashparse(f[4 + i], &c.parts[i]) < 0)
				return;
		c.iteration = atoi(f[4 + NPARTS]);
		void **slot = htabslot(s->cells, f[1], strlen(f[1]), 1);
		if (!*slot)
			*slot = xmalloc(sizeof(c));
		*(struct cellrec *)*slot = c;
	} else if (f[0][0] == 'D' && n == 2) {
		s->loadday = (unsigned)strtoul(f[1], NULL, 10);
	} else if (f[0][0] == 'U' && n == 3 && hashparse(f[1], &key) == 0) {
		unsigned day = (unsigned)strtoul(f[2], NULL, 10);
		struct runrec *r = htabget(s->runs, &key, sizeof(key));
		struct graderec *g = r ? NULL : htabget(s->grades, &key, sizeof(key));
		if (r && r->used < day)
			r->used = day;
		if (g && g->used < day)
			g->used = day;
	}
}

/* check and apply every line of a log text; returns the line count */
static size_t loadlines(struct store *s, char *text, size_t len, const char *header);

static size_t loadlog(struct store *s, char *text, size_t len)
{
	s->loadday = 0;
	return loadlines(s, text, len, LOGHEADER);
}

/* read the cells file, once */
static void loadcells(struct store *s)
{
	size_t len;

	if (s->cellsloaded)
		return;
	s->cellsloaded = 1;
	char *p = pathjoin(s->dir, "cells");
	char *text = readfile(p, &len);
	if (text)
		loadlines(s, text, len, CELLSHEADER);
	free(text);
	free(p);
}
static size_t loadlines(struct store *s, char *text, size_t len, const char *header)
{
	size_t count = 0;
	char *p = text, *end;

	if (len < strlen(header) || strncmp(text, header, strlen(header)))
		return 0;
	for (p = text + strlen(header); p < text + len; p = end + 1) {
		end = memchr(p, '\n', (size_t)(text + len - p));
		if (!end)
			break; /* a torn last line */
		*end = '\0';
		/* the last field: 8 hex digits of the rest's checksum */
		char *tab = end - 9, *cend;
		if (end - p < 10 || *tab != '\t')
			continue;
		unsigned long check = strtoul(tab + 1, &cend, 16);
		if (cend != end || check != (unsigned long)XXH32(p, (size_t)(tab - p), 0))
			continue;
		*tab = '\0';
		apply(s, p);
		count++;
	}
	return count;
}

static int ready(struct store *s);

void storeflush(struct store *s)
{
	if ((!s->pending.len && !s->cpending.len) || ready(s) < 0)
		return;
	flock(s->lockfd, LOCK_SH);
	if (s->pending.len) {
		/* each batch starts with its day: what it records was used then,
		 * at no cost per line (gc keeps what was used recently); a
		 * watcher lives past midnight */
		s->today = dayof(time(NULL));
		struct buf b = {0};
		bufaddf(&b, "D\t%u", s->today);
		bufaddf(&b, "\t%08x\n", (unsigned)XXH32(b.s, b.len, 0));
		bufadd(&b, s->pending.s, s->pending.len);
		if (write(s->logfd, b.s, b.len) != (ssize_t)b.len)
			warn("cannot append to %s/log:", s->dir);
		buffree(&b);
	}
	s->pending.len = 0;
	if (s->cpending.len) {
		char *p = pathjoin(s->dir, "cells");
		int fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		struct stat st;
		if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 0 && write(fd, CELLSHEADER, strlen(CELLSHEADER)) < 0)
			warn("cannot write %s:", p);
		if (fd < 0 || write(fd, s->cpending.s, s->cpending.len) != (ssize_t)s->cpending.len)
			warn("cannot append to %s:", p);
		if (fd >= 0)
			close(fd);
		free(p);
		s->cpending.len = 0;
	}
	flock(s->lockfd, LOCK_UN);
}

/* Lines are gathered and written in batches: the log is only an index, and
 * what a crash loses of it is found again on disk (meta.json, grade files) */
static void appendline(struct store *s, struct buf *b)
{
	char check[16];

	snprintf(check, sizeof(check), "\t%08x\n", (unsigned)XXH32(b->s, b->len, 0));
	bufadds(b, check);
	bufadd(&s->pending, b->s, b->len);
	s->lines++;
	if (s->pending.len >= 32768)
		storeflush(s);
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

/* remove tmp/ entries of processes that are gone (killed mid-run, or mid
 * gc: an entry being deleted is renamed into tmp/ first), or very old */
static void cleantmp(struct store *s)
{
	char *tmp = pathjoin(s->dir, "tmp");
	DIR *d = opendir(tmp);
	struct dirent *e;

	if (d) {
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			long pid = strtol(e->d_name, NULL, 10);
			char *p = pathjoin(tmp, e->d_name);
			if (pid == (long)getpid() || stray(p, pid <= 0 ? 0 : pid))
				rmtree(p);
			free(p);
		}
		closedir(d);
	}
	free(tmp);
}

/* create the cache folder and its log on the first write: a run that
 * fails before storing anything leaves no cache behind */
static int ready(struct store *s)
{
	static const char *const sub[] = {"runs", "grades", "errors", "tmp"};
	char *p;

	if (s->logfd >= 0)
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
	p = pathjoin(s->dir, "log");
	s->logfd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (s->logfd < 0) {
		warn("cannot open %s:", p);
		free(p);
		return -1;
	}
	struct stat st;
	flock(s->lockfd, LOCK_EX);
	if (fstat(s->logfd, &st) == 0 && st.st_size == 0 && write(s->logfd, LOGHEADER, strlen(LOGHEADER)) < 0)
		warn("cannot write %s:", p);
	flock(s->lockfd, LOCK_UN);
	free(p);
	s->unusable = 0;
	return 0;
}

struct store *openstore(const char *dir, char **err)
{
	struct store *s = xcalloc(1, sizeof(*s));
	char *p;
	size_t len;
	struct stat st;

	*err = NULL;
	s->dir = xstrdup(dir);
	s->logfd = s->lockfd = s->runlockfd = -1;
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
	p = pathjoin(dir, "lock");
	s->lockfd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	free(p);
	p = pathjoin(dir, "log");
	if (s->lockfd >= 0)
		flock(s->lockfd, LOCK_EX);
	char *text = readfile(p, &len);
	/* size the tables once: runs, grades and cells come about evenly */
	size_t lines = 0;
	for (char *q = text; q && (q = memchr(q, '\n', (size_t)(text + len - q))); q++)
		lines++;
	if (lines > 3000) {
		htabfree(s->runs, free);
		htabfree(s->grades, freegrade);
		htabfree(s->cells, free);
		s->runs = mkhtab(lines / 3);
		s->grades = mkhtab(lines / 3);
		s->cells = mkhtab(lines / 3);
	}
	if (text && len && strncmp(text, LOGHEADER, len < strlen(LOGHEADER) ? len : strlen(LOGHEADER))) {
		/* not our log (or its start was damaged): keep it aside and start
		 * a new one; entries are found on disk and indexed again */
		char *aside = xasprintf("%s.damaged.%ld", p, (long)time(NULL));
		warn("%s is damaged: kept as %s, starting a new index", p, aside);
		rename(p, aside);
		free(aside);
	} else if (text) {
		int torn = len && text[len - 1] != '\n'; /* before loadlog cuts the lines */
		s->lines = loadlog(s, text, len);
		/* a torn last line: end it, so the next append starts clean */
		if (torn) {
			int fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
			if (fd < 0 || write(fd, "\n", 1) < 0)
				warn("cannot write %s:", p);
			if (fd >= 0)
				close(fd);
		}
	}
	if (s->lockfd >= 0)
		flock(s->lockfd, LOCK_UN);
	free(text);
	free(p);
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

static void logrun(struct store *s, hash key, const struct runrec *r)
{
	struct buf b = {0};
	char k[33], o[33];

	hashhex(key, k);
	hashhex(r->out, o);
	bufaddf(&b, "R\t%s\t%s\t%d\t%.6f", k, o, r->exitcode, r->seconds);
	appendline(s, &b);
	buffree(&b);
}

#define PACKHEADER "evalmake-entry 1\n"

char *readpart(const char *entry, const char *part, size_t *lenp)
{
	struct stat st;
	size_t len;

	if (stat(entry, &st) < 0)
		return NULL;
	if (S_ISDIR(st.st_mode)) {
		char *p = pathjoin(entry, part);
		char *r = readfile(p, lenp);
		free(p);
		return r;
	}
	/* packed: a header, then per part "NAME LENGTH\n" and the bytes */
	char *text = readfile(entry, &len), *r = NULL;
	if (!text || strncmp(text, PACKHEADER, strlen(PACKHEADER))) {
		free(text);
		return NULL;
	}
	for (char *p = text + strlen(PACKHEADER); p < text + len;) {
		char *nl = memchr(p, '\n', (size_t)(text + len - p)), *sp, *end;
		if (!nl || !(sp = memchr(p, ' ', (size_t)(nl - p))))
			break;
		unsigned long long n = strtoull(sp + 1, &end, 10);
		if (end != nl || n > (unsigned long long)(text + len - (nl + 1)))
			break;
		if ((size_t)(sp - p) == strlen(part) && !memcmp(p, part, (size_t)(sp - p))) {
			r = xstrndup(nl + 1, (size_t)n);
			if (lenp)
				*lenp = (size_t)n;
			break;
		}
		p = nl + 1 + n;
	}
	free(text);
	return r;
}

/* does every part of a packed entry parse, to its last byte, and are the
 * parts a stored run has there? */
static int packwhole(const char *text, size_t len)
{
	int have = 0;

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
		if ((sp - p == 6 && !memcmp(p, "output", 6)) || (sp - p == 9 && !memcmp(p, "meta.json", 9)))
			have++;
		p = nl + 1 + n;
	}
	return have >= 2;
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
 * log line, so the next run today need not touch it again. Once a day per
 * entry: a no-op run over 100,000 cells touches nothing after the first. */
static void markused(struct store *s, const char *kind, hash key, unsigned *used)
{
	char k[33];

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
	struct buf b = {0};
	hashhex(key, k);
	bufaddf(&b, "U\t%s\t%u", k, s->today);
	appendline(s, &b);
	buffree(&b);
}

void storemarkuse(struct store *s, int on)
{
	s->markuse = on;
}

/* index a run entry found on disk (its meta.json); NULL when there is none
 * or it is damaged (then the cell runs again and replaces it) */
static const struct runrec *indexrun(struct store *s, hash key)
{
	char *dir = runpath(s, key);
	struct stat st;
	size_t len;
	char *text = NULL;

	int found = stat(dir, &st) == 0;

	if (found && S_ISDIR(st.st_mode) && folderwhole(dir)) {
		text = readpart(dir, "meta.json", NULL);
	} else if (found && S_ISREG(st.st_mode) && (text = readfile(dir, &len))) {
		int whole = packwhole(text, len);
		free(text);
		text = whole ? readpart(dir, "meta.json", NULL) : NULL;
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
	cJSON_Delete(m);
	void **slot = htabslot(s->runs, &key, sizeof(key), 1);
	if (!*slot)
		*slot = xmalloc(sizeof(rec));
	*(struct runrec *)*slot = rec;
	logrun(s, key, *slot);
	return *slot;
}

const struct runrec *findrun(struct store *s, hash key)
{
	struct runrec *r = htabget(s->runs, &key, sizeof(key));

	/* not indexed: an entry renamed into place by a process killed before
	 * it could append its log line, or by another process since we loaded */
	if (!r)
		r = (struct runrec *)indexrun(s, key);
	if (r)
		markused(s, "runs", key, &r->used);
	return r;
}

const struct graderec *findgrade(struct store *s, hash key, int ondisk)
{
	struct graderec *g = htabget(s->grades, &key, sizeof(key));

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
	htabput(s->grades, &key, sizeof(key), g);
	markused(s, "grades", key, &g->used);
	return g;
}

const struct cellrec *findcell(struct store *s, const char *id)
{
	loadcells(s);
	return htabget(s->cells, id, strlen(id));
}

void setcell(struct store *s, const char *id, const struct cellrec *r)
{
	loadcells(s);
	void **slot = htabslot(s->cells, id, strlen(id), 1);
	struct cellrec *c = *slot;
	struct buf b = {0};
	char h[2 + NPARTS][33];

	if (c && hasheq(c->run, r->run) && hasheq(c->grade, r->grade) && c->iteration == r->iteration) {
		int same = 1;
		for (int i = 0; i < NPARTS; i++)
			same &= hasheq(c->parts[i], r->parts[i]);
		if (same)
			return;
	}
	if (!c)
		c = *slot = xmalloc(sizeof(*c));
	*c = *r;
	hashhex(r->run, h[0]);
	hashhex(r->grade, h[1]);
	for (int i = 0; i < NPARTS; i++)
		hashhex(r->parts[i], h[2 + i]);
	bufadds(&b, "C\t");
	addescaped(&b, id);
	for (int i = 0; i < 2 + NPARTS; i++)
		bufaddf(&b, "\t%s", h[i]);
	bufaddf(&b, "\t%d", r->iteration);
	bufaddf(&b, "\t%08x\n", (unsigned)XXH32(b.s, b.len, 0));
	bufadd(&s->cpending, b.s, b.len);
	if (s->cpending.len >= 32768)
		storeflush(s);
	buffree(&b);
}

char *newentry(struct store *s, int artifacts)
{
	if (ready(s) < 0)
		fatal(EXIT_GATE, "cannot use the cache folder %s", s->dir);
	/* a fresh name: our pid and a counter, and tmp/ is swept of dead pids */
	char *p = xasprintf("%s/tmp/%ld.%u", s->dir, (long)getpid(), s->tmpcount++);

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
	char *trash = xasprintf("%s/tmp/%ld.trash.%u", s->dir, (long)getpid(), s->tmpcount++);

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
		if (htabget(s->runs, &key, sizeof(key)) || indexrun(s, key))
			return 1;
		moveaside(s, dst);
	}
	return -1;
}

int commitrun(struct store *s, hash key, const char *tmp, const struct runrec *r, int replace)
{
	char *dst = runpath(s, key);
	int ret, err;

	if (ready(s) < 0) {
		err = errno;
		free(dst);
		rmtree(tmp);
		errno = err;
		return -1;
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

/* write a whole file and fsync it; -1 with errno */
static int writesynced(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644), err;
	const char *p = data;

	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0)
		goto fail;
	return close(fd);
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

int commitpacked(struct store *s, hash key, const struct part *parts, size_t n, const struct runrec *r, int replace)
{
	struct buf b = {0};
	char *tmp, *dst;
	int ret, err;

	if (ready(s) < 0)
		return -1;
	bufadds(&b, PACKHEADER);
	for (size_t i = 0; i < n; i++) {
		bufaddf(&b, "%s %zu\n", parts[i].name, parts[i].len);
		bufadd(&b, parts[i].data, parts[i].len);
	}
	tmp = xasprintf("%s/tmp/%ld.%u", s->dir, (long)getpid(), s->tmpcount++);
	dst = runpath(s, key);
	makeparent(s, 0, key, dst);
	if (writesynced(tmp, b.s, b.len) < 0) {
		err = errno;
		warn("cannot write %s:", tmp);
		ret = -1;
	} else {
		ret = placerun(s, key, tmp, dst, replace);
		err = errno;
		if (ret < 0)
			warn("cannot store %s:", dst);
		else if (ret == 0)
			syncparent(dst);
	}
	if (ret != 0)
		unlink(tmp);
	free(tmp);
	free(dst);
	buffree(&b);
	if (ret == 0)
		putrun(s, key, r);
	errno = err;
	return ret < 0 ? -1 : 0;
}

/* commitgrade, with a grader's stderr after the reason line in the file */
static int putgrade(struct store *s, hash key, double score, const char *reason, const char *log, int durable)
{
	struct buf b = {0};
	char k[33];

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
	hashhex(key, k);
	bufaddf(&b, "G\t%s\t%.17g\t", k, score);
	addescaped(&b, g->reason);
	appendline(s, &b);
	buffree(&b);
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

	if (!slot || !*slot)
		return;
	*slot = NULL;
	fcntl(s->runlockfd, F_SETLK, &fl);
}

int droprun(struct store *s, hash key)
{
	void **slot = htabslot(s->runs, &key, sizeof(key), 0);
	char *p = runpath(s, key);
	char *trash = xasprintf("%s/tmp/%ld.trash.%u", s->dir, (long)getpid(), s->tmpcount++);
	int r = 0;

	if (slot) {
		free(*slot);
		*slot = NULL;
	}
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

/* a log line and the day its record was last used */
struct dayline {
	unsigned day;
	char *line;
};

static int cmpday(const void *a, const void *b)
{
	const struct dayline *x = a, *y = b;

	return x->day < y->day ? -1 : x->day > y->day;
}

static void adddayline(struct dayline **v, size_t *n, size_t *cap, unsigned day, struct buf *line)
{
	bufaddf(line, "\t%08x\n", (unsigned)XXH32(line->s, line->len, 0));
	xgrow(v, cap, *n + 1, sizeof(**v));
	(*v)[*n].day = day;
	(*v)[(*n)++].line = bufdetach(line);
}

/* rewrite the log and the cells file from fresh (what they hold now),
 * without the keys in dead (NULL: none) and, when present is given,
 * without runs that have no entry on disk. Under the exclusive lock. */
static int rewritelog(struct store *s, struct store *fresh, struct htab **dead, struct htab *present)
{
	char *logp = pathjoin(s->dir, "log"), *cellsp = pathjoin(s->dir, "cells");
	struct buf b = {0}, cb = {0};
	size_t pos = 0, klen;
	const void *key;
	void *val;
	int ret = 0;

	struct dayline *dl = NULL;
	size_t ndl = 0, capdl = 0;

	bufadds(&cb, CELLSHEADER);
	bufadds(&b, LOGHEADER);
	while (htabnext(fresh->runs, &pos, &key, &klen, &val)) {
		if (!val || (dead && htabget(dead[0], key, klen)) || (present && !htabget(present, key, klen)))
			continue;
		const struct runrec *r = val;
		char k[33], o[33];
		struct buf line = {0};
		hash h;
		memcpy(&h, key, sizeof(h));
		hashhex(h, k);
		hashhex(r->out, o);
		bufaddf(&line, "R\t%s\t%s\t%d\t%.6f", k, o, r->exitcode, r->seconds);
		adddayline(&dl, &ndl, &capdl, r->used, &line);
	}
	pos = 0;
	while (htabnext(fresh->grades, &pos, &key, &klen, &val)) {
		if (!val || (dead && htabget(dead[1], key, klen)))
			continue;
		const struct graderec *g = val;
		char k[33];
		struct buf line = {0};
		hash h;
		memcpy(&h, key, sizeof(h));
		hashhex(h, k);
		bufaddf(&line, "G\t%s\t%.17g\t", k, g->score);
		addescaped(&line, g->reason);
		adddayline(&dl, &ndl, &capdl, g->used, &line);
	}
	/* grouped by the day each was last used, a D line before each group */
	if (ndl)
		qsort(dl, ndl, sizeof(*dl), cmpday);
	for (size_t i = 0; i < ndl; i++) {
		if (i == 0 || dl[i].day != dl[i - 1].day) {
			struct buf d = {0};
			bufaddf(&d, "D\t%u", dl[i].day);
			bufaddf(&d, "\t%08x\n", (unsigned)XXH32(d.s, d.len, 0));
			bufadd(&b, d.s, d.len);
			buffree(&d);
		}
		bufadds(&b, dl[i].line);
		free(dl[i].line);
	}
	free(dl);
	pos = 0;
	while (htabnext(fresh->cells, &pos, &key, &klen, &val)) {
		const struct cellrec *r = val;
		char h[2 + NPARTS][33];
		struct buf line = {0};
		if (!r || (dead && htabget(dead[0], &r->run, sizeof(r->run))))
			continue;
		hashhex(r->run, h[0]);
		hashhex(r->grade, h[1]);
		for (int i = 0; i < NPARTS; i++)
			hashhex(r->parts[i], h[2 + i]);
		char *id = xstrndup(key, klen);
		bufadds(&line, "C\t");
		addescaped(&line, id);
		free(id);
		for (int i = 0; i < 2 + NPARTS; i++)
			bufaddf(&line, "\t%s", h[i]);
		bufaddf(&line, "\t%d", r->iteration);
		bufaddf(&line, "\t%08x\n", (unsigned)XXH32(line.s, line.len, 0));
		bufadd(&cb, line.s, line.len);
		buffree(&line);
	}
	if (writefile(cellsp, cb.s, cb.len) < 0)
		warn("cannot rewrite %s:", cellsp);
	if (writefile(logp, b.s, b.len) < 0) {
		warn("cannot rewrite %s:", logp);
		ret = -1;
	} else {
		/* our descriptor points at the old file now */
		close(s->logfd);
		s->logfd = open(logp, O_WRONLY | O_APPEND | O_CLOEXEC);
		/* and what we hold in memory is what the new log holds */
		htabfree(s->runs, free);
		htabfree(s->grades, freegrade);
		htabfree(s->cells, free);
		s->runs = mkhtab(1024);
		s->grades = mkhtab(1024);
		s->cells = mkhtab(1024);
		char *copy = xstrndup(b.s, b.len);
		s->lines = loadlog(s, copy, b.len);
		free(copy);
		s->cellsloaded = 0; /* read again when asked for */
	}
	buffree(&b);
	buffree(&cb);
	free(logp);
	free(cellsp);
	return ret;
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
	size_t len;
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
	/* re-read: other processes may have appended since we opened */
	char *logp = pathjoin(s->dir, "log");
	char *text = readfile(logp, &len);
	free(logp);
	if (text)
		loadlog(&fresh, text, len);
	free(text);
	char *cellsp = pathjoin(s->dir, "cells");
	if ((text = readfile(cellsp, &len)))
		loadlines(&fresh, text, len, CELLSHEADER);
	free(text);
	free(cellsp);
	if (liveruns && livegrades) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		g.cutoff = (double)ts.tv_sec + ts.tv_nsec / 1e9 - (g.o->keep > 0 ? g.o->keep : 0);
		g.dead[0] = mkhtab(64);
		g.dead[1] = mkhtab(64);
		g.present = mkhtab(htabcount(fresh.runs) + 16);
		scankind(&g, 0, liveruns, fresh.runs);
		scankind(&g, 1, livegrades, fresh.grades);
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
		if (rewritelog(s, &fresh, g.dead[0] ? g.dead : NULL, g.present) == 0) {
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
	storeflush(s);
	buffree(&s->pending);
	buffree(&s->cpending);
	/* most lines superseded: compact, so loading stays proportional to the cells */
	if (s->logfd >= 0 && s->lines > 4096
	    && s->lines > 2 * (htabcount(s->runs) + htabcount(s->grades) + htabcount(s->cells))) {
		char *err;
		if (gcstore(s, NULL, NULL, NULL, NULL, &err) < 0) {
			warn("%s", err);
			free(err);
		}
	}
	if (s->logfd >= 0)
		close(s->logfd);
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
