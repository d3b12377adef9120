/* db: the cache's index, CACHE/index.db, one SQLite database (WAL mode)
 * shared by the store (runs, grades, cells) and the state (files, memos).
 * The schema is in db.c; its version is SQLite's user_version. */
#ifndef DB_H
#define DB_H

#include <sqlite3.h>

#include "core/hash.h"

#define DB_NAME "index.db"
#define DB_VERSION 3

/* open CACHE/index.db, creating the folder and the schema when create;
 * NULL when it does not exist and !create, or (with a warning) when it
 * cannot be opened. A file that is not a database is moved aside (warned
 * about) and a new one made: the index is rebuilt from runs/ and grades/. */
sqlite3 *opendb(const char *cachedir, int create);
/* die with a clear message when rc says the database is damaged, else
 * warn about what failed; what names the step */
void dberror(sqlite3 *db, int rc, const char *what);
/* from now on, the last connection to close leaves the WAL as it is
 * (SQLite would checkpoint it into the database, syncing both): for a
 * command that wrote a line or two and should not wait for the disk at
 * exit; a later writer checkpoints. A read-only (immutable) open of the
 * cache misses what is only in the WAL */
void dbkeepwal(void);
/* run sql (no results); 0 or -1 with a warning */
int dbexec(sqlite3 *db, const char *sql);
/* the statement in *slot, prepared from sql the first time, reset and
 * with its bindings cleared */
sqlite3_stmt *dbstmt(sqlite3 *db, sqlite3_stmt **slot, const char *sql);
/* step a statement that returns no rows; 0, or -1 after dberror */
int dbdone(sqlite3 *db, sqlite3_stmt *st, const char *what);
/* lookups are grouped in read transactions: in autocommit mode each one
 * would take and drop WAL locks, the most of its cost. dbread opens one
 * when none is open (*n counts the lookups in it; after 4096 it is ended,
 * so a long run sees others' writes); dbendread ends it, before a write */
void dbread(sqlite3 *db, int *n);
void dbendread(sqlite3 *db, int *n);
/* keys are stored as the 32 hex digits evalmake prints: bind hash h as
 * parameter i, or read column i into *h (-1 when NULL or not a key) */
void bindhash(sqlite3_stmt *st, int i, hash h);
int columnhash(sqlite3_stmt *st, int i, hash *h);
/* finalize the cached statements and close */
void closedb(sqlite3 *db);

#endif
