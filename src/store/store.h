/* store: the cache folder. Content-addressed and append-only:
 *
 *   index.db         the index (db.h): a row per run, grade and cell
 *                    (each cell's inputs when it last ran, for explain
 *                    and -n), read one key at a time, written in batches;
 *                    and the small run entries: a run entry (its parts:
 *                    output, transcript, prompt, meta.json, ...) without a
 *                    non-empty artifacts folder and with no part over
 *                    256 KiB is a row of the entries table, written in the
 *                    transaction that writes its run row
 *   runs/KK/KEY/     a run entry that is not small: the same parts as
 *                    files, and the agent's artifacts/ (EVAL_OUT_DIR).
 *                    (Caches before version 2 also hold runs/KK/KEY
 *                    files: an entry packed into one file; still read.)
 *   grades/KK/KEY    a grade per grade key of a script or judge grader:
 *                    score, reason, then what a script printed on stderr
 *   errors/ID/       the last failed attempt of a cell, for `log`; never
 *                    used as a result
 *   tmp/             entries being written, and entries being deleted
 *   runlocks         a lock per run key (fcntl byte ranges): one process
 *                    at a time works on a key
 *
 * Entries are immutable and appear atomically: a row in one transaction
 * with its run row, or a folder written in tmp/, then renamed into place,
 * so a kill -9 at any moment leaves either no entry or a whole one. For
 * the entries kept as files (runs/ and grades/), the index is only an
 * index: a key missing from it is looked up on disk (and indexed again);
 * the small entries live in the index alone. Two processes may share a
 * cache: the first writer wins, and the index is a SQLite database in WAL
 * mode, written one transaction per batch.
 *
 * Durability: an entry's files and folders are fsync'ed before its rename,
 * and its parent folder after, so a committed run or grade file survives a
 * power cut; the index is synchronous=NORMAL (what it loses is found on
 * disk).
 * Deletion is atomic per entry too: gc renames an entry into tmp/ first.
 * A damaged entry (a part missing, a packed file that does not parse) is
 * treated as missing: the cell runs again and its result replaces it.
 *
 * Use: a run's and a grade's row holds the day it was last used; an entry
 * found by findrun or findgrade on a later day is marked used, once a day:
 * its mtime is refreshed and its row's day updated. gc keeps what was used
 * within --keep days (the later of the two). */
#ifndef STORE_H
#define STORE_H

#include <stdio.h>

#include "core/hash.h"

/* the input hashes a cell remembers, so `explain` can say what changed
 * (PART_ENV: the declared env_inputs' values, zero when none are) */
enum { PART_AGENT, PART_PROMPT, PART_TASK, PART_DEPS, PART_ENV, NPARTS };

struct runrec {
	hash out;          /* hash of the output */
	int exitcode;
	double seconds;
	unsigned used;     /* the day (since the epoch, UTC) it was last used */
	/* the tokens the agent used, as the model API or the agent reported
	 * them (meta.json's "usage"); -1 when none were reported */
	long long intokens, outtokens;
	char model[64];    /* the model it named, "" when none (cut at 63 bytes) */
};

struct graderec {
	double score;
	char *reason;
	unsigned used;     /* as for runrec */
};

struct cellrec {
	hash run, grade;
	hash parts[NPARTS];
	int iteration;
};

struct store;

/* open (creating) the cache folder; NULL and *err when it cannot be used */
struct store *openstore(const char *dir, char **err);
/* the run entry of key, or NULL (also when its entry is damaged on disk) */
const struct runrec *findrun(struct store *s, hash key);
/* do findrun and findgrade mark what they find as used (the default)? gc
 * turns it off: looking must not change what it looks at */
void storemarkuse(struct store *s, int on);
/* may small run entries be rows of the index (the default)? A shard turns
 * it off: on a folder shared by several hosts (SLURM's nodes on NFS) the
 * index, a SQLite database in WAL mode, is not safe, and a result kept as
 * a folder is found again on disk whatever becomes of the index */
void storeinline(struct store *s, int on);
/* take the run lock of key for this process: 1 taken, 0 held by another
 * process or another cell of ours (wait and try again), -1 locks do not
 * work here (go on without). A dead holder's lock is released by the
 * kernel. */
int lockrun(struct store *s, hash key);
void unlockrun(struct store *s, hash key);
/* a stored run found damaged (a part missing): move it out of the way and
 * forget it, so the cell runs again; -1 when it cannot be moved */
int droprun(struct store *s, hash key);
/* the grade of key, or NULL; ondisk: also look for a grade file not in
 * the index (only expensive graders write them: see commitgrade) */
