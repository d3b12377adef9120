/* db: see db.h. The schema (version 3):
 *
 *   runs(key, out, exit, seconds, used, intok, outtok, model)
 *                                          a stored run per run key: the
 *                                          output's hash, exit code, time
 *                                          taken, day last used, tokens
 *                                          used (-1: none reported; NULL:
 *                                          not read yet from its meta.json,
 *                                          a row of version 1) and model
 *   grades(key, score, reason, used)       a grade per grade key
 *   cells(id, run, grade, agent, prompt, task, deps, env, iteration)
 *                                          what each cell last resolved
 *                                          to (for explain and -n)
 *   files(path, size, mtime, ctime, ino, dev, hash, derived)
 *                                          the stat cache (state.h)
 *   memos(key, a, b)                       memoized hash pairs (state.h)
 *   entries(key, zstd, size, made, body)   a small run entry inline: its
 *                                          parts packed as in a packed
 *                                          file (store.c), zstd-compressed
 *                                          when zstd is 1; size is the
 *                                          packed length, made when it was
 *                                          stored (since version 2)
 *   history(seq, time, suite, line)        a suite's line of history.h, in
 *                                          order (since version 2: the
 *                                          CACHE/history file is imported)
 *   meta(k, v)                             k 'results': a count that
 *                                          triggers add 1 to at every
 *                                          insert, update and delete of
 *                                          runs, grades and entries
 *                                          (since version 3)
 *   noops(key, results, day, body)         a plan that needed nothing
 *                                          (plan/noop.h), valid while
 *                                          meta's results and the day
 *                                          (UTC) are as it says (since
 *                                          version 3)
 *
 * Keys and hashes are 32 lowercase hex digits, as evalmake prints them;
 * days are days since the epoch (UTC); mtime and ctime nanoseconds. Every
 * table is keyed by its first column (WITHOUT ROWID), so a lookup is one
 * B-tree descent and nothing is ever loaded whole.
 *
 * Versions: user_version 0 is a new (or pre-database) cache: the store
 * then imports the old text files (log, cells, state) in the transaction
 * that creates the schema. A later version is migrated here, in order, in
 * one transaction; a cache newer than this binary is refused.
 *
 * Crash safety is SQLite's: WAL mode, so a kill -9 loses at most the
 * transaction being written and readers never wait for writers; writers
 * wait for each other (busy_timeout). synchronous=NORMAL: a power cut may
 * lose the last transactions, never consistency, and what the index loses
 * is found again on disk (run entries and durable grades are files). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/db.h"
#include "store/convert.h"
#include "core/util.h"

/* version 2: small run entries inline (a rowid table: its bodies are
 * blobs of up to a few hundred KiB, which WITHOUT ROWID stores badly), and
 * the history (history.h) */
#define ENTRIES_SCHEMA \
	"CREATE TABLE IF NOT EXISTS entries(key TEXT PRIMARY KEY, zstd INTEGER NOT NULL, size INTEGER NOT NULL," \
	" made INTEGER NOT NULL, body BLOB NOT NULL);" \
	"CREATE TABLE IF NOT EXISTS history(seq INTEGER PRIMARY KEY, time TEXT NOT NULL, suite TEXT NOT NULL," \
	" line TEXT NOT NULL);"

/* version 3: a generation of the results, counted up by every change to
 * runs, grades and entries (triggers: whatever writes them, this evalmake
 * or another), and the no-op records of plan/noop.h, each valid while the
 * generation it was made at holds */
#define RESULTS_TRIGGER(t, op) \
	"CREATE TRIGGER IF NOT EXISTS " #t "_" #op " AFTER " #op " ON " #t \
	" BEGIN UPDATE meta SET v = v + 1 WHERE k = 'results'; END;"
