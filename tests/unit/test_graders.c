/* graders: a suite with several graders. Loading (names, weights, what is
 * in a grader's canonical config), a grade key per grader (the first one's
 * the same as the grader alone would have) and the cell's derived score. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/plan.h"
#include "test.h"
#include "core/util.h"

static struct evalfile *loadtext(const char *text, char **err)
{
	*err = NULL;
	put("Evalfile", text);
	return loadevalfile("Evalfile", err);
}

static void project(void)
{
	intmpdir();
	put("t.jsonl", "{\"id\": \"a\", \"input\": \"1\", \"answer\": \"1\"}\n");
	put("g.sh", "#!/bin/sh\necho 1\n");
}

TEST(graders_load_names_and_weights)
{
	char *err;

	project();
	struct evalfile *ef = loadtext("suites:\n"
	                               "  s:\n"
	                               "    tasks: t.jsonl\n"
	                               "    agent: {command: ./g.sh}\n"
	                               "    graders:\n"
	                               "      - {type: exact, weight: 1}\n"
	                               "      - {name: script, type: command, command: ./g.sh, weight: 2.5}\n",
	                               &err);
	if (!ef)
		testfail(__FILE__, __LINE__, "%s", err);
	REQUIRE(ef);
	struct suite *s = &ef->suites[0];
	CHECK_INT(s->ngraders, 2);
	CHECK(s->weighted);
	CHECK_STR(suitegrader(s, 0)->name, "exact");
	CHECK_STR(suitegrader(s, 1)->name, "script");
	CHECK(suitegrader(s, 1)->weight == 2.5);
	/* name and weight are not what a grader is: not in its key */
	CHECK_STR(suitegrader(s, 0)->canon, "{\"type\":\"exact\"}");
	CHECK(strstr(suitegrader(s, 1)->canon, "name") == NULL);
	freeevalfile(ef);

	ef = loadtext("suites:\n  s:\n    tasks: t.jsonl\n    agent: {command: ./g.sh}\n    grader: {type: contains}\n",
	              &err);
	REQUIRE(ef);
	CHECK_INT(ef->suites[0].ngraders, 1);
	CHECK(!ef->suites[0].weighted);
	CHECK_STR(ef->suites[0].grader.name, "contains");
	freeevalfile(ef);

	/* a suite's graders replace the defaults' grader (and the reverse) */
	ef = loadtext("defaults:\n  grader: {type: contains}\n"
	              "suites:\n  s:\n    tasks: t.jsonl\n    agent: {command: ./g.sh}\n"
	              "    graders: [{type: exact}, {type: regex, pattern: x}]\n"
	              "  t:\n    tasks: t.jsonl\n    agent: {command: ./g.sh}\n",
	              &err);
	if (!ef)
		testfail(__FILE__, __LINE__, "%s", err);
	REQUIRE(ef);
	CHECK_INT(ef->suites[0].ngraders, 2);
	CHECK_STR(ef->suites[0].grader.name, "exact");
	CHECK_INT(ef->suites[1].ngraders, 1);
	CHECK_STR(ef->suites[1].grader.name, "contains");
	freeevalfile(ef);
	ef = loadtext("defaults:\n  graders: [{type: exact}, {type: contains}]\n"
	              "suites:\n  s:\n    tasks: t.jsonl\n    agent: {command: ./g.sh}\n    grader: {type: numeric}\n",
	              &err);
	if (!ef)
		testfail(__FILE__, __LINE__, "%s", err);
	REQUIRE(ef);
	CHECK_INT(ef->suites[0].ngraders, 1);
	CHECK_STR(ef->suites[0].grader.name, "numeric");
	freeevalfile(ef);

	static const char *const bad[][2] = {
		{"    graders: []\n", "expected a non-empty list"},
		{"    graders: [{type: exact}, {type: exact}]\n", "a second grader named 'exact'"},
		{"    graders: [{type: exact, weight: 1}, {type: contains}]\n", "give every one a weight, or none"},
		{"    graders: [{type: exact, weight: 0}, {type: contains, weight: 0}]\n", "add up to 0"},
		{"    graders: [{type: exact, name: 'a/b'}]\n", "graders[0].name: expected a name"},
		{"    graders: [{type: exact}, {type: nope}]\n", "graders[1].type"},
		{"    grader: {type: exact}\n    graders: [{type: exact}]\n", "both 'grader' and 'graders'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *text = xasprintf("suites:\n  s:\n    tasks: t.jsonl\n    agent: {command: ./g.sh}\n%s", bad[i][0]);
		ef = loadtext(text, &err);
		CHECK(ef == NULL);
		if (err)
			CHECK_HAS(err, bad[i][1]);
		free(err);
		freeevalfile(ef);
		free(text);
	}
}

