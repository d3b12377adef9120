/* store: the cache folder. Content-addressed and append-only:
 *
 *   runs/KK/KEY/     one run entry per run key: output, transcript, prompt,
 *                    meta.json and the agent's artifacts/ (EVAL_OUT_DIR)
 *   grades/KK/KEY    one grade per grade key (score and reason)
 *   errors/ID/       the last failed attempt of a cell, for `log`; never
 *                    used as a result
 *   log              the index: one checksummed line per run, grade and
 *                    cell record, appended as work finishes
 *   tmp/             entries being written
 *
 * Entries are immutable and appear atomically: written in tmp/, then
 * renamed into place, so a kill -9 at any moment leaves either no entry or a
 * whole one. The log is only an index of what is in runs/ and grades/: a
 * torn or corrupt line is skipped, and a key missing from it is looked up
 * on disk. Two processes may share a cache: the first rename wins, and log
 * lines are single O_APPEND writes. */
#ifndef STORE_H
#define STORE_H

#include "hash.h"

/* the input hashes a cell remembers, so `explain` can say what changed */
enum { PART_AGENT, PART_PROMPT, PART_TASK, PART_DEPS, NPARTS };

struct runrec {
	hash out;          /* hash of the output */
	int exitcode;
	double seconds;
};

struct graderec {
	double score;
	char *reason;
};

struct cellrec {
	hash run, grade;
	hash parts[NPARTS];
	int iteration;
};

struct store;

/* open (creating) the cache folder; NULL and *err when it cannot be used */
struct store *openstore(const char *dir, char **err);
/* the run entry of key, or NULL */
const struct runrec *findrun(struct store *s, hash key);
/* the grade of key, or NULL */
const struct graderec *findgrade(struct store *s, hash key);
/* what the cell last resolved to, or NULL */
const struct cellrec *findcell(struct store *s, const char *id);
/* record what the cell resolved to now (appends only when it changed) */
void setcell(struct store *s, const char *id, const struct cellrec *r);
/* a fresh private folder under tmp/ holding an empty artifacts/ */
char *newentry(struct store *s);
/* move a finished entry into place under key and index it; if an entry
 * for key exists (another process stored it first), it is kept and tmp is
 * removed, unless replace (-B: a fresh measurement was asked for) */
int commitrun(struct store *s, hash key, const char *tmp, const struct runrec *r, int replace);
/* store a grade */
int commitgrade(struct store *s, hash key, double score, const char *reason);
/* keep a failed attempt as the cell's last error (replacing the previous) */
void keeperror(struct store *s, const char *cellid, const char *tmp);
/* the folder of a run entry, or of a cell's last error */
char *runpath(struct store *s, hash key);
char *errorpath(struct store *s, const char *cellid);
/* rewrite the log keeping only the live runs and grades (NULL: all), and
 * delete entries not in them; returns the number of entries deleted */
long gcstore(struct store *s, struct htab *liveruns, struct htab *livegrades);
void closestore(struct store *s);

#endif
