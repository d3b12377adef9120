/* state: the stat cache and the memo table, kept in the cache's index
 * (db.h: tables files and memos). A file's row is read the first time the
 * file is asked about (past BULK_AFTER such reads, the whole table in one
 * scan: see bulkload), and rows that changed are written back in one
 * transaction by savestate: a no-op run writes none. A file modified less than a second before it was hashed is not
 * recorded: a second write in the same clock tick could keep its stat data
 * (git's "racy clean" problem), so such a file is simply re-hashed next
 * time. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/seen.h"
#include "store/state.h"
#include "store/db.h"
#include "core/util.h"

struct fileinfo {
	int have;            /* a record exists (else: looked up, none) */
	struct stamp st;     /* the stat data h was computed under */
	hash h;
	hash derived;        /* derivedput's, for content h */
	int hasderived;
	int racy;
	int scanned;         /* read by bulkload, not yet asked about */
};

enum { SF_GET, SF_PUT, SF_DEL, SM_GET, SM_PUT, SF_ALL, SM_ALL, NSTMT };

struct state {
	char *dir;
	sqlite3 *db;         /* NULL until the cache folder exists */
	struct htab *files;  /* path -> struct fileinfo, as looked up or scanned */
	struct htab *memo;   /* 16-byte key -> hash[3]: a, b, and [2].low64 = known */
	struct htab *dirtyfiles, *dirtymemo; /* what savestate writes */
	sqlite3_stmt *st[NSTMT];
	int reads;           /* lookups in the open read transaction (db.h) */
	int filequeries, memoqueries; /* point queries made so far */
	int fileall, memoall;         /* the whole table was read (see bulkload) */
};

/* Past this many point queries into one table a run is a big one (a plan of
 * many cells asks for about one file row and two memos per cell): the rest of
 * the table is read in one scan, which costs a fraction of a point query per
 * row. A small run (a few cells of a big project) never pays for the scan. */
enum { BULK_AFTER = 256 };

static const char *const sql[NSTMT] = {
	[SF_GET] = "SELECT size, mtime, ctime, ino, dev, hash, derived FROM files WHERE path = ?1",
	[SF_PUT] = ("INSERT OR REPLACE INTO files(path, size, mtime, ctime, ino, dev, hash, derived)"
	            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
	[SF_DEL] = "DELETE FROM files WHERE path = ?1",
	[SM_GET] = "SELECT a, b FROM memos WHERE key = ?1",
	[SM_PUT] = "INSERT OR REPLACE INTO memos(key, a, b) VALUES (?1, ?2, ?3)",
	[SF_ALL] = "SELECT size, mtime, ctime, ino, dev, hash, derived, path FROM files",
	[SM_ALL] = "SELECT a, b, key FROM memos",
};

static long long nsec(struct timespec ts)
{
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct state *openstate(const char *cachedir)
{
	struct state *s = xcalloc(1, sizeof(*s));
	struct stat st;

	s->dir = xstrdup(cachedir);
	s->files = mkhtab(1024);
	s->memo = mkhtab(1024);
	s->dirtyfiles = mkhtab(64);
	s->dirtymemo = mkhtab(64);
	if (stat(cachedir, &st) == 0 && S_ISDIR(st.st_mode))
		s->db = opendb(cachedir, 1); /* converts a cache of the text format */
	return s;
}

/* fill fi from the files row st is on (columns as in SF_GET); 0 if valid */
static int filerow(sqlite3_stmt *st, struct fileinfo *fi)
{
	if (columnhash(st, 5, &fi->h) < 0)
		return -1;
	fi->st = (struct stamp){sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
	                        sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4)};
	fi->hasderived = columnhash(st, 6, &fi->derived) == 0;
	fi->have = 1;
	return 0;
}

/* fill v (as getmemo's) from the memos row st is on; 0 if valid */
static int memorow(sqlite3_stmt *st, hash *v)
{
	if (columnhash(st, 0, &v[0]) < 0 || columnhash(st, 1, &v[1]) < 0)
		return -1;
	v[2].low64 = 1;
	return 0;
}

/* Read every row of the files (which == SF_ALL) or memos table into the
 * in-memory table, keeping what is there already: an entry looked up or
 * changed in this process stays as it is. Afterwards a path or key with no
 * entry has no row in the snapshot read, exactly what its point query would
 * have found in that snapshot. A row written by another process after the
 * scan is then missed; both tables only cache what can be recomputed (a
 * file's hash is checked against its stat data, a memo is a pure function of
 * its key), so missing a row costs a recomputation, never a wrong answer. */
static void bulkload(struct state *s, int which)
{
	struct htab *t = which == SF_ALL ? s->files : s->memo;
	dbread(s->db, &s->reads);
	sqlite3_stmt *st = dbstmt(s->db, &s->st[which], sql[which]);
	int rc, col = which == SF_ALL ? 7 : 2;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const void *key;
		size_t klen;
		hash k;
		if (which == SF_ALL) {
			key = sqlite3_column_text(st, col);
			klen = (size_t)sqlite3_column_bytes(st, col);
		} else {
			if (columnhash(st, col, &k) < 0)
				continue;
			key = &k;
			klen = sizeof(k);
		}
		if (!key)
			continue;
		void **slot = htabslot(t, key, klen, 1);
		if (*slot)
			continue;
		if (which == SF_ALL) {
			struct fileinfo *fi = xcalloc(1, sizeof(*fi));
			if (filerow(st, fi) < 0)
				fi->have = 0;
			fi->scanned = 1;
			*slot = fi;
		} else {
			hash *v = xcalloc(3, sizeof(*v));
			if (memorow(st, v) < 0)
				v[2].low64 = 0;
			*slot = v;
		}
	}
	if (rc != SQLITE_DONE)
		dberror(s->db, rc, which == SF_ALL ? "reading the stat cache" : "reading the memos");
	sqlite3_reset(st);
	/* on an error the point queries go on as before */
	if (which == SF_ALL)
		s->fileall = rc == SQLITE_DONE;
	else
		s->memoall = rc == SQLITE_DONE;
}

