/* store: the cache folder. Content-addressed and append-only:
 *
 *   runs/KK/KEY/     one run entry per run key: output, transcript, prompt,
 *                    meta.json and the agent's artifacts/ (EVAL_OUT_DIR);
 *                    an entry without artifacts (a model call) is packed
 *                    into one file runs/KK/KEY holding the same parts,
 *                    since a file per part costs more than the call
 *   grades/KK/KEY    a grade per grade key of a script or judge grader:
 *                    score, reason, then what a script printed on stderr
 *   errors/ID/       the last failed attempt of a cell, for `log`; never
 *                    used as a result
 *   log              the index: one checksummed line per run and grade,
 *                    appended as work finishes
 *   cells            each cell's inputs when it last ran (for explain and
 *                    -n), the same kind of lines, read only when asked for
 *   tmp/             entries being written
 *
 * Entries are immutable and appear atomically: written in tmp/, then
 * renamed into place, so a kill -9 at any moment leaves either no entry or a
 * whole one. The log is only an index of what is in runs/ and grades/: a
 * torn or corrupt line is skipped, and a key missing from it is looked up
 * on disk. Two processes may share a cache: the first rename wins, and log
 * lines are appended in batches of whole lines with O_APPEND. */
#ifndef STORE_H
#define STORE_H

#include "core/hash.h"

/* the input hashes a cell remembers, so `explain` can say what changed
 * (PART_ENV: the declared env_inputs' values, zero when none are) */
enum { PART_AGENT, PART_PROMPT, PART_TASK, PART_DEPS, PART_ENV, NPARTS };

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
/* move a finished entry into place under key and index it; if an entry
 * for key exists (another process stored it first), it is kept and tmp is
 * removed, unless replace (-B: a fresh measurement was asked for) */
int commitrun(struct store *s, hash key, const char *tmp, const struct runrec *r, int replace);
struct part {
	const char *name;
	const char *data;
	size_t len;
};

/* store an entry without artifacts as one packed file, atomically, first
 * writer wins (unless replace); indexes it like commitrun */
int commitpacked(struct store *s, hash key, const struct part *parts, size_t n, const struct runrec *r, int replace);
/* one part ("output", "transcript", "prompt", "meta.json", ...) of an entry,
 * given its path (runpath, errorpath): a folder or a packed file; NULL
 * when absent. len may be NULL. */
char *readpart(const char *entry, const char *part, size_t *len);
/* store a grade: in the log, and when durable (an expensive grader: a
 * script or a judge) also as a file, which survives the loss of log lines
 * not yet written when a run is killed; a lost in-process grade is simply
 * computed again */
int commitgrade(struct store *s, hash key, double score, const char *reason, int durable);
/* commitgrade for a command grader, keeping what it printed on stderr
 * in its grade file (after the score and a one-line reason) */
int commitgradelog(struct store *s, hash key, double score, const char *reason, const char *log);
/* what a grader printed on stderr with the grade of key, or NULL */
char *gradelog(struct store *s, hash key);
/* keep a failed attempt as the cell's last error (replacing the previous) */
void keeperror(struct store *s, const char *cellid, const char *tmp);
/* the folder of a run entry, or of a cell's last error */
char *runpath(struct store *s, hash key);
char *errorpath(struct store *s, const char *cellid);
/* write the log lines gathered so far (they are also written when many
 * have gathered, and at closestore) */
void storeflush(struct store *s);
/* rewrite the log keeping only the live runs and grades (NULL: all), and
 * delete entries not in them; returns the number of entries deleted */
long gcstore(struct store *s, struct htab *liveruns, struct htab *livegrades);
void closestore(struct store *s);

#endif
