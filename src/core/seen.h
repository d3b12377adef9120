/* seen: what this process observed of the file system and of its
 * environment while it was recording, so that a later process can tell,
 * with one stat per path and no read, that none of it has changed
 * (plan/noop.h keeps such a record for a plan that needed nothing).
 *
 * Recording is off until seenstart(); every seen* call does nothing while
 * it is off. Whoever reads a file, lists a folder or asks whether a path
 * exists on behalf of a plan records it here, before using what it found:
 * a path that changes after its record was taken then no longer matches
 * it. A path is recorded with the stat data it had (or the errno of a
 * failed stat: "missing" is a fact too), a variable with a hash of its
 * value (never the value: it may be a secret). */
#ifndef SEEN_H
#define SEEN_H

#include <dirent.h>
#include <sys/stat.h>

#include "core/hash.h"

/* one path as it was seen: err 0 and its stat data, or the errno of the
 * failed stat (follow: stat, else lstat) */
struct seenpath {
	char *path;
	int follow, err;
	int racy;  /* seenrecord: written within the margin before the start */
	long long mode, size, mtime, ctime, ino, dev;
};

struct seenvar {
	char *name;
	hash value; /* varhash: set or not, and the bytes */
};

/* start recording (anything recorded before is dropped); t0, the
 * realtime clock then, is kept for seenracy */
void seenstart(void);
/* the margin of seenrecord's "racy" check, ns (default a second) */
void seenmargin(long long ns);
/* stop recording; what was recorded is kept until seenstart/seenfree */
void seenstop(void);
/* record again after seenstop, adding to what was recorded */
void seenresume(void);
int seenrecording(void);
/* record path as it is now (follow: stat, else lstat) */
void seenpath(const char *path, int follow);
/* record a stat already made: rc its result, with errno set when -1 */
void seenstat(const char *path, int follow, int rc, const struct stat *st);
/* opendir(path), recording the folder (its stat data change when an entry
 * is added, removed or renamed) */
DIR *opendirseen(const char *path);
/* record a variable's value (NULL: unset) */
void seenenv(const char *name, const char *value);
/* the record, sorted by path and follow with duplicates merged; -1 when a
 * path was seen twice with different stat data (it changed while being
 * used): such a record must not be trusted later. A file changed within
 * a second of the recording's start is marked racy (a write in the same
 * clock tick could hide behind the same stat data, as git's "racy"
 * files): its stat data alone must not be trusted later */
int seenrecord(struct seenpath **paths, size_t *npaths, struct seenvar **vars, size_t *nvars);
/* after seenrecord: how many paths it marked racy */
size_t seenracy(void);
/* after seenrecord returned -1, or marked a path racy: the first reason,
 * in words */
const char *seenwhy(void);
/* record a variable as an earlier process saw it (a no-op record's, that
 * still holds), with the hash seenenv made of its value */
void seenputvar(const char *name, hash value);
/* the hash of a variable's value as seenenv records it */
hash seenvarhash(const char *name, const char *value);
/* fill p's stat fields from st (err 0) */
void seenfill(struct seenpath *p, const struct stat *st);
/* do two records of a path say the same (the same errno, or the same
 * stat data)? */
int seeneq(const struct seenpath *a, const struct seenpath *b);
/* is path (relative to dirfd, or AT_FDCWD) as p says? */
int seensame(int dirfd, const char *path, const struct seenpath *p);
/* drop what was recorded */
void seenfree(void);

#endif
