/* grading: numbers as people write them, the answer letter of a
 * multiple-choice output, expected answers named as letter, index or text,
 * output_pattern extraction, and the plan-time check of expected answers. */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/regex.h"
#include "load/choices.h"
#include "run/grade.h"
#include "test.h"
#include "core/util.h"

static double num(const char *s)
{
	double v = NAN;

	if (parsenumber(s, &v) < 0)
		return NAN;
	return v;
}

static double last(const char *s)
{
	double v = NAN;

	if (lastnumber(s, &v) < 0)
		return NAN;
	return v;
}

TEST(number_whole_strings_as_people_write_them)
{
	CHECK(num("2,125") == 2125);
	CHECK(num("$70,000") == 70000);
	CHECK(num("1,234,567.5") == 1234567.5);
	CHECK(num("**18**") == 18);
	CHECK(num("_18_.") == 18);
	CHECK(num("72.") == 72);
	CHECK(num(" -0.5 ") == -0.5);
	CHECK(num("+3") == 3);
	CHECK(num("3/4") == 0.75);
	CHECK(num("1e3") == 1000);
	CHECK(num("2.5E-1") == 0.25);
	CHECK(num("50%") == 50);
	CHECK(num("-$5") == -5);
	CHECK(num("\xe2\x82\xac" "12") == 12);      /* euro sign */
	CHECK(num("\xe2\x88\x92" "4") == -4);       /* U+2212 minus */
	CHECK(num("1\xe2\x80\xaf" "000") == 1000);  /* narrow no-break space */
	CHECK(isnan(num("seventy")));
	CHECK(isnan(num("")));
	CHECK(isnan(num("0x10")));
	CHECK(isnan(num("nan")));
	CHECK(isnan(num("12 apples")));
	CHECK(isnan(num("#### 72")));
	CHECK(isnan(num("1 000"))); /* a plain space is not a separator */
	CHECK(isnan(num("1/0")));
}

TEST(number_last_in_an_output)
{
	CHECK(last("She earns $70,000 a year.") == 70000);
	CHECK(last("So the answer is 2,125.") == 2125);
	CHECK(last("3 + 4 = **7**") == 7);
	CHECK(last("pages 3-4") == 4);                /* a range, not -4 */
	CHECK(last("it drops to -12 degrees") == -12);
	CHECK(last("1,2,3") == 3);                    /* a list, not 123 */
	CHECK(last("half: 1/2") == 0.5);
	CHECK(last("about 1e3 cells") == 1000);
	CHECK(last("3 eggs") == 3);                   /* not an exponent */
	CHECK(last("version 1.2.3") == 3);
	CHECK(last("x = .5") == 0.5);
	CHECK(last("a loss of -$5") == -5);
	CHECK(last("50% of 30 is 15%") == 15);
	CHECK(isnan(last("no digits here")));
	CHECK(isnan(last("")));
}

TEST(choice_letter_found_robustly)
{
	CHECK_INT(findchoice("ANSWER: B", 4), 1);
	CHECK_INT(findchoice("answer: c", 4), 2);
	CHECK_INT(findchoice("After thinking, the answer is (B)", 4), 1);
	CHECK_INT(findchoice("After thinking, I choose B", 4), 1);
	CHECK_INT(findchoice("(C)", 4), 2);
	CHECK_INT(findchoice("I pick **D**.", 4), 3);
	CHECK_INT(findchoice("B. Paris is the capital", 4), 1);
	CHECK_INT(findchoice("B) Paris", 4), 1);
	CHECK_INT(findchoice("d", 4), 3);             /* the whole output */
	CHECK_INT(findchoice("A good question. (C) is right", 4), 2);
	CHECK_INT(findchoice("The answer is a bit unclear", 4), -1);
	CHECK_INT(findchoice("After all", 4), -1);    /* never inside a word */
	CHECK_INT(findchoice("nothing here", 4), -1);
	CHECK_INT(findchoice("(E)", 4), -1);          /* only A-D exist */
	CHECK_INT(findchoice("(E)", 5), 4);
	/* several: the last announced answer wins, and an announced one
	 * wins over marked letters */
	CHECK_INT(findchoice("ANSWER: A\nno wait, ANSWER: C", 4), 2);
	CHECK_INT(findchoice("ANSWER: B\n\n(C) is wrong because...", 4), 1);
	CHECK_INT(findchoice("(A) looks right but (D) is", 4), 3);
	CHECK_INT(findchoice("The correct answer is option **B**", 4), 1);
}

static int expected(const char *choicesjson, const char *want)
{
	cJSON *f = cJSON_Parse(choicesjson);
	struct choices c;
	char *err = NULL;
	int r;

	if (getchoices(f, &c, &err) < 0) {
		free(err);
		cJSON_Delete(f);
		return -2;
	}
	r = expectedchoice(&c, want);
	freechoices(&c);
	cJSON_Delete(f);
	return r;
}

