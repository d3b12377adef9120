/* grade: the in-process graders and a grader script's last line. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "run/grade.h"
#include "test.h"
#include "core/util.h"

/* a task with the given expected answers (NULL-terminated) */
static void mktask(struct task *t, const char *id, const char *const *expected)
{
	memset(t, 0, sizeof(*t));
	t->id = (char *)id;
	for (; expected && *expected; expected++)
		strvadd(&t->expected, *expected);
}

/* the score of output against expected answers; -1 on a grading error */
static double scorev(const struct grader *g, const char *output, const char *const *expected)
{
	struct task t;
	double score = -2;
	char *reason = NULL, *err = NULL;

	mktask(&t, "t1", expected);
	if (gradenow(g, output, &t, 1, &score, &reason, &err) < 0) {
		CHECK(err != NULL);
		score = -1;
	} else {
		CHECK(err == NULL);
		CHECK(score >= 0 && score <= 1);
		if (score < 1)
			CHECK(reason != NULL); /* a failed grade says why */
	}
	free(reason);
	free(err);
	strvfree(&t.expected);
	return score;
}
#define SCORE(g, out, ...) scorev(g, out, (const char *const[]){__VA_ARGS__, NULL})

TEST(grade_exact_trims_by_default)
{
	struct grader g = {.type = GRADE_EXACT, .trim = 1};

	CHECK(SCORE(&g, "42", "42") == 1);
	CHECK(SCORE(&g, "  42\n", "42") == 1);
	CHECK(SCORE(&g, "42", "\t42 \n") == 1);
	CHECK(SCORE(&g, "42.0", "42") == 0);
	CHECK(SCORE(&g, "Paris", "paris") == 0);
	CHECK(SCORE(&g, "4 2", "42") == 0);
	CHECK(SCORE(&g, "", "") == 1);
}

TEST(grade_exact_without_trim)
{
	struct grader g = {.type = GRADE_EXACT, .trim = 0};

	CHECK(SCORE(&g, "42\n", "42") == 0);
	CHECK(SCORE(&g, "42\n", "42\n") == 1);
}

TEST(grade_exact_ignore_case)
{
	struct grader g = {.type = GRADE_EXACT, .trim = 1, .ignore_case = 1};

	CHECK(SCORE(&g, "PARIS\n", "paris") == 1);
	CHECK(SCORE(&g, "Paris", "PaRiS") == 1);
	CHECK(SCORE(&g, "Paris!", "paris") == 0);
}

TEST(grade_contains)
{
	struct grader g = {.type = GRADE_CONTAINS, .trim = 1};

	CHECK(SCORE(&g, "The capital is Paris.", "Paris") == 1);
	CHECK(SCORE(&g, "The capital is paris.", "Paris") == 0);
	CHECK(SCORE(&g, "Lyon", "Paris") == 0);
	g.ignore_case = 1;
	CHECK(SCORE(&g, "THE CAPITAL IS PARIS.", "paris") == 1);
}

TEST(grade_regex_with_pattern)
{
	struct grader g = {.type = GRADE_REGEX, .trim = 1, .pattern = "^answer: [0-9]+$"};

	CHECK(SCORE(&g, "answer: 42", "unused") == 1);
	CHECK(SCORE(&g, "answer: forty", "unused") == 0);
	/* with a pattern, a task needs no expected answer */
	CHECK(scorev(&g, "answer: 7\n", NULL) == 1);
	g.pattern = "^PARIS$";
	g.ignore_case = 1;
	CHECK(SCORE(&g, "paris", "x") == 1);
}

TEST(grade_regex_expected_as_pattern)
{
	struct grader g = {.type = GRADE_REGEX, .trim = 1};

	CHECK(SCORE(&g, "colour: red", "re+d") == 1);
	CHECK(SCORE(&g, "colour: blue", "re+d") == 0);
	CHECK(SCORE(&g, "colour: blue", "re+d", "bl(u|ue)e") == 1);
	/* a bad pattern in the task is a grading error, not a zero */
	CHECK(SCORE(&g, "x", "a(b") == -1);
}

TEST(grade_numeric_absolute_tolerance)
{
	struct grader g = {.type = GRADE_NUMERIC, .trim = 1, .tolerance = 0.01};

	CHECK(SCORE(&g, "3.14159", "3.14") == 1);
	CHECK(SCORE(&g, "3.2", "3.14") == 0);
	CHECK(SCORE(&g, "The answer is 42.", "42") == 1);
	CHECK(SCORE(&g, "-7", "-7.005") == 1);
	CHECK(SCORE(&g, "1e3", "1000") == 1);
	/* the last number in the output is the answer */
	CHECK(SCORE(&g, "2 + 2 = 4", "4") == 1);
	CHECK(SCORE(&g, "4, or maybe 5", "4") == 0);
}

TEST(grade_numeric_relative_tolerance)
{
	struct grader g = {.type = GRADE_NUMERIC, .trim = 1, .tolerance = 0.01, .relative = 1};

	CHECK(SCORE(&g, "1005", "1000") == 1);
	CHECK(SCORE(&g, "1011", "1000") == 0);
	CHECK(SCORE(&g, "0.001005", "0.001") == 1);
	CHECK(SCORE(&g, "0.0012", "0.001") == 0);
}

