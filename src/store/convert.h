/* convert: read a cache of the text format (before the index was a
 * database) into the index, so that upgrading evalmake loses no result:
 *   log      R/G/U/D lines: runs, grades and the days they were used
 *   cells    C lines: what each cell last resolved to
 *   state    F/M lines: the stat cache and the memos
 * Lines whose checksum fails (a torn or damaged line) are skipped, as the
 * old reader did; run entries and grade files (runs/, grades/) keep their
 * layout and need no conversion. */
#ifndef CONVERT_H
#define CONVERT_H

#include <sqlite3.h>

/* import cachedir's old files into db (inside the caller's transaction);
 * SQLITE_OK or the error that stopped it. *found: some file was there */
int convertold(sqlite3 *db, const char *cachedir, int *found);
/* remove the old files once the import is committed */
void removeold(const char *cachedir);
/* import CACHE/history (JSON lines; a torn one is skipped) into the
 * history table; *found set when there was such a file (removeold removes
 * it after the commit). SQLITE_OK or the code that failed. */
int converthistory(sqlite3 *db, const char *cachedir, int *found);

#endif
