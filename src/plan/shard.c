/* shard: see shard.h. */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "plan/shard.h"
#include "core/util.h"

#define MAX_SHARDS 1000000

/* a whole number from lo to hi, or -1 */
static long number(const char *s, long lo, long hi)
{
	char *end;
	long v;

	if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9)
		return -1;
	v = strtol(s, &end, 10);
	return v < lo || v > hi ? -1 : v;
}

/* the shard from the scheduler's environment */
static int autoshard(int shards, struct shard *sh, char **err)
{
	const char *id = getenv("SLURM_ARRAY_TASK_ID"), *ix = getenv("JOB_COMPLETION_INDEX");

	if (id && *id) {
		const char *min = getenv("SLURM_ARRAY_TASK_MIN"), *count = getenv("SLURM_ARRAY_TASK_COUNT");
		long i = number(id, 0, 100000000), m = min && *min ? number(min, 0, 100000000) : 1;
		long n = count && *count ? number(count, 1, MAX_SHARDS) : shards;
		if (i < 0 || m < 0 || (count && *count && n < 0)) {
			*err = xasprintf("--shard auto: SLURM_ARRAY_TASK_ID=%s, SLURM_ARRAY_TASK_MIN=%s, SLURM_ARRAY_TASK_COUNT=%s: "
			                 "expected whole numbers", id, min ? min : "(unset)", count ? count : "(unset)");
			return -1;
		}
		if (n < 1) {
			*err = xstrdup("--shard auto: SLURM_ARRAY_TASK_COUNT is not set: give the number of shards with --shards N");
			return -1;
		}
		if (shards && shards != n) {
			*err = xasprintf("--shard auto: --shards %d, but the job array has %ld tasks (SLURM_ARRAY_TASK_COUNT)",
			                 shards, n);
			return -1;
		}
		if (i - m + 1 < 1 || i - m + 1 > n) {
			*err = xasprintf("--shard auto: SLURM_ARRAY_TASK_ID=%s is not one of the %ld tasks from "
			                 "SLURM_ARRAY_TASK_MIN=%ld (an array with gaps: use --shard K/N)", id, n, m);
			return -1;
		}
		sh->k = (int)(i - m + 1);
		sh->n = (int)n;
		return 0;
	}
	if (ix && *ix) {
		long i = number(ix, 0, MAX_SHARDS - 1);
		if (!shards) {
			*err = xasprintf("--shard auto: JOB_COMPLETION_INDEX=%s: give the number of shards (the Job's "
			                 "completions) with --shards N", ix);
			return -1;
		}
		if (i < 0 || i >= shards) {
			*err = xasprintf("--shard auto: JOB_COMPLETION_INDEX=%s: expected 0 to %d (--shards %d)", ix, shards - 1,
			                 shards);
			return -1;
		}
		sh->k = (int)i + 1;
		sh->n = shards;
		return 0;
	}
	*err = xstrdup("--shard auto: neither SLURM_ARRAY_TASK_ID (a SLURM job array) nor JOB_COMPLETION_INDEX (a "
	               "Kubernetes Indexed Job) is set: use --shard K/N");
	return -1;
}

int parseshard(const char *spec, int shards, struct shard *sh, char **err)
{
	*err = NULL;
	sh->k = sh->n = 0;
	if (!strcmp(spec, "auto"))
		return autoshard(shards, sh, err);
	const char *slash = strchr(spec, '/');
	char *k = slash ? xstrndup(spec, (size_t)(slash - spec)) : NULL;
	long kv = k ? number(k, 1, MAX_SHARDS) : -1, nv = slash ? number(slash + 1, 1, MAX_SHARDS) : -1;
	free(k);
	if (kv < 0 || nv < 0 || kv > nv) {
		*err = xasprintf("--shard: expected K/N with 1 <= K <= N (shard K of N, counted from 1), or auto; got '%s'",
		                 spec);
		return -1;
	}
	if (shards && shards != nv) {
		*err = xasprintf("--shard %s and --shards %d disagree", spec, shards);
		return -1;
	}
	sh->k = (int)kv;
	sh->n = (int)nv;
	return 0;
}

unsigned cellslice(const char *id, unsigned n)
{
	return (unsigned)(XXH3_64bits(id, strlen(id)) % n);
}

int inshard(const struct shard *sh, const char *id)
{
	return sh->n <= 1 || cellslice(id, (unsigned)sh->n) == (unsigned)(sh->k - 1);
}

size_t applyshard(struct plan *p, const struct shard *sh, size_t *total)
{
	size_t mine = 0;

	*total = 0;
	for (size_t i = 0; i < p->ncells; i++) {
		struct cell *c = &p->cells[i];
		if (c->need == NEED_NOTHING)
			continue;
		++*total;
		if (inshard(sh, c->id)) {
			mine++;
			continue;
		}
		c->need = NEED_NOTHING;
		c->status = CELL_PENDING;
		c->scored = 0;
		c->othershard = 1;
	}
	return mine;
}

char *shardtitle(const struct shard *sh, size_t mine, size_t total)
{
	return xasprintf("shard %d/%d (a partial view): %zu of the %zu cells that need work are this shard's; "
	                 "the other shards' are pending here", sh->k, sh->n, mine, total);
}