TEST(choice_expected_as_letter_index_or_text)
{
	const char *abc = "{\"choices\": [\"Paris\", \"Lyon\", \"Nice\", \"Lille\", \"Metz\"]}";

	CHECK_INT(expected(abc, "C"), 2);
	CHECK_INT(expected(abc, "c"), 2);
	CHECK_INT(expected(abc, "(D)"), 3);
	CHECK_INT(expected(abc, "4"), 4);       /* an index, 0-based */
	CHECK_INT(expected(abc, "0"), 0);
	CHECK_INT(expected(abc, "Lyon"), 1);    /* the text */
	CHECK_INT(expected(abc, " nice "), 2);
	CHECK_INT(expected(abc, "F"), -1);      /* out of range */
	CHECK_INT(expected(abc, "7"), -1);
	CHECK_INT(expected(abc, "Rome"), -1);
	/* ARC's form, and no choices at all (letters and indexes A-Z) */
	CHECK_INT(expected("{\"choices\": {\"text\": [\"x\", \"y\"], \"label\": [\"A\", \"B\"]}}", "y"), 1);
	CHECK_INT(expected("{\"choices\": {\"text\": [\"w\", \"x\", \"y\", \"z\"], \"label\": [\"1\", \"2\", \"3\", \"4\"]}}", "3"), 2);
	CHECK_INT(expected("{}", "B"), 1);
	CHECK_INT(expected("{\"choices\": \"x\"}", "A"), -2);
}

TEST(choice_render_and_shuffle)
{
	cJSON *f = cJSON_Parse("{\"choices\": [\"w\", \"x\", \"y\", \"z\", 5]}");
	struct choices c, d;
	char *err;

	REQUIRE(getchoices(f, &c, &err) == 0);
	char *r = renderchoices(&c);
	CHECK_STR(r, "A) w\nB) x\nC) y\nD) z\nE) 5");
	free(r);
	/* a shuffle is a permutation, the same for the same task and
	 * iteration, and the expected letter follows its choice */
	int differs = 0;
	for (int k = 1; k <= 8; k++) {
		shufflechoices(&c, "t1", k);
		REQUIRE(getchoices(f, &d, &err) == 0);
		shufflechoices(&d, "t1", k);
		int seen = 0;
		for (int i = 0; i < c.n; i++) {
			CHECK_INT(c.perm[i], d.perm[i]);
			seen |= 1 << c.perm[i];
			differs |= c.perm[i] != i;
		}
		CHECK_INT(seen, 31);
		int at = expectedchoice(&c, "x");
		CHECK_INT(c.perm[at], 1);
		CHECK_INT(expectedchoice(&c, "1"), at);
		CHECK_INT(expectedchoice(&c, "B"), at);
		freechoices(&d);
	}
	CHECK(differs);
	freechoices(&c);
	cJSON_Delete(f);
}

TEST(template_choices_rendered_or_missing)
{
	char *err;
	struct template *t = compiletemplate("p.md", "Q\n{{ choices }}\nA:", TV_INPUT | TV_CHOICES, &err);

	REQUIRE(t != NULL);
	CHECK(templateuses(t) & TV_CHOICES);
	struct tmplvars v = {.choices = "A) x\nB) y", .taskname = "t1"};
	char *r = render(t, &v, &err);
	CHECK_STR(r, "Q\nA) x\nB) y\nA:");
	free(r);
	v.choices = NULL;
	CHECK(render(t, &v, &err) == NULL);
	CHECK_HAS(err, "p.md:2: {{choices}}: task 't1' has no 'choices' field");
	free(err);
	freetemplate(t);
	/* a rubric does not know {{choices}} */
	CHECK(compiletemplate("r.md", "{{choices}}", TV_OUTPUT, &err) == NULL);
	CHECK_HAS(err, "unknown variable {{choices}}");
	free(err);
}

TEST(regex_python_classes_and_last_group)
{
	char *err;
	struct regex *re = regexcompile("ANSWER:\\s*(\\S+)", 1, &err);

	REQUIRE(re != NULL);
	char *a = regexextract(re, "answer: 3\nthen ANSWER:  42 done", 1);
	CHECK_STR(a, "42");
	free(a);
	a = regexextract(re, "answer: 3\nthen ANSWER:  42 done", 0);
	CHECK_STR(a, "3");
	free(a);
	CHECK(regexextract(re, "no answer here", 1) == NULL);
	regexfree(re);
	re = regexcompile("\\d+", 0, &err);
	REQUIRE(re != NULL);
	a = regexextract(re, "a 12 b 345", 1); /* no group: the whole match */
	CHECK_STR(a, "345");
	free(a);
	CHECK(regexmatch(re, "x9"));
	regexfree(re);
	re = regexcompile("(?P<n>\\w+)=", 0, &err);
	CHECK(re != NULL);
	regexfree(re);
	CHECK(regexcompile("(unclosed", 0, &err) == NULL);
	CHECK_HAS(err, "offset");
	free(err);
}