const struct graderec *findgrade(struct store *s, hash key, int ondisk);
/* what the cell last resolved to, or NULL */
const struct cellrec *findcell(struct store *s, const char *id);
/* record what the cell resolved to now (appends only when it changed) */
void setcell(struct store *s, const char *id, const struct cellrec *r);
/* a fresh private folder under tmp/, holding an empty artifacts/ when
 * asked (command agents get one as EVAL_OUT_DIR) */
char *newentry(struct store *s, int artifacts);
/* store a finished entry (a folder from newentry: its files are the parts)
 * under key and index it: inline when it is small (see the top), else the
 * folder is moved into place. If an entry for key exists (another process
 * stored it first), it is kept and tmp is removed, unless replace (-B: a
 * fresh measurement was asked for). tmp is gone either way. */
int commitrun(struct store *s, hash key, const char *tmp, const struct runrec *r, int replace);
struct part {
	const char *name;  /* no space, newline or slash */
	const char *data;
	size_t len;
};

/* store an entry from its parts and, when artifacts names a non-empty
 * folder, that folder (moved in): as commitrun. 0, or -1 with errno */
int commitentry(struct store *s, hash key, const struct part *parts, size_t n, const char *artifacts,
                const struct runrec *r, int replace);
/* one part ("output", "transcript", "prompt", "meta.json", ...) of the run
 * entry of key, wherever it is stored; NULL when absent. len may be NULL. */
char *entrypart(struct store *s, hash key, const char *part, size_t *len);
/* the names of the parts of the run entry of key (not its artifacts), one
 * per line; NULL when there is no entry */
char *entryparts(struct store *s, hash key);
/* the artifacts folder of the run entry of key, or NULL when it has none */
char *entryartifacts(struct store *s, hash key);
/* where the entry of key is, for people: its folder, or the index */
char *entrywhere(struct store *s, hash key);
/* when the entry of key was stored (or last marked used, for a folder),
 * in nanoseconds since the epoch; -1 when there is none */
long long entrytime(struct store *s, hash key);
/* one part of a cell's last error ("meta.json", "output", "grader.log",
 * ...), NULL when absent; haserror: does the cell have one? */
char *errorpart(struct store *s, const char *cellid, const char *part, size_t *len);
int haserror(struct store *s, const char *cellid);
/* the path a run entry of key has when it is kept on disk (a folder, or
 * a packed file of an older cache), and the folder of a cell's last
 * error: for tests and tools; read entries with entrypart */
char *runpath(struct store *s, hash key);
char *errorpath(struct store *s, const char *cellid);
/* The remote cache (store/remote.h) moves run entries as blobs; these two
 * are all it knows of the layout. packrun: the run entry of key as one blob
 * in the packed format (every part: output, transcript, prompt, meta.json,
 * request.json, ...), and when its artifacts/ folder is not empty that
 * folder as a second blob (store/archive.h) in *artifacts (else NULL);
 * NULL when there is no whole entry. An entry with an empty artifacts/
 * folder comes back as one without (packed, like a model call's). */
char *packrun(struct store *s, hash key, size_t *len, char **artifacts, size_t *alen);
/* store a blob of packrun (and its artifacts blob, or NULL) as the run
 * entry of key, atomically through commitrun or commitpacked, first writer
 * wins; its record comes from its meta.json, whose output_hash must be the
 * hash of its output. 0 stored (or already there), -1 and *err when the
 * blob is not a whole entry or cannot be written */
int unpackrun(struct store *s, hash key, const char *blob, size_t len, const char *artifacts, size_t alen,
              char **err);
/* Batches: storebatch(s, 1) holds the inline entries stored from then on
 * (commitrun, commitentry, unpackrun; not with replace) in memory instead
 * of writing each in its own transaction; a held entry is not visible to
 * other processes yet, and this process's lookups of it (findrun,
 * entrypart, packrun, ...) commit the batch first. The run lock of a held
 * entry's key is kept until the commit (unlockrun defers it), so another
 * process never starts a run whose result is only held here.
 * storecommitbatch writes the held ones in one transaction (synced with
 * the others: storesync): a kill -9 before leaves none of them, and first
 * writer wins per key as one at a time. 0, or -1 with a warning when the
 * transaction failed: none was written (the cells run here). storebatch(s,
 * 0) commits and ends the batch; closestore commits too. Entries that are
 * folders are stored at once, as outside a batch. The scheduler commits
 * its batch when the loop has nothing else ready, at the latest 0.1 s
 * after the first result it holds (run.c: BATCH_WAIT); the watch, the
 * cells that finish in one step of the loop; the remote cache, the
 * entries it fetches. A commit also writes what was queued (grades, cell
 * records, uses) in the same transaction. */
