/* state: what evalmake remembers about files between runs, kept in the
 * cache's index (db.h: tables files and memos). For each file: its stat data (size, mtime, ctime, inode,
 * device) and
 * content hash, so a file is re-hashed only when its stat data changed, as
 * ninja does. And memos: small derived facts keyed by a hash of their
 * inputs (a task's rendered-prompt hash, say), so a no-op run reads no task.
 * It is only a cache: losing it costs re-hashing, never a wrong key. */
#ifndef STATE_H
#define STATE_H

#include "core/hash.h"

struct state;

/* the stat data a file's content was hashed under: a file whose stamp is
 * unchanged is taken to hold the content that was hashed */
struct stamp {
	long long size, mtime, ctime, ino, dev;
};

/* open the state of the cache folder cachedir (nothing is read yet: a
 * file's record is read when first asked for) */
struct state *openstate(const char *cachedir);
/* the content hash of the file at path; -1 with errno when unreadable */
int filehash(struct state *s, const char *path, hash *out);
/* the stamp and hash path had when this process last hashed it (or, when
 * its stat data matched, when it was hashed before); -1 when never hashed.
 * A run keyed by that hash may use the file only while its stamp is this */
int hashedstamp(struct state *s, const char *path, struct stamp *st, hash *h);
/* is path's content still the one its hash was taken from? Yes (0, with
 * *now its stamp now) when its stamp is unchanged (and was not taken
 * within a second of a write), or else when its content hashes the same
 * again (a touch; the new stamp is recorded).
 * -1 when it changed, is unreadable or was never hashed: the record is
 * kept as it was, so whatever was keyed by the old hash stays suspect */
int samecontent(struct state *s, const char *path, struct stamp *now);
/* the stamp of the file at path now; -1 with errno */
int stampnow(const char *path, struct stamp *out);
/* are two stamps the same? */
int stampeq(const struct stamp *a, const struct stamp *b);
/* a hash derived from a file's content (the agent's view of a JSON task,
 * say), kept with the file's record so that an unchanged file is not read
 * again: 0 and *out when one was put for the content hash content, which
 * must be the file's current hash */
int derivedget(struct state *s, const char *path, hash content, hash *out);
void derivedput(struct state *s, const char *path, hash content, hash derived);
/* drop what is known of path, so the next filehash re-reads it */
void forgetfile(struct state *s, const char *path);
/* the two hashes memoized under key; 0 when found, -1 when not */
int memoget(struct state *s, hash key, hash val[2]);
void memoput(struct state *s, hash key, const hash val[2]);
/* write what changed, in one transaction */
void savestate(struct state *s);
void closestate(struct state *s);

#endif
