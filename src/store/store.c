/* store: see store.h for the layout and its guarantees.
 *
 * The log is loaded once at open into three hash tables. Lines look like
 *   R <key> <outhash> <exit> <seconds> <check>
 *   G <key> <score> <reason> <check>
 *   C <cell> <run> <grade> <agent> <prompt> <task> <deps> <iteration> <check>
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
};

/* make the KK folder of path (kind 0: runs, 1: grades) once per process */
static void makeparent(struct store *s, int kind, hash key, const char *path)
{
	unsigned kk = (unsigned)(key.high64 >> 56);

	if (s->made[kind][kk])
		return;
	char *parent = dirname_of(path);
	if (mkdirs(parent, 0755) == 0)
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
		struct runrec r = {0};
		if (hashparse(f[2], &r.out) < 0)
			return;
		r.exitcode = atoi(f[3]);
		r.seconds = strtod(f[4], NULL);
		void **slot = htabslot(s->runs, &key, sizeof(key), 1);
		if (!*slot)
			*slot = xmalloc(sizeof(r));
		*(struct runrec *)*slot = r;
	} else if (f[0][0] == 'G' && (n == 3 || n == 4) && hashparse(f[1], &key) == 0) {
		struct graderec *g = xmalloc(sizeof(*g));
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
	}
}

/* check and apply every line of a log text; returns the line count */
static size_t loadlines(struct store *s, char *text, size_t len, const char *header);