/* the cell of a one-task, one-iteration project with this grader section */
static struct plan *planwith(const char *graders, struct evalfile **ef, struct state **st, struct store **store)
{
	char *err;
	char *text = xasprintf("suites:\n  s:\n    tasks: t.jsonl\n    agent: {command: ./g.sh}\n%s", graders);

	*ef = loadtext(text, &err);
	free(text);
	if (!*ef) {
		testfail(__FILE__, __LINE__, "%s", err);
		free(err);
		return NULL;
	}
	*st = openstate("cache");
	*store = openstore("cache", &err);
	struct planopts o = {0};
	struct plan *p = makeplan(*ef, *st, *store, &o, &err);
	if (!p) {
		testfail(__FILE__, __LINE__, "%s", err);
		free(err);
	}
	return p;
}

static void closeplan(struct plan *p, struct evalfile *ef, struct state *st, struct store *store)
{
	freeplan(p);
	closestore(store);
	closestate(st);
	freeevalfile(ef);
}

TEST(graders_key_per_grader_and_derived_score)
{
	struct evalfile *ef1, *ef2;
	struct state *st1, *st2;
	struct store *s1, *s2;
	hash out = hashbytes("1", 1);

	project();
	struct plan *one = planwith("    grader: {type: command, command: ./g.sh}\n", &ef1, &st1, &s1);
	REQUIRE(one);
	setgradekey(one, &one->cells[0], out);
	hash alone = one->cells[0].gradekey;
	CHECK(one->cells[0].gradekeys == NULL);
	closeplan(one, ef1, st1, s1);

	struct plan *p = planwith("    graders:\n"
	                          "      - {name: first, type: command, command: ./g.sh}\n"
	                          "      - {name: second, type: exact}\n",
	                          &ef2, &st2, &s2);
	REQUIRE(p);
	struct cell *c = &p->cells[0];
	setgradekey(p, c, out);
	REQUIRE(c->gradekeys);
	CHECK(hasheq(gradekeyof(c, 0), alone)); /* the first keeps the key it had alone */
	CHECK(!hasheq(gradekeyof(c, 1), alone));
	CHECK(!hasheq(c->gradekey, alone));     /* the cell's: of them all */
	CHECK(isnan(scoreof(c, 0)) && isnan(scoreof(c, 1)));
	setscore(c, 1, 0.5);
	CHECK(!c->scored);                      /* not until every grader scored */
	setscore(c, 0, 1);
	CHECK(c->scored);
	CHECK(c->score == 1);                   /* the first decides */
	/* with weights: the weighted mean */
	suitegrader(c->sp->suite, 0)->weight = 1;
	suitegrader(c->sp->suite, 1)->weight = 3;
	c->sp->suite->weighted = 1;
	setgradekey(p, c, out);
	c->scored = 0;
	setscore(c, 0, 1);
	setscore(c, 1, 0.5);
	CHECK(c->scored);
	CHECK(fabs(c->score - 0.625) < 1e-12);
	closeplan(p, ef2, st2, s2);
}
