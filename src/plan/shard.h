/* shard: split a plan's work into N disjoint slices, deterministically.
 *
 * A cell belongs to slice hash(cell id) mod N (xxHash3 of "SUITE/TASK#K"),
 * so a slice depends on the cell's name alone: adding a task, or a cell
 * getting cached, never moves another cell to another slice, and N
 * processes given K = 1..N cover every cell exactly once, with no
 * coordination between them. The hash spreads ids evenly: with many cells
 * each slice holds close to 1/N of them (tests/unit/test_shard.c checks).
 *
 * A shard runs the cells of its slice that need work (a run or a grade);
 * every other cell that needs work is left to the other shards: pending
 * here, neither run nor an error. The final run over the shared cache
 * sees them all and reports the whole. */
#ifndef SHARD_H
#define SHARD_H

#include <stddef.h>

#include "plan/plan.h"

struct shard {
	int k, n;                 /* slice k of n, 1-based; n 0: not sharded */
};

/* parse --shard: "K/N" (1 <= K <= N), or "auto": from SLURM_ARRAY_TASK_ID
 * (less SLURM_ARRAY_TASK_MIN, of SLURM_ARRAY_TASK_COUNT or shards) or
 * from JOB_COMPLETION_INDEX (0-based, Kubernetes, of shards). shards is
 * --shards N, 0 when not given. -1 and *err (a usage error) when spec, or
 * the environment auto reads, is not one. */
int parseshard(const char *spec, int shards, struct shard *sh, char **err);
/* the slice of a cell named id among n, 0 .. n-1 */
unsigned cellslice(const char *id, unsigned n);
/* is the cell in the shard's slice? (always, when not sharded) */
int inshard(const struct shard *sh, const char *id);
/* leave the cells outside the shard's slice that need work to the other
 * shards (their need becomes NEED_NOTHING, they stay CELL_PENDING, with
 * othershard set); returns how many cells needing work are this shard's,
 * and in *total how many need work in all */
size_t applyshard(struct plan *p, const struct shard *sh, size_t *total);
/* the line over a shard's table: "shard 2/4 (a partial view): ..." */
char *shardtitle(const struct shard *sh, size_t mine, size_t total);

#endif
