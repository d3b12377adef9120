/* inputs: a result is stored only under the key of the inputs that were
 * executed.
 *
 * Keys are computed when a cell is planned; the agent (or a grader script)
 * reads its files later. A file edited in between would store the new
 * code's output under the old key, and undoing the edit would serve it as
 * a valid cached result. So the files a process reads while it runs (the
 * agent's deps, which hold its script and the files its command names; a
 * command grader's files) are checked twice, by their stat data (size,
 * mtime and ctime in ns, inode, device):
 *   - when the cell starts: each must still hold the content its hash was
 *     taken from (the state module remembers the stat data of each hash;
 *     only a file whose stat data changed is read again, so a touch is
 *     harmless); if not, the cell is an error, "changed since the cell was
 *     planned; not run" (a rerun plans it with the new contents);
 *   - when it ends: each must still have the stat data seen at the start;
 *     if not, the result is not stored and the cell is an error. Here
 *     the same content is not enough: an edit undone while the agent ran
 *     may have been read by it.
 * A file added where a deps glob or folder covers it is a new input the
 * plan did not hash: the folders the deps looked into are stamped too, and
 * when one changed (at the start: since a walk last found nothing new;
 * at the end: since the start) the deps are walked again, and a file they
 * yield that is not a planned input is the same error. A folder changed
 * only by what the walk skips (__pycache__, editors' droppings, ignored
 * files) costs a walk, not the result. A folder whose stat data changed
 * while the cell ran but whose entries (names and inodes) are the ones it
 * had at the start had a file come and go (or was touched): the agent may
 * have read that file, which no walk can find any more, so that is an
 * error too.
 * What is in memory when a cell starts needs no check at the end: the
 * rendered prompt, the system prompt, a judge's rubric, the task's fields
 * (loadtask checks they are what was hashed) and a folder task's snapshot
 * (snapshottask checks its copy). */
#ifndef INPUTS_H
#define INPUTS_H

#include "plan/plan.h"
#include "store/state.h"
#include "load/glob.h"

struct inputset {
	struct inputfile {
		char *path;
		struct stamp st;
	} *v;
	size_t n, cap;
	/* the deps globs (none: no folder to check), the folders they looked
	 * into with their stat data at the start, the cache folder (never
	 * walked) */
	struct strv globs, dirs;
	struct stamp *dirst;
	hash *dirls; /* each folder's names at the start (see listdirs) */
	char *cache;
};

/* the files a cell's agent may read, with their stat data now: 0, or -1
 * and *err naming the first whose content changed since its hash was
 * taken (or
 * whose in-memory copy, a model agent's system prompt, is not what was
 * hashed) */
int runinputs(struct state *st, const struct evalfile *ef, const struct cell *c, struct inputset *out, char **err);
/* the same for the files of the cell's grader */
int gradeinputs(struct state *st, const struct evalfile *ef, const struct cell *c, struct inputset *out, char **err);
/* the same for the files of one grader (of a suite with several) */
int graderinputs(struct state *st, const struct evalfile *ef, const struct grader *g, struct inputset *out, char **err);
/* 0 when the grader gi's files hold (by graderinputs' check) what the
 * cell's grade key was made with; else -1 and *err: another suite's re-key
 * (watch) may have hashed them anew since */
int graderunchanged(struct plan *p, const struct cell *c, size_t gi, char **err);
/* 0 when every file still has the stat data taken by runinputs or
 * gradeinputs; -1 and *err naming the first that changed ("while WHAT
 * ran") */
int inputsunchanged(const struct inputset *in, const char *what, char **err);
void freeinputs(struct inputset *in);

#endif
