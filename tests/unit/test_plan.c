/* plan: cells, their order, their keys, and what each needs. Each test
 * builds a small project in a temp folder. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/plan.h"
#include "test.h"
#include "core/util.h"

struct world {
	struct evalfile *ef;
	struct state *st;
	struct store *store;
};

static const char *const evalfile = "suites:\n"
                                    "  arith:\n"
                                    "    tasks: tasks/*.json\n"
                                    "    prompt: prompt.md\n"
                                    "    iterations: 2\n"
                                    "    agent: {command: ./agent.sh, deps: [lib/*.py]}\n";

static void project(const char *ef)
{
	intmpdir();
	put("tasks/t1.json", "{\"input\": \"1+1\", \"expected\": \"2\"}");
	put("tasks/t2.json", "{\"input\": \"2+2\", \"expected\": \"4\"}");
	put("tasks/t3.json", "{\"input\": \"3+3\", \"expected\": \"6\"}");
	put("prompt.md", "Compute {{input}}\n");
	put("agent.sh", "#!/bin/sh\ncat\n");
	put("lib/helper.py", "x = 1\n");
	put("Evalfile", ef);
}

static int openworld(struct world *w)
{
	char *err = NULL;

	memset(w, 0, sizeof(*w));
	w->ef = loadevalfile("Evalfile", &err);
	if (!w->ef) {
		testfail(__FILE__, __LINE__, "loadevalfile: %s", err);
		free(err);
		return -1;
	}
	w->st = openstate("cache");
	w->store = openstore("cache", &err);
	if (!w->store) {
		testfail(__FILE__, __LINE__, "openstore: %s", err);
		free(err);
		return -1;
	}
	return 0;
}

static void closeworld(struct world *w)
{
	if (w->st) {
		savestate(w->st);
		closestate(w->st);
	}
	closestore(w->store);
	freeevalfile(w->ef);
	memset(w, 0, sizeof(*w));
}

/* plan the given targets (NULL-terminated; none: all) */
static struct plan *planv(struct world *w, const char *const *targets, char **err)
{
	struct planopts o = {0};
	int n = 0;

	while (targets && targets[n])
		n++;
	o.targets = (char **)targets;
	o.ntargets = n;
	return makeplan(w->ef, w->st, w->store, &o, err);
}

static struct plan *planall(struct world *w)
{
	char *err = NULL;
	struct plan *p = planv(w, NULL, &err);

	if (!p) {
		testfail(__FILE__, __LINE__, "makeplan: %s", err);
		free(err);
	}
	return p;
}

/* the run keys of a whole fresh plan, by cell id (order of the plan) */
struct keys {
	size_t n;
	char id[32][64];
	hash run[32];
};

static void keysof(struct world *w, struct keys *k)
{
	struct plan *p = planall(w);

	memset(k, 0, sizeof(*k));
	if (!p)
		return;
	for (size_t i = 0; i < p->ncells && i < 32; i++) {
		snprintf(k->id[i], sizeof(k->id[i]), "%s", p->cells[i].id);
		k->run[i] = p->cells[i].runkey;
	}
	k->n = p->ncells;
	freeplan(p);
}

static hash keyfor(const struct keys *k, const char *id)
{
	for (size_t i = 0; i < k->n; i++)
		if (!strcmp(k->id[i], id))
			return k->run[i];
	testfail(__FILE__, __LINE__, "no cell %s", id);
	return (hash){0, 0};
}

/* project, world, keys: all in one */
static void keysnow(struct keys *k)
{
	struct world w;

	if (openworld(&w) == 0)
		keysof(&w, k);
	closeworld(&w);
}

