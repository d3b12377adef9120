/* shard: slices by a stable hash of the cell id, balanced; --shard parsing */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"
#include "plan/shard.h"
#include "run/slurm.h"
#include "load/evalfile.h"
#include "store/store.h"
#include "core/util.h"

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

TEST(slurm_executor_of_a_suite)
{
	struct evalfile ef = {.executor = EXEC_SLURM};
	struct suite cmd = {.agent = {.kind = AGENT_COMMAND}}, model = {.agent = {.kind = AGENT_HTTP}};
	struct suite local = {.executor = EXEC_LOCAL}, there = {.executor = EXEC_SLURM, .agent = {.kind = AGENT_HTTP}};

	CHECK_INT(suiteexecutor(&ef, &cmd, NULL), EXEC_SLURM);
	CHECK_INT(suiteexecutor(&ef, &model, NULL), EXEC_LOCAL); /* a model stays here by default */
	CHECK_INT(suiteexecutor(&ef, &there, NULL), EXEC_SLURM); /* unless its suite says slurm */
	CHECK_INT(suiteexecutor(&ef, &local, NULL), EXEC_LOCAL);
	CHECK_INT(suiteexecutor(&ef, &there, "local"), EXEC_LOCAL); /* --executor local: everything here */
	ef.executor = EXEC_DEFAULT;
	CHECK_INT(suiteexecutor(&ef, &cmd, NULL), EXEC_LOCAL);
	CHECK_INT(suiteexecutor(&ef, &cmd, "slurm"), EXEC_SLURM);
	CHECK_INT(suiteexecutor(&ef, &model, "slurm"), EXEC_LOCAL);
	CHECK_INT(suiteexecutor(&ef, &local, "slurm"), EXEC_LOCAL);
}

/* the Evalfile's executor and slurm keys: loaded, and checked with
 * FILE:LINE:COL */
static struct evalfile *loadtext(const char *text, char **err)
{
	put("Evalfile", text);
	return loadevalfile("Evalfile", err);
}

TEST(slurm_evalfile_keys)
{
	char *err = NULL;
	struct evalfile *ef;

	intmpdir();
	put("tasks/t1.json", "{\"input\": \"1\", \"expected\": \"1\"}\n");
	put("agent.sh", "#!/bin/sh\ncat\n");
	ef = loadtext("executor: slurm\n"
	              "slurm: {partition: gpu, max_parallel: 4, time: \"1:00:00\", sbatch_args: [--mem=2G], shards: 8}\n"
	              "suites:\n"
	              "  a: {tasks: tasks/*.json, agent: {command: ./agent.sh}}\n"
	              "  b: {tasks: tasks/*.json, agent: {command: ./agent.sh}, executor: local}\n",
	              &err);
	REQUIRE(ef);
	CHECK_INT(ef->executor, EXEC_SLURM);
	CHECK_STR(ef->slurm.partition, "gpu");
	CHECK_INT(ef->slurm.max_parallel, 4);
	CHECK_STR(ef->slurm.time, "1:00:00");
	CHECK_INT(ef->slurm.sbatch_args.n, 1);
	CHECK_INT(ef->slurm.shards, 8);
	CHECK_INT(ef->suites[0].executor, EXEC_DEFAULT);
	CHECK_INT(ef->suites[1].executor, EXEC_LOCAL);
	freeevalfile(ef);

	static const struct {
		const char *text, *where, *what;
	} bad[] = {
		{"executor: cloud\nsuites: {a: {tasks: tasks/*.json, agent: {command: ./agent.sh}}}\n", "Evalfile:1:11",
		 "expected local or slurm"},
		{"slurm: {nodes: 3}\nsuites: {a: {tasks: tasks/*.json, agent: {command: ./agent.sh}}}\n", "Evalfile:1:9",
		 "unknown key 'nodes'"},
		{"slurm: {sbatch_args: --mem=2G}\nsuites: {a: {tasks: tasks/*.json, agent: {command: ./agent.sh}}}\n",
		 "Evalfile:1:22", "expected a list"},
		{"slurm: {sbatch_args: [--array=1-3]}\nsuites: {a: {tasks: tasks/*.json, agent: {command: ./agent.sh}}}\n",
		 "Evalfile:1:23", "evalmake's to set"},
		{"slurm: {shards: 0}\nsuites: {a: {tasks: tasks/*.json, agent: {command: ./agent.sh}}}\n", "Evalfile:1:17",
		 "from 1"},
		{"suites: {a: {tasks: tasks/*.json, agent: {command: ./agent.sh}, executor: k8s}}\n", "Evalfile:1:",
		 "suites.a.executor: expected local or slurm"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		ef = loadtext(bad[i].text, &err);
		CHECK(!ef);
		freeevalfile(ef);
		if (err) {
			CHECK_HAS(err, bad[i].where);
			CHECK_HAS(err, bad[i].what);
		}
		free(err);
	}
}

TEST(slurm_shards_capped)
{
	struct slurmconf sc = {0};

	CHECK_INT(slurmshards(&sc, 40), 40);
	CHECK_INT(slurmshards(&sc, 5000), 1000); /* SLURM's default MaxArraySize */
	sc.shards = 4;
	CHECK_INT(slurmshards(&sc, 40), 4);
	CHECK_INT(slurmshards(&sc, 3), 3);
}

/* shards on several hosts share one cache folder: a process sweeps tmp/
 * of its own host's dead processes, never another host's entries being
 * written (their pids mean nothing here) */
TEST(shard_tmp_of_another_host_kept)
{
	char host[72] = "", *err = NULL;

	intmpdir();
	gethostname(host, sizeof(host) - 1);
	for (char *c = host; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-')
			*c = '_';
	char *mine = xasprintf("cache/tmp/999999999-%s.0", host);
	put("cache/tmp/999999999-some-other-host.0/prompt", "x");
	put("cache/tmp/999999999.3/prompt", "x"); /* a name from before hosts */
	put(mine, "x");
	struct store *s = openstore("cache", &err);
	REQUIRE(s);
	CHECK(access("cache/tmp/999999999-some-other-host.0/prompt", F_OK) == 0);
	CHECK(access("cache/tmp/999999999.3", F_OK) < 0);
	CHECK(access(mine, F_OK) < 0);
	/* and its own names carry its host */
	char *e = newentry(s, 0), *want = xasprintf("-%s.", host);
	CHECK_HAS(e, want);
	free(e);
	free(want);
	free(mine);
	closestore(s);
}
