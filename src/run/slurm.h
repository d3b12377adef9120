/* slurm: the cells of some suites run as one SLURM job array.
 *
 * evalmake plans as always, then hands the cells that need work in suites
 * whose executor is slurm to one `sbatch --array=1-N` of evalmake itself:
 * array task K runs `evalmake --shard K/N --executor local` with the same
 * Evalfile, options and targets, in the same folder, into the same cache
 * (a shared folder, or the remote cache), so it runs exactly the cells of
 * slice K (plan/shard.h). The cells of local suites run here meanwhile.
 * While the array runs, progress is the count of cells whose entry has
 * landed in the cache; when squeue shows none of the job left, the plan's
 * sent cells take their results from the cache, and a cell without one is
 * an error naming its shard's log (CACHE/slurm/JOBID_K.log). Ctrl-C
 * cancels the job (scancel) and waits until squeue shows none of it.
 *
 * Every command is run from an argument vector, never through a shell;
 * the job script is fixed text that passes its arguments on with "$@".
 * Workload: a few squeue calls per poll (every 2 s), a stat per cell not
 * yet landed. */
#ifndef SLURM_H
#define SLURM_H

#include <stdio.h>

#include "core/loop.h"
#include "plan/plan.h"

/* the executor of a suite's cells: --executor (override, NULL when not
 * given) local wins; then the suite's own executor:; then the top level's
 * (or --executor slurm), except for a model behind an API, which stays
 * local unless its suite says slurm */
enum executor suiteexecutor(const struct evalfile *ef, const struct suite *s, const char *override);

/* how many cells of suites whose executor is slurm need a run */
size_t slurmruns(const struct plan *p, const char *override);
/* the array's tasks for nrun cells: nrun, at most sc->shards (1000 when
 * not set: SLURM's default MaxArraySize allows no more) */
size_t slurmshards(const struct slurmconf *sc, size_t nrun);
/* when a cell of a slurm suite needs a run: leave every cell of slurm
 * suites that needs work to the array (othershard 2 when it needs a run,
 * 1 a grade; need NEED_NOTHING) and return how many need a run; else 0,
 * and nothing changes (grades alone are done here) */
size_t leavetoslurm(struct plan *p, const char *override);

struct slurmjob {
	const struct slurmconf *conf;
	char *const *args;        /* each task's evalmake arguments after --shard
	                           * and --executor: options, then targets
	                           * (NULL-terminated) */
	const char *dir;          /* where the tasks run: the Evalfile's folder */
	const char *logdir;       /* the tasks' output files (absolute; made) */
	int progress;             /* rewrite a status line on stderr (a terminal) */
	int silent;
	const char *remote;       /* --remote URL: given to the tasks as
	                           * EVALMAKE_REMOTE in sbatch's environment
	                           * only; NULL: none */
};

struct slurmarray;

/* submit the array for the plan's sent cells (nrun of them need a run):
 * N = nrun, at most conf->shards (1000 when not set: SLURM's default
 * MaxArraySize allows no more). NULL and *err when sbatch is missing
 * or refuses (nothing was submitted). */
struct slurmarray *slurmsubmit(struct plan *p, const struct slurmjob *j, size_t nrun, char **err);
/* wait until squeue shows none of the job, showing progress; when the
 * loop is (or gets) interrupted, scancel the job and wait (bounded) until
 * none of it is left: EXIT_INTR. 0 when the array ended. */
int slurmwait(struct slurmarray *a, struct loop *l);
/* give the sent cells their results from the cache (status CELL_RAN), or
 * NEED_GRADE when only the grade is missing (grade it here); a cell
 * with no result is an error naming its shard's log, and a line to f.
 * Returns the cells in error. */
size_t slurmcollect(struct slurmarray *a, FILE *f);
/* the job's id ("1234") */
const char *slurmjobid(const struct slurmarray *a);
void freeslurm(struct slurmarray *a);

#endif
