/* shard: slices by a stable hash of the cell id, balanced; --shard parsing */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

#include "test.h"
#include "plan/shard.h"

TEST(shard_slices_balanced)
{
	static const unsigned ns[] = {2, 3, 4, 7, 16};
	char id[64];

	for (size_t t = 0; t < sizeof(ns) / sizeof(ns[0]); t++) {
		unsigned n = ns[t], count[16] = {0};
		for (int i = 0; i < 20000; i++) {
			snprintf(id, sizeof(id), "suite/task%05d#%d", i / 5, i % 5 + 1);
			count[cellslice(id, n)]++;
		}
		/* 20000/n each, within 6% (binomial spread is ~1-3% here) */
		for (unsigned k = 0; k < n; k++)
			CHECK(count[k] > 20000 / n * 94 / 100 && count[k] < 20000 / n * 106 / 100);
	}
}

TEST(shard_slice_is_the_id_alone)
{
	/* the same id, the same slice: no dependence on position or on
	 * what else is planned */
	CHECK_INT(cellslice("arith/t01#1", 7), cellslice("arith/t01#1", 7));
	CHECK_INT(cellslice("x", 1), 0);
	struct shard one = {1, 1};
	CHECK(inshard(&one, "anything"));
}

TEST(shard_parse)
{
	struct shard sh;
	char *err;

	REQUIRE(parseshard("2/4", 0, &sh, &err) == 0);
	CHECK_INT(sh.k, 2);
	CHECK_INT(sh.n, 4);
	static const char *const bad[] = {"0/4", "5/4", "4", "/4", "2/", "a/b", "2/4x", "-1/4", "1/0", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(parseshard(bad[i], 0, &sh, &err) < 0);
		if (err)
			CHECK_HAS(err, "--shard");
		free(err);
	}
	CHECK(parseshard("2/4", 3, &sh, &err) < 0);
	free(err);
	unsetenv("SLURM_ARRAY_TASK_ID");
	setenv("JOB_COMPLETION_INDEX", "0", 1);
	REQUIRE(parseshard("auto", 3, &sh, &err) == 0);
	CHECK_INT(sh.k, 1);
	CHECK_INT(sh.n, 3);
	CHECK(parseshard("auto", 0, &sh, &err) < 0); /* no --shards */
	free(err);
	setenv("JOB_COMPLETION_INDEX", "3", 1);
	CHECK(parseshard("auto", 3, &sh, &err) < 0);
	free(err);
	unsetenv("JOB_COMPLETION_INDEX");
	setenv("SLURM_ARRAY_TASK_ID", "5", 1);
	setenv("SLURM_ARRAY_TASK_MIN", "4", 1);
	setenv("SLURM_ARRAY_TASK_COUNT", "3", 1);
	REQUIRE(parseshard("auto", 0, &sh, &err) == 0);
	CHECK_INT(sh.k, 2);
	CHECK_INT(sh.n, 3);
	setenv("SLURM_ARRAY_TASK_ID", "9", 1);
	CHECK(parseshard("auto", 0, &sh, &err) < 0);
	free(err);
	unsetenv("SLURM_ARRAY_TASK_ID");
	unsetenv("SLURM_ARRAY_TASK_MIN");
	unsetenv("SLURM_ARRAY_TASK_COUNT");
	CHECK(parseshard("auto", 2, &sh, &err) < 0);
	free(err);
}