TEST(plan_fresh_store_needs_every_cell_iteration_major)
{
	struct world w;

	project(evalfile);
	REQUIRE(openworld(&w) == 0);
	struct plan *p = planall(&w);
	if (p) {
		static const char *const order[] = {"arith/t1#1", "arith/t2#1", "arith/t3#1",
		                                    "arith/t1#2", "arith/t2#2", "arith/t3#2"};
		CHECK_INT(p->ncells, 6);
		for (size_t i = 0; i < p->ncells && i < LEN(order); i++) {
			CHECK_STR(p->cells[i].id, order[i]);
			CHECK_INT(p->cells[i].need, NEED_RUN);
			CHECK_INT(p->cells[i].iteration, i < 3 ? 1 : 2);
			CHECK(p->cells[i].why != NULL);
		}
		CHECK_INT(p->nsp, 1);
		CHECK_INT(p->sp[0].ncells, 6);
		CHECK(findcellid(p, "arith/t2#2") == &p->cells[4]);
		CHECK(findcellid(p, "arith/t2#3") == NULL);
		freeplan(p);
	}
	closeworld(&w);
}

TEST(plan_iteration_major_across_suites_with_different_iterations)
{
	struct world w;

	project("suites:\n"
	        "  a:\n"
	        "    tasks: tasks/t1.json\n"
	        "    iterations: 3\n"
	        "    agent: {command: ./agent.sh}\n"
	        "  b:\n"
	        "    tasks: tasks/t2.json\n"
	        "    agent: {command: ./agent.sh}\n");
	REQUIRE(openworld(&w) == 0);
	struct plan *p = planall(&w);
	if (p) {
		static const char *const order[] = {"a/t1#1", "b/t2#1", "a/t1#2", "a/t1#3"};
		CHECK_INT(p->ncells, 4);
		for (size_t i = 0; i < p->ncells && i < LEN(order); i++)
			CHECK_STR(p->cells[i].id, order[i]);
		freeplan(p);
	}
	closeworld(&w);
}

TEST(plan_every_cell_has_its_own_run_key)
{
	struct keys k;

	project(evalfile);
	keysnow(&k);
	REQUIRE(k.n == 6);
	for (size_t i = 0; i < k.n; i++)
		for (size_t j = i + 1; j < k.n; j++)
			CHECK(!hasheq(k.run[i], k.run[j]));
}

TEST(plan_keys_are_stable)
{
	struct world w;
	struct keys a, b, c;

	project(evalfile);
	REQUIRE(openworld(&w) == 0);
	keysof(&w, &a);
	keysof(&w, &b); /* now with the memo and the stat cache warm */
	closeworld(&w);
	keysnow(&c);    /* after save and reopen */
	REQUIRE(a.n == 6 && b.n == 6 && c.n == 6);
	for (size_t i = 0; i < a.n; i++) {
		CHECK(hasheq(a.run[i], b.run[i]));
		CHECK(hasheq(a.run[i], c.run[i]));
	}
	/* and without any cache at all */
	rmtree("cache");
	keysnow(&c);
	for (size_t i = 0; i < a.n && i < c.n; i++)
		CHECK(hasheq(a.run[i], c.run[i]));
}

TEST(plan_changing_a_task_changes_only_its_keys)
{
	struct keys a, b;

	project(evalfile);
	keysnow(&a);
	put("tasks/t2.json", "{\"input\": \"2*2\", \"expected\": \"4\"}");
	keysnow(&b);
	REQUIRE(a.n == 6 && b.n == 6);
	for (size_t i = 0; i < a.n; i++) {
		CHECK_STR(a.id[i], b.id[i]);
		if (strstr(a.id[i], "/t2#"))
			CHECK(!hasheq(a.run[i], b.run[i]));
		else
			CHECK(hasheq(a.run[i], b.run[i]));
	}
}

TEST(plan_changing_the_prompt_changes_every_key)
{
	struct keys a, b;

	project(evalfile);
	keysnow(&a);
	put("prompt.md", "Please compute {{input}}\n");
	keysnow(&b);
	REQUIRE(a.n == 6 && b.n == 6);
	for (size_t i = 0; i < a.n; i++)
		CHECK(!hasheq(a.run[i], b.run[i]));
}

