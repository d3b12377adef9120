/* archive: a folder as one byte blob and back, for a command agent's
 * artifacts/ folder travelling to and from the remote cache (store/remote.h)
 * as a single content-addressed blob.
 *
 * Our own small format rather than tar through libarchive: the folders are
 * small, the blob is only ever read by us, and unpacking must refuse what a
 * hostile server could put in an archive (absolute paths, "..", links to
 * write through), which is simpler to get right with no links at all:
 *   "evalmake-artifacts 1\n", then per entry
 *   "D MODE PATHLEN 0\n" PATH              a folder
 *   "F MODE PATHLEN DATALEN\n" PATH DATA   a regular file
 * MODE is octal (permission bits only), paths are relative with '/'.
 * Symbolic links and special files are not carried. */
#ifndef ARCHIVE_H
#define ARCHIVE_H

#include <stddef.h>

/* the folder dir as a blob (*len bytes); NULL and *err when it cannot be
 * read; an empty folder gives a blob of no entries */
char *packfolder(const char *dir, size_t *len, char **err);
/* does the blob hold any entry? */
int archiveempty(const char *blob, size_t len);
/* recreate the blob's entries under dir (which exists); -1 and *err when
 * the blob is malformed or unsafe (nothing outside dir is ever written,
 * but what was written before the error stays: unpack into a fresh folder) */
int unpackfolder(const char *blob, size_t len, const char *dir, char **err);

#endif