static void mktask(struct task *t, const char *fields)
{
	memset(t, 0, sizeof(*t));
	t->id = "t1";
	t->path = "tasks/q.jsonl";
	t->line = 3;
	t->fields = cJSON_Parse(fields);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(t->fields, "answer");
	if (cJSON_IsString(e))
		strvadd(&t->expected, e->valuestring);
	else if (e) {
		char *j = cJSON_PrintUnformatted(e);
		strvadd(&t->expected, j);
		cJSON_free(j);
	}
}

static double grade(const struct grader *g, const char *out, const char *fields, char **reason)
{
	struct task t;
	double score = -1;
	char *err = NULL;

	mktask(&t, fields);
	*reason = NULL;
	if (gradenow(g, out, &t, 1, &score, reason, &err) < 0) {
		free(err);
		score = -1;
	}
	strvfree(&t.expected);
	cJSON_Delete(t.fields);
	return score;
}

TEST(grading_numeric_choice_and_output_pattern)
{
	struct grader n = {.type = GRADE_NUMERIC, .trim = 1, .tolerance = 1e-6};
	struct grader c = {.type = GRADE_CHOICE, .trim = 1};
	struct grader e = {.type = GRADE_EXACT, .trim = 1};
	char *reason, *err;

	CHECK(grade(&n, "Total: $2,125.", "{\"answer\": \"2,125\"}", &reason) == 1);
	free(reason);
	CHECK(grade(&n, "It is 70,000", "{\"answer\": \"$70,000\"}", &reason) == 1);
	free(reason);
	CHECK(grade(&c, "After thinking, the answer is (B)", "{\"choices\": [\"p\", \"q\", \"r\"], \"answer\": 1}",
	            &reason) == 1);
	free(reason);
	CHECK(grade(&c, "After thinking, the answer is (B)", "{\"choices\": [\"p\", \"q\", \"r\"], \"answer\": \"A\"}",
	            &reason) == 0);
	CHECK_STR(reason, "answered B, expected A");
	free(reason);
	CHECK(grade(&c, "I am not sure", "{\"choices\": [\"p\", \"q\"], \"answer\": \"q\"}", &reason) == 0);
	CHECK_STR(reason, "no answer found");
	free(reason);
	/* output_pattern: its group is what the grader compares */
	e.outre = regexcompile("ANSWER:\\s*(\\S+)", 0, &err);
	n.outre = e.outre;
	CHECK(grade(&e, "thinking 41...\nANSWER: 42", "{\"answer\": \"42\"}", &reason) == 1);
	free(reason);
	CHECK(grade(&n, "1 2 3 ANSWER: 7 and then 9", "{\"answer\": \"7\"}", &reason) == 1);
	free(reason);
	CHECK(grade(&e, "42", "{\"answer\": \"42\"}", &reason) == 0);
	CHECK_STR(reason, "no answer found");
	free(reason);
	regexfree(e.outre);
}

TEST(expected_answers_checked_before_running)
{
	struct grader n = {.type = GRADE_NUMERIC, .trim = 1};
	struct grader c = {.type = GRADE_CHOICE, .trim = 1};
	struct grader cmd = {.type = GRADE_COMMAND, .trim = 1};
	struct task t;
	char *err;

	mktask(&t, "{\"answer\": \"seventy\"}");
	CHECK_INT(checkexpected(&n, &t, &err), -1);
	CHECK_HAS(err, "tasks/q.jsonl:3");
	CHECK_HAS(err, "'seventy'");
	free(err);
	CHECK_INT(checkexpected(&cmd, &t, &err), 0);
	strvfree(&t.expected);
	cJSON_Delete(t.fields);
	mktask(&t, "{\"answer\": \"1,000\"}");
	CHECK_INT(checkexpected(&n, &t, &err), 0);
	strvfree(&t.expected);
	cJSON_Delete(t.fields);
	mktask(&t, "{\"choices\": [\"a\", \"b\"], \"answer\": \"C\"}");
	CHECK_INT(checkexpected(&c, &t, &err), -1);
	CHECK_HAS(err, "names no choice");
	free(err);
	strvfree(&t.expected);
	cJSON_Delete(t.fields);
	mktask(&t, "{\"choices\": [\"a\", \"b\"]}");
	CHECK_INT(checkexpected(&c, &t, &err), -1);
	CHECK_HAS(err, "no expected answer");
	free(err);
	cJSON_Delete(t.fields);
}