TEST(plan_prompt_change_that_renders_the_same_keeps_keys)
{
	struct keys a, b;

	project(evalfile);
	keysnow(&a);
	/* different template text, same rendered prompt */
	put("prompt.md", "Compute {{ input }}\n");
	keysnow(&b);
	REQUIRE(a.n == 6 && b.n == 6);
	for (size_t i = 0; i < a.n; i++)
		CHECK(hasheq(a.run[i], b.run[i]));
}

TEST(plan_changing_a_deps_file_changes_every_key)
{
	struct keys a, b;

	project(evalfile);
	keysnow(&a);
	put("lib/helper.py", "x = 2\n");
	keysnow(&b);
	REQUIRE(a.n == 6 && b.n == 6);
	for (size_t i = 0; i < a.n; i++)
		CHECK(!hasheq(a.run[i], b.run[i]));
}

TEST(plan_changing_agent_config_changes_every_key)
{
	struct keys a, b;

	project(evalfile);
	keysnow(&a);
	put("Evalfile", "suites:\n"
	                "  arith:\n"
	                "    tasks: tasks/*.json\n"
	                "    prompt: prompt.md\n"
	                "    iterations: 2\n"
	                "    agent: {command: ./agent.sh --fast, deps: [lib/*.py]}\n");
	keysnow(&b);
	REQUIRE(a.n == 6 && b.n == 6);
	for (size_t i = 0; i < a.n; i++)
		CHECK(!hasheq(a.run[i], b.run[i]));
}

TEST(plan_timeout_threshold_and_key_order_not_in_run_key)
{
	struct keys a, b;

	project(evalfile);
	keysnow(&a);
	put("Evalfile", "suites:\n"
	                "  arith:\n"
	                "    agent: {deps: [lib/*.py], command: ./agent.sh}\n"
	                "    timeout: 5\n"
	                "    threshold: 0.5\n"
	                "    iterations: 2\n"
	                "    prompt: prompt.md\n"
	                "    tasks: [tasks/*.json]\n");
	keysnow(&b);
	REQUIRE(a.n == 6 && b.n == 6);
	for (size_t i = 0; i < a.n; i++)
		CHECK(hasheq(a.run[i], b.run[i]));
}

TEST(plan_suite_name_not_in_run_key)
{
	struct keys k;

	project("suites:\n"
	        "  first:\n"
	        "    tasks: tasks/*.json\n"
	        "    agent: {command: ./agent.sh}\n"
	        "  second:\n"
	        "    tasks: tasks/*.json\n"
	        "    agent: {command: ./agent.sh}\n");
	keysnow(&k);
	REQUIRE(k.n == 6);
	CHECK(hasheq(keyfor(&k, "first/t1#1"), keyfor(&k, "second/t1#1")));
	CHECK(hasheq(keyfor(&k, "first/t3#1"), keyfor(&k, "second/t3#1")));
	CHECK(!hasheq(keyfor(&k, "first/t1#1"), keyfor(&k, "second/t2#1")));
}

TEST(plan_grader_not_in_run_key_but_in_grade_key)
{
	struct world w;

	project("suites:\n"
	        "  exact:\n"
	        "    tasks: tasks/*.json\n"
	        "    agent: {command: ./agent.sh}\n"
	        "    grader: {type: exact}\n"
	        "  loose:\n"
	        "    tasks: tasks/*.json\n"
	        "    agent: {command: ./agent.sh}\n"
	        "    grader: {type: contains, ignore_case: true}\n"
	        "  loose2:\n"
	        "    tasks: tasks/*.json\n"
	        "    agent: {command: ./agent.sh}\n"
	        "    grader: {ignore_case: true, type: contains}\n");
	REQUIRE(openworld(&w) == 0);
	struct plan *p = planall(&w);
	if (p) {
		struct cell *a = findcellid(p, "exact/t1#1"), *b = findcellid(p, "loose/t1#1"), *c = findcellid(p, "loose2/t1#1");
		REQUIRE(a && b && c);
		CHECK(hasheq(a->runkey, b->runkey));
		hash out = hashbytes("2", 1);
		setgradekey(p, a, out);
		setgradekey(p, b, out);
		setgradekey(p, c, out);
		CHECK(!hasheq(a->gradekey, b->gradekey));
		CHECK(hasheq(b->gradekey, c->gradekey));
		/* and the output is in the grade key */
		hash g = b->gradekey;
		setgradekey(p, b, hashbytes("4", 1));
		CHECK(!hasheq(g, b->gradekey));
		freeplan(p);
	}
	closeworld(&w);
}