static size_t loadlog(struct store *s, char *text, size_t len)
{
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
	if (s->pending.len && write(s->logfd, s->pending.s, s->pending.len) != (ssize_t)s->pending.len)
		warn("cannot append to %s/log:", s->dir);
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

/* remove tmp/ folders of processes that are gone (killed mid-run) */
static void cleantmp(struct store *s)
{
	char *tmp = pathjoin(s->dir, "tmp");
	DIR *d = opendir(tmp);
	struct dirent *e;

	if (d) {
		while ((e = readdir(d))) {
			long pid = strtol(e->d_name, NULL, 10);
			if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH) || pid == (long)getpid()) {
				if (e->d_name[0] == '.')
					continue;
				char *p = pathjoin(tmp, e->d_name);
				rmtree(p);
				free(p);
			}
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
	free(p);
	p = pathjoin(s->dir, "log");
	s->logfd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (s->logfd < 0 || s->lockfd < 0) {
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
	s->logfd = s->lockfd = -1;
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
		s->lines = loadlog(s, text, len);
		/* a torn last line: end it, so the next append starts clean */
		if (len && text[len - 1] != '\n') {
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

/* index a run entry found on disk (its meta.json); NULL when there is none */
static const struct runrec *indexrun(struct store *s, hash key)
{
	char *dir = runpath(s, key);
	char *text = readpart(dir, "meta.json", NULL);

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
	return r ? r : indexrun(s, key);
}

const struct graderec *findgrade(struct store *s, hash key, int ondisk)
{
	struct graderec *g = htabget(s->grades, &key, sizeof(key));

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
	free(text);
	htabput(s->grades, &key, sizeof(key), g);
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

int commitrun(struct store *s, hash key, const char *tmp, const struct runrec *r, int replace)
{
	char *dst = runpath(s, key);
	int ret = 0;

	if (ready(s) < 0) {
		free(dst);
		rmtree(tmp);
		return -1;
	}
	makeparent(s, 0, key, dst);
	if (replace) {
		/* move the old entry aside: a crash in between leaves no entry for
		 * key, which only means the cell runs again */
		char *old = xasprintf("%s/tmp/%ld.old.%u", s->dir, (long)getpid(), s->tmpcount++);
		if (rename(dst, old) == 0)
			rmtree(old);
		free(old);
	}
	if (rename(tmp, dst) < 0) {
		if (errno == EEXIST || errno == ENOTEMPTY) {
			/* another process stored this key first: keep its entry */
			rmtree(tmp);
			free(dst);
			if (htabget(s->runs, &key, sizeof(key)))
				return 0;
			return indexrun(s, key) ? 0 : -1;
		} else {
			warn("cannot store %s:", dst);
			rmtree(tmp);
			ret = -1;
		}
	}
	free(dst);
	if (ret == 0) {
		void **slot = htabslot(s->runs, &key, sizeof(key), 1);
		if (!*slot)
			*slot = xmalloc(sizeof(*r));
		*(struct runrec *)*slot = *r;
		logrun(s, key, r);
	}
	return ret;
}

int commitpacked(struct store *s, hash key, const struct part *parts, size_t n, const struct runrec *r, int replace)
{
	struct buf b = {0};
	char *tmp, *dst;
	int ret = 0;

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
	FILE *f = fopen(tmp, "we");
	if (!f || fwrite(b.s, 1, b.len, f) != b.len || fclose(f) != 0) {
		if (f)
			fclose(f);
		warn("cannot write %s:", tmp);
		ret = -1;
	} else if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dst, replace ? 0 : RENAME_NOREPLACE) < 0) {
		if (errno == EEXIST) {
			/* stored first by another process: keep it */
			ret = htabget(s->runs, &key, sizeof(key)) || indexrun(s, key) ? 1 : -1;
		} else {
			warn("cannot store %s:", dst);
			ret = -1;
		}
	}
	if (ret != 0)
		unlink(tmp);
	free(tmp);
	free(dst);
	buffree(&b);
	if (ret != 0)
		return ret > 0 ? 0 : -1;
	void **slot = htabslot(s->runs, &key, sizeof(key), 1);
	if (!*slot)
		*slot = xmalloc(sizeof(*r));
	*(struct runrec *)*slot = *r;
	logrun(s, key, r);
	return 0;
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

/* delete every KK/KEY under kind/ whose key is not in live */
static long sweep(struct store *s, const char *kind, struct htab *live)
{
	char *top = pathjoin(s->dir, kind);
	DIR *d = opendir(top), *sd;
	struct dirent *e, *se;
	long n = 0;

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
				if (strlen(se->d_name) != 32 || hashparse(se->d_name, &k) < 0 || !htabget(live, &k, sizeof(k))) {
					if (rmtree(p) == 0)
						n++;
				}
				free(p);
			}
			closedir(sd);
			rmdir(sub);
		}
		free(sub);
	}
	if (d)
		closedir(d);
	free(top);
	return n;
}

long gcstore(struct store *s, struct htab *liveruns, struct htab *livegrades)
{
	char *logp = pathjoin(s->dir, "log");
	struct store fresh = {.runs = mkhtab(1024), .grades = mkhtab(1024), .cells = mkhtab(1024)};
	struct buf b = {0};
	size_t pos = 0, klen, len;
	const void *key;
	void *val;
	long n = 0;

	storeflush(s);
	if (ready(s) < 0) {
		free(logp);
		htabfree(fresh.runs, free);
		htabfree(fresh.grades, freegrade);
		htabfree(fresh.cells, free);
		return 0;
	}
	flock(s->lockfd, LOCK_EX);
	/* re-read: other processes may have appended since we opened */
	char *text = readfile(logp, &len);
	if (text)
		loadlog(&fresh, text, len);
	free(text);
	char *cellsp = pathjoin(s->dir, "cells");
	if ((text = readfile(cellsp, &len)))
		loadlines(&fresh, text, len, CELLSHEADER);
	free(text);
	struct buf cb = {0};
	bufadds(&cb, CELLSHEADER);
	bufadds(&b, LOGHEADER);
	while (htabnext(fresh.runs, &pos, &key, &klen, &val)) {
		if (liveruns && !htabget(liveruns, key, klen))
			continue;
		const struct runrec *r = val;
		char k[33], o[33];
		struct buf line = {0};
		hash h;
		memcpy(&h, key, sizeof(h));
		hashhex(h, k);
		hashhex(r->out, o);
		bufaddf(&line, "R\t%s\t%s\t%d\t%.6f", k, o, r->exitcode, r->seconds);
		bufaddf(&line, "\t%08x\n", (unsigned)XXH32(line.s, line.len, 0));
		bufadd(&b, line.s, line.len);
		buffree(&line);
	}
	pos = 0;
	while (htabnext(fresh.grades, &pos, &key, &klen, &val)) {
		if (livegrades && !htabget(livegrades, key, klen))
			continue;
		const struct graderec *g = val;
		char k[33];
		struct buf line = {0};
		hash h;
		memcpy(&h, key, sizeof(h));
		hashhex(h, k);
		bufaddf(&line, "G\t%s\t%.17g\t", k, g->score);
		addescaped(&line, g->reason);
		bufaddf(&line, "\t%08x\n", (unsigned)XXH32(line.s, line.len, 0));
		bufadd(&b, line.s, line.len);
		buffree(&line);
	}
	pos = 0;
	while (htabnext(fresh.cells, &pos, &key, &klen, &val)) {
		const struct cellrec *r = val;
		char h[2 + NPARTS][33];
		struct buf line = {0};
		if (liveruns && !htabget(liveruns, &r->run, sizeof(r->run)))
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
	free(cellsp);
	buffree(&cb);
	if (writefile(logp, b.s, b.len) < 0) {
		warn("cannot rewrite %s:", logp);
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
		if (liveruns)
			n += sweep(s, "runs", liveruns);
		if (livegrades)
			n += sweep(s, "grades", livegrades);
	}
	flock(s->lockfd, LOCK_UN);
	buffree(&b);
	free(logp);
	htabfree(fresh.runs, free);
	htabfree(fresh.grades, freegrade);
	htabfree(fresh.cells, free);
	return n;
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
	    && s->lines > 2 * (htabcount(s->runs) + htabcount(s->grades) + htabcount(s->cells)))
		gcstore(s, NULL, NULL);
	if (s->logfd >= 0)
		close(s->logfd);
	if (s->lockfd >= 0)
		close(s->lockfd);
	htabfree(s->runs, free);
	htabfree(s->grades, freegrade);
	htabfree(s->cells, free);
	free(s->dir);
	free(s);
}