TEST(grade_numeric_no_number_scores_zero_with_reason)
{
	struct grader g = {.type = GRADE_NUMERIC, .trim = 1, .tolerance = 0.01};
	struct task t;
	double score = -1;
	char *reason = NULL, *err = NULL;

	mktask(&t, "t1", (const char *const[]){"42", NULL});
	CHECK_INT(gradenow(&g, "I do not know", &t, 1, &score, &reason, &err), 0);
	CHECK(score == 0);
	CHECK_HAS(reason, "no number");
	free(reason);
	strvfree(&t.expected);
}

TEST(grade_numeric_expected_not_a_number_is_an_error)
{
	struct grader g = {.type = GRADE_NUMERIC, .trim = 1, .tolerance = 0.01};

	CHECK(SCORE(&g, "42", "forty-two") == -1);
}

TEST(grade_several_expected_any_counts)
{
	struct grader g = {.type = GRADE_EXACT, .trim = 1, .ignore_case = 1};
	struct grader n = {.type = GRADE_NUMERIC, .trim = 1, .tolerance = 0.5};

	CHECK(SCORE(&g, "crimson", "red", "crimson", "scarlet") == 1);
	CHECK(SCORE(&g, "blue", "red", "crimson", "scarlet") == 0);
	CHECK(SCORE(&n, "10", "1", "10") == 1);
}

TEST(grade_without_expected_is_an_error)
{
	static const enum gradertype types[] = {GRADE_EXACT, GRADE_CONTAINS, GRADE_REGEX, GRADE_NUMERIC};

	for (size_t i = 0; i < LEN(types); i++) {
		struct grader g = {.type = types[i], .trim = 1, .tolerance = 0.1};
		struct task t;
		double score = 0.5;
		char *reason = NULL, *err = NULL;
		mktask(&t, "lonely", NULL);
		CHECK_INT(gradenow(&g, "anything", &t, 1, &score, &reason, &err), -1);
		CHECK_HAS(err, "lonely");
		CHECK(reason == NULL);
		free(err);
		free(reason);
	}
}

TEST(grade_failed_exact_reason_names_expected)
{
	struct grader g = {.type = GRADE_EXACT, .trim = 1};
	struct task t;
	double score;
	char *reason = NULL, *err = NULL;

	mktask(&t, "t1", (const char *const[]){"Paris", NULL});
	CHECK_INT(gradenow(&g, "Lyon", &t, 1, &score, &reason, &err), 0);
	CHECK(score == 0);
	CHECK_HAS(reason, "Paris");
	free(reason);
	strvfree(&t.expected);
}

TEST(grade_inline_graders)
{
	struct grader g = {0};

	g.type = GRADE_EXACT;
	CHECK(gradeinline(&g));
	g.type = GRADE_NUMERIC;
	CHECK(gradeinline(&g));
	g.type = GRADE_COMMAND;
	CHECK(!gradeinline(&g));
	g.type = GRADE_JUDGE;
	CHECK(!gradeinline(&g));
}

/* parsegrade: a grader script's output */

static int parse(const char *out, double *score, char **reason)
{
	char *err = NULL;
	int r;

	*reason = NULL;
	r = parsegrade(out, score, reason, &err);
	if (r < 0) {
		CHECK(err != NULL);
		free(err);
	} else {
		CHECK(err == NULL);
	}
	return r;
}

TEST(parsegrade_plain_score)
{
	double s = -1;
	char *reason;

	CHECK_INT(parse("1", &s, &reason), 0);
	CHECK(s == 1);
	CHECK_STR(reason, "");
	free(reason);
	CHECK_INT(parse("0\n", &s, &reason), 0);
	CHECK(s == 0);
	free(reason);
}

TEST(parsegrade_score_with_reason)
{
	double s = -1;
	char *reason;

	CHECK_INT(parse("0.5 partial credit\n", &s, &reason), 0);
	CHECK(s == 0.5);
	CHECK_STR(reason, "partial credit");
	free(reason);
}

TEST(parsegrade_out_of_range_is_an_error)
{
	double s;
	char *reason;

	CHECK_INT(parse("1.5", &s, &reason), -1);
	CHECK_INT(parse("-0.1 bad", &s, &reason), -1);
	CHECK_INT(parse("nan", &s, &reason), -1);
}

TEST(parsegrade_not_a_number_is_an_error)
{
	double s;
	char *reason;

	CHECK_INT(parse("abc", &s, &reason), -1);
	CHECK_INT(parse("1abc", &s, &reason), -1);
	CHECK_INT(parse("score: 1", &s, &reason), -1);
}

TEST(parsegrade_empty_is_an_error)
{
	double s;
	char *reason;

	CHECK_INT(parse("", &s, &reason), -1);
	CHECK_INT(parse("\n  \n\t\n", &s, &reason), -1);
}

TEST(parsegrade_last_non_empty_line_wins)
{
	double s = -1;
	char *reason;

	CHECK_INT(parse("thinking...\n0 first try\n0.75 second look\n\n  \n", &s, &reason), 0);
	CHECK(s == 0.75);
	CHECK_STR(reason, "second look");
	free(reason);
	/* an earlier bad line does not matter, a bad last one does */
	CHECK_INT(parse("garbage\n1\n", &s, &reason), 0);
	free(reason);
	CHECK_INT(parse("1\ngarbage\n", &s, &reason), -1);
}