TEST(plan_expected_answer_in_grade_key)
{
	struct world w;
	hash g1 = {0, 0}, g2 = {0, 0};

	project(evalfile);
	REQUIRE(openworld(&w) == 0);
	struct plan *p = planall(&w);
	struct cell *c = p ? findcellid(p, "arith/t1#1") : NULL;
	if (c) {
		setgradekey(p, c, hashbytes("2", 1));
		g1 = c->gradekey;
	}
	freeplan(p);
	closeworld(&w);
	/* a directory task: the expected answer is its own file */
	put("Evalfile", "suites:\n"
	                "  d:\n"
	                "    tasks: dtasks/*\n"
	                "    agent: {command: ./agent.sh}\n");
	put("dtasks/x/input", "q");
	put("dtasks/x/expected", "a");
	REQUIRE(openworld(&w) == 0);
	p = planall(&w);
	c = p ? findcellid(p, "d/x#1") : NULL;
	if (c) {
		setgradekey(p, c, hashbytes("a", 1));
		g1 = c->gradekey;
	}
	freeplan(p);
	closeworld(&w);
	put("dtasks/x/expected", "b");
	REQUIRE(openworld(&w) == 0);
	p = planall(&w);
	c = p ? findcellid(p, "d/x#1") : NULL;
	if (c) {
		setgradekey(p, c, hashbytes("a", 1));
		g2 = c->gradekey;
	}
	CHECK(c != NULL);
	CHECK(!hasheq(g1, g2));
	freeplan(p);
	closeworld(&w);
}

TEST(plan_cached_run_needs_grade_then_nothing)
{
	struct world w;
	char *err = NULL;

	project(evalfile);
	REQUIRE(openworld(&w) == 0);
	struct plan *p = planall(&w);
	REQUIRE(p != NULL);
	struct cell *c = findcellid(p, "arith/t1#1");
	REQUIRE(c != NULL);
	hash rk = c->runkey;
	char *tmp = newentry(w.store, 1);
	struct runrec r = {.out = hashbytes("2", 1), .seconds = 0.5};
	CHECK_INT(commitrun(w.store, rk, tmp, &r, 0), 0);
	free(tmp);
	freeplan(p);

	p = planall(&w);
	REQUIRE(p != NULL);
	c = findcellid(p, "arith/t1#1");
	REQUIRE(c != NULL);
	CHECK_INT(c->need, NEED_GRADE);
	CHECK(hasheq(c->out, r.out));
	CHECK_INT(findcellid(p, "arith/t2#1")->need, NEED_RUN);
	CHECK_INT(findcellid(p, "arith/t1#2")->need, NEED_RUN);
	CHECK_INT(commitgrade(w.store, c->gradekey, 1, "", 1), 0);
	freeplan(p);

	p = planall(&w);
	REQUIRE(p != NULL);
	c = findcellid(p, "arith/t1#1");
	REQUIRE(c != NULL);
	CHECK_INT(c->need, NEED_NOTHING);
	CHECK_INT(c->status, CELL_CACHED);
	CHECK(c->scored && c->score == 1);
	freeplan(p);

	/* -B: every targeted cell runs again */
	struct planopts o = {.rebuild = 1};
	p = makeplan(w.ef, w.st, w.store, &o, &err);
	REQUIRE(p != NULL);
	for (size_t i = 0; i < p->ncells; i++)
		CHECK_INT(p->cells[i].need, NEED_RUN);
	freeplan(p);
	closeworld(&w);
}

