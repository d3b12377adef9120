/* state: what evalmake remembers about files between runs, kept in
 * CACHE/state. For each file: its stat data (size, mtime, ctime, inode) and
 * content hash, so a file is re-hashed only when its stat data changed, as
 * ninja does. And memos: small derived facts keyed by a hash of their
 * inputs (a task's rendered-prompt hash, say), so a no-op run reads no task.
 * The file is only a cache: losing it costs re-hashing, never a wrong key. */
#ifndef STATE_H
#define STATE_H

#include "core/hash.h"

struct state;

/* load CACHE/state (a missing or corrupt one is an empty state) */
struct state *openstate(const char *cachedir);
/* the content hash of the file at path; -1 with errno when unreadable */
int filehash(struct state *s, const char *path, hash *out);
/* drop what is known of path, so the next filehash re-reads it */
void forgetfile(struct state *s, const char *path);
/* the two hashes memoized under key; 0 when found, -1 when not */
int memoget(struct state *s, hash key, hash val[2]);
void memoput(struct state *s, hash key, const hash val[2]);
/* write the state back atomically if it changed */
void savestate(struct state *s);
void closestate(struct state *s);

#endif