void storebatch(struct store *s, int on);
int storecommitbatch(struct store *s);
/* the inline entries held in the batch, and in *bytes their size */
size_t storebatched(const struct store *s, size_t *bytes);
/* store a grade: in the index, and when durable (an expensive grader: a
 * script or a judge) also as a file, which survives the loss of index rows
 * not yet committed when a run is killed; a lost in-process grade is simply
 * computed again */
int commitgrade(struct store *s, hash key, double score, const char *reason, int durable);
/* commitgrade for a command grader, keeping what it printed on stderr
 * in its grade file (after the score and a one-line reason) */
int commitgradelog(struct store *s, hash key, double score, const char *reason, const char *log);
/* what a grader printed on stderr with the grade of key, or NULL */
char *gradelog(struct store *s, hash key);
/* keep a failed attempt as the cell's last error (replacing the previous) */
void keeperror(struct store *s, const char *cellid, const char *tmp);
/* Run entries stored inline are each committed in a transaction of their
 * own (or a batch's), so a kill -9 loses none that was committed; but not
 * each commit waits for the disk, which would cost a sync per model call
 * (10,000 of them in 2.5 s: the disk, not the network, set the pace). The
 * WAL is synced when SYNC_EVERY seconds have passed since the first
 * unsynced commit, at the next commit, and by storesync: after a run or a
 * watch update, and at closestore, which waits for it. The sync runs in a
 * thread of the store's own, so the loop goes on meanwhile. A power cut
 * may lose the results of the last moments (they run again), never
 * consistency. */
#define SYNC_EVERY 0.1
void storesync(struct store *s);
/* commit the index writes gathered so far, in one transaction (they are
 * also committed when many have gathered, and at closestore) */
void storeflush(struct store *s);
/* commit, and end the read snapshot the lookups share: later lookups see
 * what other processes (shards, a job array's tasks) committed since */
void storeresync(struct store *s);
/* the results' generation (db.h: meta's 'results'), counted up by every
 * change to runs, grades and entries by any process; -1 without an index.
 * Read in the lookups' read transaction, so what they find is of it or
 * newer */
long long storeresults(struct store *s);
/* follow the results generation from results (read by storeresults):
 * each transaction of this store that writes results checks that the
 * generation is still the one its last commit left (no other process
 * wrote between) and moves it on by its own writes. storemine: the
 * generation now when every change since results was this store's and
 * every write it tried was committed, else -1 */
void storefollow(struct store *s, long long results);
long long storemine(struct store *s);
/* the no-op record of key (plan/noop.h), when one was made at the results
 * generation results today (UTC): 0 and *body (malloc'd), else -1 */
int storenoopget(struct store *s, hash key, long long results, void **body, size_t *len);
/* key's no-op record whatever it was made at, in a read transaction of
 * its own (a long-lived watch holds none open); 0 and *body, else -1 */
int storenoopbody(struct store *s, hash key, void **body, size_t *len);
/* keep body as key's no-op record, unless the results changed since
 * generation results (then nothing is written: -1); the records of older
 * generations are dropped in the same transaction */
int storenoopput(struct store *s, hash key, long long results, const void *body, size_t len);
/* the same, and a second record (key2, body2) in the same transaction */
int storenoopput2(struct store *s, hash key, long long results, const void *body, size_t len, hash key2,
                  const void *body2, size_t len2);
struct gcopts {
	int dryrun;        /* change nothing: count (and list) what would go */
	double keep;       /* keep unreferenced entries used within this many
	                    * seconds; < 0: remove every unreferenced entry */
	FILE *list;        /* when set, one line per entry removed: PATH BYTES */
};

struct gcstats {
	long entries;      /* entries removed (or that would be) */
	long long bytes;   /* their size */
	long kept;         /* unreferenced entries kept as recently used */
};

/* drop the run and grade entries that are not in liveruns/livegrades (and
 * not kept by o->keep), atomically per entry, and delete their rows (and
 * those of the cells that used them) in one transaction; also sweeps what
 * killed processes left behind (in tmp/, grades/, errors/). NULL live
 * sets: remove nothing. o NULL: keep < 0.
 * Returns the entries removed (st gets the details), or -1 with *err when
 * the cache cannot be written (read-only, permissions). */
long gcstore(struct store *s, struct htab *liveruns, struct htab *livegrades, const struct gcopts *o,
             struct gcstats *st, char **err);
void closestore(struct store *s);

#endif