TEST(plan_targets_select_cells)
{
	struct world w;
	char *err = NULL;
	struct plan *p;

	project(evalfile);
	REQUIRE(openworld(&w) == 0);
	p = planv(&w, (const char *const[]){"arith/t2#2", NULL}, &err);
	REQUIRE(p != NULL);
	CHECK_INT(p->ncells, 1);
	if (p->ncells)
		CHECK_STR(p->cells[0].id, "arith/t2#2");
	freeplan(p);
	p = planv(&w, (const char *const[]){"arith/t3", NULL}, &err);
	REQUIRE(p != NULL);
	CHECK_INT(p->ncells, 2);
	for (size_t i = 0; i < p->ncells; i++)
		CHECK_HAS(p->cells[i].id, "arith/t3#");
	freeplan(p);
	p = planv(&w, (const char *const[]){"arith", NULL}, &err);
	REQUIRE(p != NULL);
	CHECK_INT(p->ncells, 6);
	freeplan(p);
	p = planv(&w, (const char *const[]){"arith/t1#1", "arith/t3#2", NULL}, &err);
	REQUIRE(p != NULL);
	CHECK_INT(p->ncells, 2);
	freeplan(p);
	closeworld(&w);
}

TEST(plan_target_keys_match_the_full_plan)
{
	struct world w;
	char *err = NULL;
	struct keys all;

	project(evalfile);
	REQUIRE(openworld(&w) == 0);
	keysof(&w, &all);
	struct plan *p = planv(&w, (const char *const[]){"arith/t2#2", NULL}, &err);
	REQUIRE(p != NULL && p->ncells == 1);
	CHECK(hasheq(p->cells[0].runkey, keyfor(&all, "arith/t2#2")));
	freeplan(p);
	closeworld(&w);
}

static void badtarget(const char *file, int line, const char *target, const char *want)
{
	struct world w;
	char *err = NULL;

	if (openworld(&w) < 0)
		return;
	struct plan *p = planv(&w, (const char *const[]){target, NULL}, &err);
	if (p) {
		testfail(file, line, "target '%s' was accepted", target);
		freeplan(p);
	} else {
		checkhas(file, line, "error message", err, want);
	}
	free(err);
	closeworld(&w);
}
#define BADTARGET(t, want) badtarget(__FILE__, __LINE__, t, want)

TEST(plan_bad_targets_are_errors)
{
	project(evalfile);
	BADTARGET("arth/t1#1", "did you mean 'arith'");
	BADTARGET("arithmetic", "arithmetic");
	BADTARGET("arith/t9", "t9");
	BADTARGET("arith/t1#3", "#3");
	BADTARGET("arith/t1#0", "arith/t1#0");
	BADTARGET("arith/t1#x", "arith/t1#x");
	BADTARGET("arith/", "arith/");
}

TEST(plan_iterations_override)
{
	struct world w;
	char *err = NULL;
	struct planopts o = {.iterations = 1};

	project(evalfile);
	REQUIRE(openworld(&w) == 0);
	struct plan *p = makeplan(w.ef, w.st, w.store, &o, &err);
	REQUIRE(p != NULL);
	CHECK_INT(p->ncells, 3);
	freeplan(p);
	closeworld(&w);
}