#define RESULTS_TRIGGERS(t) RESULTS_TRIGGER(t, INSERT) RESULTS_TRIGGER(t, UPDATE) RESULTS_TRIGGER(t, DELETE)
#define NOOPS_SCHEMA \
	"CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;" \
	"INSERT OR IGNORE INTO meta(k, v) VALUES ('results', 0);" \
	"CREATE TABLE IF NOT EXISTS noops(key TEXT PRIMARY KEY, results INTEGER NOT NULL, day INTEGER NOT NULL," \
	" body BLOB NOT NULL);" \
	RESULTS_TRIGGERS(runs) RESULTS_TRIGGERS(grades) RESULTS_TRIGGERS(entries)

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS runs(key TEXT PRIMARY KEY, out TEXT NOT NULL, exit INTEGER NOT NULL,"
	" seconds REAL NOT NULL, used INTEGER NOT NULL, intok INTEGER, outtok INTEGER, model TEXT) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS grades(key TEXT PRIMARY KEY, score REAL NOT NULL, reason TEXT NOT NULL,"
	" used INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS cells(id TEXT PRIMARY KEY, run TEXT NOT NULL, grade TEXT NOT NULL,"
	" agent TEXT, prompt TEXT, task TEXT, deps TEXT, env TEXT, iteration INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS files(path TEXT PRIMARY KEY, size INTEGER, mtime INTEGER, ctime INTEGER,"
	" ino INTEGER, dev INTEGER, hash TEXT NOT NULL, derived TEXT) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS memos(key TEXT PRIMARY KEY, a TEXT NOT NULL, b TEXT NOT NULL) WITHOUT ROWID;"
	ENTRIES_SCHEMA NOOPS_SCHEMA;

static int damaged(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

void dberror(sqlite3 *db, int rc, const char *what)
{
	const char *file = db ? sqlite3_db_filename(db, "main") : NULL;

	if (damaged(rc))
		fatal(EXIT_USAGE,
		      "%s: the cache index is damaged (%s while %s): move it aside (mv %s %s.bad) and run again;"
		      " results are found again in runs/ and grades/",
		      file ? file : DB_NAME, sqlite3_errstr(rc), what, file ? file : DB_NAME, file ? file : DB_NAME);
	warn("%s: %s while %s", file ? file : DB_NAME, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), what);
}

int dbexec(sqlite3 *db, const char *sql)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK) {
		dberror(db, rc, sql);
		return -1;
	}
	return 0;
}

sqlite3_stmt *dbstmt(sqlite3 *db, sqlite3_stmt **slot, const char *sql)
{
	if (!*slot) {
		int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
		if (rc != SQLITE_OK) {
			dberror(db, rc, "preparing a statement");
			fatal(EXIT_USAGE, "cannot use the cache index: %s", sql);
		}
	}
	sqlite3_reset(*slot);
	sqlite3_clear_bindings(*slot);
	return *slot;
}

int dbdone(sqlite3 *db, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		dberror(db, rc, what);
		return -1;
	}
	return 0;
}

/* the schema's version: migrate an older one (1 -> 2), refuse a
 * newer one. Called in an IMMEDIATE transaction. */
static int migrate(sqlite3 *db, const char *path, const char *cachedir, int *converted)
{
	sqlite3_stmt *st = NULL;
	int version = -1, rc;

	rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version < 0)
		return rc;
	if (version > DB_VERSION)
		fatal(EXIT_USAGE, "%s: cache index version %d is newer than this evalmake's (%d): use a newer evalmake", path,
		      version, DB_VERSION);
	if (version == DB_VERSION)
		return SQLITE_OK;
	if (version == 2) {
		/* 2 -> 3: the results' generation and the no-op records */
		if ((rc = sqlite3_exec(db, NOOPS_SCHEMA, NULL, NULL, NULL)) != SQLITE_OK)
			return rc;
	} else if (version == 1) {
		/* 1 -> 2: a run's tokens and model (its rows' are read from their
		 * meta.json when first looked up: NULL), and the entries table
		 * (the entries already on disk, folders and packed files, stay
		 * there and are read where they are) and the history */
		rc = sqlite3_exec(db,
		                  "ALTER TABLE runs ADD COLUMN intok INTEGER; ALTER TABLE runs ADD COLUMN outtok INTEGER;"
		                  " ALTER TABLE runs ADD COLUMN model TEXT;",
		                  NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			return rc;
		if ((rc = sqlite3_exec(db, ENTRIES_SCHEMA, NULL, NULL, NULL)) != SQLITE_OK)
			return rc;
		if ((rc = converthistory(db, cachedir, converted)) != SQLITE_OK)
			return rc;
		if ((rc = sqlite3_exec(db, NOOPS_SCHEMA, NULL, NULL, NULL)) != SQLITE_OK)
			return rc;
	} else {
		/* version 0: new */
		if ((rc = sqlite3_exec(db, schema, NULL, NULL, NULL)) != SQLITE_OK)
			return rc;
		/* a cache of the text format: its index comes in with the
		 * schema, in the same transaction (a kill now leaves the old
		 * files, read again) */
		if ((rc = convertold(db, cachedir, converted)) != SQLITE_OK)
			return rc;
		int hist = 0;
		if ((rc = converthistory(db, cachedir, &hist)) != SQLITE_OK)
			return rc;
		*converted |= hist;
	}
	char set[64];
	snprintf(set, sizeof(set), "PRAGMA user_version = %d", DB_VERSION);
	return sqlite3_exec(db, set, NULL, NULL, NULL);
}

static int keepwal;

void dbkeepwal(void)
{
	keepwal = 1;
}