/* what is known of path (have == 0: nothing): its row, read once */
static struct fileinfo *getfile(struct state *s, const char *path)
{
	size_t len = strlen(path);
	void **slot = htabslot(s->files, path, len, 0);
	struct fileinfo *fi;

	if (slot && (fi = *slot)) {
		fi->scanned = 0;
		return fi;
	}
	if (s->db && !s->fileall && ++s->filequeries > BULK_AFTER) {
		bulkload(s, SF_ALL);
		if ((slot = htabslot(s->files, path, len, 0)) && (fi = *slot)) {
			fi->scanned = 0;
			return fi;
		}
	}
	slot = htabslot(s->files, path, len, 1);
	fi = *slot = xcalloc(1, sizeof(*fi));
	if (!s->db || s->fileall)
		return fi;
	dbread(s->db, &s->reads);
	sqlite3_stmt *st = dbstmt(s->db, &s->st[SF_GET], sql[SF_GET]);
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		filerow(st, fi);
	else if (rc != SQLITE_DONE)
		dberror(s->db, rc, "looking up a file");
	sqlite3_reset(st);
	return fi;
}

static void dirty(struct state *s, const char *path)
{
	htabput(s->dirtyfiles, path, strlen(path), s);
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
	struct fileinfo *fi = getfile(s, path);

	if (!fi->have)
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
	struct fileinfo *fi;

	int rc = stat(path, &sb);
	seenstat(path, 1, rc, &sb);
	if (rc < 0)
		return -1;
	if (S_ISDIR(sb.st_mode)) {
		errno = EISDIR;
		return -1;
	}
	tostamp(&sb, &now);
	fi = getfile(s, path);
	if (fi->have && !fi->racy && stampeq(&fi->st, &now)) {
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
	if (!fi->have || !hasheq(fi->h, *out))
		fi->hasderived = 0;
	fi->have = 1;
	fi->st = now;
	fi->h = *out;
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	fi->racy = nsec(wall) - fi->st.mtime < 1000000000LL || nsec(wall) - fi->st.ctime < 1000000000LL;
	dirty(s, path);
	return 0;
}

int samecontent(struct state *s, const char *path, struct stamp *now)
{
	struct fileinfo *fi = getfile(s, path);
	hash h;

	if (!fi->have || stampnow(path, now) < 0)
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
	dirty(s, path);
	return 0;
}

int derivedget(struct state *s, const char *path, hash content, hash *out)
{
	struct fileinfo *fi = getfile(s, path);

	if (!fi->have || !fi->hasderived || !hasheq(fi->h, content))
		return -1;
	*out = fi->derived;
	return 0;
}

void derivedput(struct state *s, const char *path, hash content, hash derived)
{
	struct fileinfo *fi = getfile(s, path);

	if (!fi->have || !hasheq(fi->h, content) || (fi->hasderived && hasheq(fi->derived, derived)))
		return;
	fi->derived = derived;
	fi->hasderived = 1;
	dirty(s, path);
}

void forgetfile(struct state *s, const char *path)
{
	void **slot = htabslot(s->files, path, strlen(path), 0);

	/* a row only scanned was never asked about: as before the scan, there
	 * is nothing known to drop (the next filehash checks its stat data) */
	if (slot && *slot && !((struct fileinfo *)*slot)->scanned) {
		((struct fileinfo *)*slot)->racy = 1;
		dirty(s, path);
	}
}

/* the memo of key, read once: v[2].low64 says whether there is one */
static hash *getmemo(struct state *s, hash key)
{
	void **slot = htabslot(s->memo, &key, sizeof(key), 0);

	if (slot && *slot)
		return *slot;
	if (s->db && !s->memoall && ++s->memoqueries > BULK_AFTER) {
		bulkload(s, SM_ALL);
		if ((slot = htabslot(s->memo, &key, sizeof(key), 0)) && *slot)
			return *slot;
	}
	slot = htabslot(s->memo, &key, sizeof(key), 1);
	hash *v = *slot = xcalloc(3, sizeof(*v));
	if (!s->db || s->memoall)
		return v;
	dbread(s->db, &s->reads);
	sqlite3_stmt *st = dbstmt(s->db, &s->st[SM_GET], sql[SM_GET]);
	bindhash(st, 1, key);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		memorow(st, v);
	else if (rc != SQLITE_DONE)
		dberror(s->db, rc, "looking up a memo");
	sqlite3_reset(st);
	return v;
}

int memoget(struct state *s, hash key, hash val[2])
{
	hash *v = getmemo(s, key);

	if (!v[2].low64)
		return -1;
	val[0] = v[0];
	val[1] = v[1];
	return 0;
}

void memoput(struct state *s, hash key, const hash val[2])
{
	hash *v = getmemo(s, key);

	if (v[2].low64 && hasheq(v[0], val[0]) && hasheq(v[1], val[1]))
		return;
	v[0] = val[0];
	v[1] = val[1];
	v[2].low64 = 1;
	htabput(s->dirtymemo, &key, sizeof(key), s);
}

/* write one changed file's row (a racy one is removed: see the top) */
static int savefile(struct state *s, const char *path, size_t len)
{
	struct fileinfo *fi = htabget(s->files, path, len);
	sqlite3_stmt *st;
	char *p = xstrndup(path, len);

	if (!fi || !fi->have || fi->racy) {
		st = dbstmt(s->db, &s->st[SF_DEL], sql[SF_DEL]);
		sqlite3_bind_text(st, 1, p, -1, SQLITE_TRANSIENT);
	} else {
		st = dbstmt(s->db, &s->st[SF_PUT], sql[SF_PUT]);
		sqlite3_bind_text(st, 1, p, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, fi->st.size);
		sqlite3_bind_int64(st, 3, fi->st.mtime);
		sqlite3_bind_int64(st, 4, fi->st.ctime);
		sqlite3_bind_int64(st, 5, fi->st.ino);
		sqlite3_bind_int64(st, 6, fi->st.dev);
		bindhash(st, 7, fi->h);
		if (fi->hasderived)
			bindhash(st, 8, fi->derived);
	}
	free(p);
	return dbdone(s->db, st, "writing the stat cache");
}

void savestate(struct state *s)
{
	size_t pos = 0, klen;
	const void *key;
	void *val;

	if (!htabcount(s->dirtyfiles) && !htabcount(s->dirtymemo))
		return;
	if (!s->db && !(s->db = opendb(s->dir, 1)))
		return;
	dbendread(s->db, &s->reads);
	int ok = dbexec(s->db, "BEGIN IMMEDIATE") == 0;
	while (ok && htabnext(s->dirtyfiles, &pos, &key, &klen, &val))
		if (val)
			ok = savefile(s, key, klen) == 0;
	pos = 0;
	while (ok && htabnext(s->dirtymemo, &pos, &key, &klen, &val)) {
		hash k, *v;
		if (!val)
			continue;
		memcpy(&k, key, sizeof(k));
		v = htabget(s->memo, key, klen);
		sqlite3_stmt *st = dbstmt(s->db, &s->st[SM_PUT], sql[SM_PUT]);
		bindhash(st, 1, k);
		bindhash(st, 2, v[0]);
		bindhash(st, 3, v[1]);
		ok = dbdone(s->db, st, "writing a memo") == 0;
	}
	if (ok)
		ok = dbexec(s->db, "COMMIT") == 0;
	if (!ok) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return; /* kept dirty: tried again at the next save */
	}
	htabfree(s->dirtyfiles, NULL);
	htabfree(s->dirtymemo, NULL);
	s->dirtyfiles = mkhtab(64);
	s->dirtymemo = mkhtab(64);
}

void closestate(struct state *s)
{
	if (!s)
		return;
	dbendread(s->db, &s->reads);
	closedb(s->db);
	htabfree(s->files, free);
	htabfree(s->memo, free);
	htabfree(s->dirtyfiles, NULL);
	htabfree(s->dirtymemo, NULL);
	free(s->dir);
	free(s);
}