TEST(plan_sample_picks_k_tasks_stably)
{
	struct world w;
	char *err = NULL;
	struct planopts o = {.sample = 2, .iterations = 1};

	project(evalfile);
	REQUIRE(openworld(&w) == 0);
	struct plan *p = makeplan(w.ef, w.st, w.store, &o, &err);
	struct plan *q = makeplan(w.ef, w.st, w.store, &o, &err);
	REQUIRE(p && q);
	CHECK_INT(p->ncells, 2);
	for (size_t i = 0; i < p->ncells && i < q->ncells; i++)
		CHECK_STR(p->cells[i].id, q->cells[i].id);
	freeplan(p);
	freeplan(q);
	closeworld(&w);
}

TEST(plan_cellprompt_renders)
{
	struct world w;
	char *err = NULL;

	project(evalfile);
	REQUIRE(openworld(&w) == 0);
	struct plan *p = planall(&w);
	REQUIRE(p != NULL);
	struct cell *c = findcellid(p, "arith/t3#2");
	REQUIRE(c != NULL);
	CHECK_STR(cellprompt(p, c, &err), "Compute 3+3\n");
	freeplan(p);
	/* and from a warm memo, where makeplan rendered nothing */
	p = planall(&w);
	REQUIRE(p != NULL);
	c = findcellid(p, "arith/t3#2");
	REQUIRE(c != NULL);
	CHECK_STR(cellprompt(p, c, &err), "Compute 3+3\n");
	freeplan(p);
	closeworld(&w);
}

TEST(plan_bad_template_is_an_error)
{
	struct world w;
	char *err = NULL;

	project(evalfile);
	put("prompt.md", "line\n{{ inptu }}\n");
	REQUIRE(openworld(&w) == 0);
	struct plan *p = planv(&w, NULL, &err);
	CHECK(p == NULL);
	CHECK_HAS(err, "prompt.md:2");
	free(err);
	freeplan(p);
	closeworld(&w);
}

TEST(plan_missing_task_field_is_an_error)
{
	struct world w;
	char *err = NULL;

	project(evalfile);
	put("prompt.md", "{{task.level}}: {{input}}\n");
	REQUIRE(openworld(&w) == 0);
	struct plan *p = planv(&w, NULL, &err);
	CHECK(p == NULL);
	CHECK_HAS(err, "t1");
	CHECK_HAS(err, "level");
	free(err);
	freeplan(p);
	closeworld(&w);
}

/* two tasks with the same files but different ids, and a prompt that
 * names the id: the prompts differ, so the run keys must too */
TEST(plan_prompt_using_task_id_keys_each_task)
{
	struct world w;
	char *err = NULL;

	project("suites:\n"
	        "  s:\n"
	        "    tasks: dtasks/*\n"
	        "    prompt: idprompt.md\n"
	        "    agent: {command: ./agent.sh}\n");
	put("idprompt.md", "Task {{task.id}}: {{input}}\n");
	put("dtasks/alpha/input", "same");
	put("dtasks/beta/input", "same");
	put("dtasks/alpha/expected", "x");
	put("dtasks/beta/expected", "x");
	REQUIRE(openworld(&w) == 0);
	struct plan *p = planall(&w);
	REQUIRE(p != NULL);
	struct cell *a = findcellid(p, "s/alpha#1"), *b = findcellid(p, "s/beta#1");
	REQUIRE(a && b);
	CHECK_STR(cellprompt(p, a, &err), "Task alpha: same\n");
	CHECK_STR(cellprompt(p, b, &err), "Task beta: same\n");
	CHECK(!hasheq(a->parts[PART_PROMPT], b->parts[PART_PROMPT]));
	CHECK(!hasheq(a->runkey, b->runkey));
	freeplan(p);
	closeworld(&w);
}

/* a model agent's system prompt file is part of what the agent sees */
TEST(plan_system_prompt_file_change_changes_keys)
{
	struct keys a, b;

	project("suites:\n"
	        "  qa:\n"
	        "    tasks: tasks/*.json\n"
	        "    agent:\n"
	        "      provider: openai\n"
	        "      model: m\n"
	        "      base_url: http://127.0.0.1:9/v1\n"
	        "      system: system.md\n");
	put("system.md", "Be brief.\n");
	keysnow(&a);
	put("system.md", "Be verbose.\n");
	keysnow(&b);
	REQUIRE(a.n == 3 && b.n == 3);
	for (size_t i = 0; i < a.n; i++)
		CHECK(!hasheq(a.run[i], b.run[i]));
}