/* open and set up path; SQLITE_OK or the code that failed */
static int tryopen1(const char *path, const char *cachedir, int flags, sqlite3 **out)
{
	sqlite3 *db = NULL;
	int converted = 0;
	int rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);

	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(db, 60000);
		/* the journal mode is the file's; the rest is per connection */
		if (flags & SQLITE_OPEN_READWRITE)
			/* a checkpoint every 16 MB of WAL, not 4: a no-op record of
			 * 100,000 cells is some 5 MB, rewritten by each run that
			 * changes a task (report/noop.h), and a checkpoint copies a
			 * page once however often it was written since the last */
			rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=4096;",
			                  NULL, NULL, NULL);
	}
	if (rc == SQLITE_OK && (flags & SQLITE_OPEN_READWRITE)) {
		rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc == SQLITE_OK) {
			rc = migrate(db, path, cachedir, &converted);
			rc = sqlite3_exec(db, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK && rc == SQLITE_OK
			             ? SQLITE_OK
			             : (rc != SQLITE_OK ? rc : SQLITE_ERROR);
		}
	}
	if (rc != SQLITE_OK) {
		/* the system's reason ("No space left on device") says more */
		errno = db ? sqlite3_system_errno(db) : 0;
		sqlite3_close_v2(db);
		return rc;
	}
	if (converted)
		removeold(cachedir);
	*out = db;
	return SQLITE_OK;
}

/* tryopen1, again while another process holds the lock that setting
 * the journal mode or creating the schema needs (busy_timeout does not
 * cover those): for up to a minute */
static int tryopen(const char *path, const char *cachedir, int flags, sqlite3 **out)
{
	int rc = SQLITE_BUSY;

	for (int i = 0; i < 6000 && ((rc = tryopen1(path, cachedir, flags, out)) & 0xff) == SQLITE_BUSY; i++) {
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	return rc;
}

sqlite3 *opendb(const char *cachedir, int create)
{
	char *path = pathjoin(cachedir, DB_NAME);
	sqlite3 *db = NULL;
	struct stat st;

	if (!create && stat(path, &st) < 0) {
		free(path);
		return NULL;
	}
	if (create && mkdirs(cachedir, 0755) < 0) {
		warn("cannot create cache folder %s:", cachedir);
		free(path);
		return NULL;
	}
	int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
	int rc = tryopen(path, cachedir, flags, &db);
	if (rc == SQLITE_READONLY || rc == SQLITE_CANTOPEN || rc == SQLITE_PERM) {
		/* a read-only cache: look, never write. A WAL database cannot be
		 * read where its -shm file cannot be made, unless it is opened as
		 * immutable (nobody writes it: true of read-only media) */
		struct buf uri = {0};
		bufadds(&uri, "file:");
		for (const char *c = path; *c; c++)
			if (*c == '%' || *c == '?' || *c == '#')
				bufaddf(&uri, "%%%02X", (unsigned char)*c);
			else
				bufaddc(&uri, *c);
		bufadds(&uri, "?immutable=1");
		if (stat(path, &st) == 0)
			rc = tryopen(uri.s, cachedir, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, &db);
		buffree(&uri);
	}
	if (damaged(rc)) {
		/* not a database (or its header is gone): keep it aside, start
		 * anew; entries are found on disk and indexed again */
		char *aside = xasprintf("%s.damaged.%ld", path, (long)time(NULL));
		warn("%s is damaged (%s): kept as %s, starting a new index", path, sqlite3_errstr(rc), aside);
		rename(path, aside);
		free(aside);
		for (const char *sfx = "-wal"; sfx; sfx = strcmp(sfx, "-wal") ? NULL : "-shm") {
			char *p = xasprintf("%s%s", path, sfx);
			unlink(p);
			free(p);
		}
		rc = tryopen(path, cachedir, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &db);
	}
	if (rc != SQLITE_OK) {
		int err = (rc & 0xff) == SQLITE_FULL && !errno ? ENOSPC : errno;
		warn("cannot open the cache index %s: %s%s%s", path, sqlite3_errstr(rc), err ? ": " : "", err ? strerror(err) : "");
		db = NULL;
	}
	free(path);
	return db;
}

void dbread(sqlite3 *db, int *n)
{
	if (*n >= 4096)
		dbendread(db, n);
	if (*n == 0 && sqlite3_get_autocommit(db))
		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	(*n)++;
}

void dbendread(sqlite3 *db, int *n)
{
	if (db && *n > 0 && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	*n = 0;
}

void closedb(sqlite3 *db)
{
	sqlite3_stmt *st;

	if (!db)
		return;
	while ((st = sqlite3_next_stmt(db, NULL)))
		sqlite3_finalize(st);
	if (keepwal)
		sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	sqlite3_close_v2(db);
}

void bindhash(sqlite3_stmt *st, int i, hash h)
{
	char hx[33];

	hashhex(h, hx);
	sqlite3_bind_text(st, i, hx, 32, SQLITE_TRANSIENT);
}

int columnhash(sqlite3_stmt *st, int i, hash *h)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	return t ? hashparse(t, h) : -1;
}