TEST(plan_why_names_the_changed_part)
{
	struct world w;

	project(evalfile);
	REQUIRE(openworld(&w) == 0);
	struct plan *p = planall(&w);
	REQUIRE(p != NULL);
	for (size_t i = 0; i < p->ncells; i++) {
		struct cell *c = &p->cells[i];
		struct cellrec r = {.run = c->runkey, .grade = c->gradekey, .iteration = c->iteration};
		memcpy(r.parts, c->parts, sizeof(r.parts));
		setcell(w.store, c->id, &r);
	}
	freeplan(p);
	closeworld(&w);
	put("tasks/t1.json", "{\"input\": \"1+2\", \"expected\": \"3\"}");
	REQUIRE(openworld(&w) == 0);
	p = planall(&w);
	REQUIRE(p != NULL);
	struct cell *c = findcellid(p, "arith/t1#1");
	REQUIRE(c != NULL);
	CHECK_HAS(c->why, "task input");
	CHECK_HAS(c->why, "prompt");
	CHECK(strstr(c->why, "agent") == NULL);
	freeplan(p);
	closeworld(&w);
}

/* watch mode re-keys in place: the keys must be those a fresh plan gets */
TEST(plan_rekeytask_matches_a_fresh_plan)
{
	struct world w;
	struct keys before, fresh;
	char *err = NULL;

	project(evalfile);
	REQUIRE(openworld(&w) == 0);
	keysof(&w, &before);
	struct plan *p = planall(&w);
	REQUIRE(p != NULL);
	put("tasks/t2.json", "{\"input\": \"2*2\", \"expected\": \"4\"}");
	size_t t2 = 0;
	while (t2 < p->sp[0].tasks.n && strcmp(p->sp[0].tasks.v[t2].id, "t2"))
		t2++;
	REQUIRE(t2 < p->sp[0].tasks.n);
	CHECK_INT(rekeytask(p, &p->sp[0], t2, &err), 0);
	keysof(&w, &fresh);
	REQUIRE(fresh.n == p->ncells && before.n == p->ncells);
	for (size_t i = 0; i < p->ncells; i++) {
		CHECK(hasheq(p->cells[i].runkey, keyfor(&fresh, p->cells[i].id)));
		if (strstr(p->cells[i].id, "/t2#"))
			CHECK(!hasheq(p->cells[i].runkey, keyfor(&before, p->cells[i].id)));
	}
	struct cell *c = findcellid(p, "arith/t2#1");
	REQUIRE(c != NULL);
	CHECK_STR(cellprompt(p, c, &err), "Compute 2*2\n");
	freeplan(p);
	closeworld(&w);
}

TEST(plan_rekeysuite_after_prompt_change_matches_a_fresh_plan)
{
	struct world w;
	struct keys fresh;
	char *err = NULL;

	project(evalfile);
	REQUIRE(openworld(&w) == 0);
	struct plan *p = planall(&w);
	REQUIRE(p != NULL);
	put("prompt.md", "Now compute {{input}}\n");
	CHECK_INT(rekeysuite(p, &p->sp[0], &err), 0);
	keysof(&w, &fresh);
	REQUIRE(fresh.n == p->ncells);
	for (size_t i = 0; i < p->ncells; i++)
		CHECK(hasheq(p->cells[i].runkey, keyfor(&fresh, p->cells[i].id)));
	struct cell *c = findcellid(p, "arith/t1#2");
	REQUIRE(c != NULL);
	CHECK_STR(cellprompt(p, c, &err), "Now compute 1+1\n");
	freeplan(p);
	closeworld(&w);
}
