/* template: compile once, render with task data. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "load/template.h"
#include "test.h"
#include "core/util.h"

#define ALL (TV_INPUT | TV_EXPECTED | TV_TASK)

/* render text with vars; returns the result or NULL (and *err) */
static char *run(const char *text, const struct tmplvars *v, char **err)
{
	struct template *t = compiletemplate("p.md", text, ALL, err);
	char *out;

	if (!t)
		return NULL;
	out = render(t, v, err);
	freetemplate(t);
	return out;
}

TEST(template_input_and_expected)
{
	struct tmplvars v = {.input = "2+2", .expected = "4", .taskname = "t1"};
	char *err = NULL;
	char *out = run("Q: {{input}}\nA: {{ expected }}\n", &v, &err);

	CHECK_STR(out, "Q: 2+2\nA: 4\n");
	CHECK(err == NULL);
	free(out);
}

TEST(template_without_variables_is_verbatim)
{
	struct tmplvars v = {.input = "x"};
	char *err = NULL;
	char *out = run("plain { text } with single {braces}", &v, &err);

	CHECK_STR(out, "plain { text } with single {braces}");
	free(out);
	out = run("", &v, &err);
	CHECK_STR(out, "");
	free(out);
}

TEST(template_values_are_not_re_expanded)
{
	struct tmplvars v = {.input = "{{expected}}", .expected = "secret"};
	char *err = NULL;
	char *out = run("[{{input}}]", &v, &err);

	CHECK_STR(out, "[{{expected}}]");
	free(out);
}

TEST(template_task_fields_nested_and_numbers)
{
	cJSON *f = cJSON_Parse("{\"a\": {\"b\": \"deep\", \"n\": 42}, \"x\": 1.5, \"list\": [\"p\", \"q\"],"
	                       " \"flag\": true, \"obj\": {\"k\": 1}}");
	struct tmplvars v = {.input = "in", .fields = f, .taskname = "t1"};
	char *err = NULL;
	char *out = run("{{ task.a.b }}|{{task.a.n}}|{{task.x}}|{{task.list.1}}|{{task.flag}}|{{task.obj}}", &v, &err);

	CHECK_STR(out, "deep|42|1.5|q|true|{\"k\":1}");
	CHECK(err == NULL);
	free(out);
	cJSON_Delete(f);
}

TEST(template_uses_reports_variables)
{
	char *err = NULL;
	struct template *t = compiletemplate("p.md", "{{input}} {{task.x}}", ALL, &err);

	REQUIRE(t != NULL);
	CHECK_INT(templateuses(t), TV_INPUT | TV_TASK);
	freetemplate(t);
	t = compiletemplate("p.md", "nothing", ALL, &err);
	REQUIRE(t != NULL);
	CHECK_INT(templateuses(t), 0);
	freetemplate(t);
}

TEST(template_unknown_variable_names_file_line_and_variable)
{
	char *err = NULL;
	struct template *t = compiletemplate("prompts/a.md", "line one\nline two\nsay {{ inptu }}\n", ALL, &err);

	CHECK(t == NULL);
	CHECK_HAS(err, "prompts/a.md:3");
	CHECK_HAS(err, "inptu");
	free(err);
	freetemplate(t);
}

TEST(template_variable_not_allowed_here)
{
	char *err = NULL;
	/* a prompt cannot see the output: only a judge's rubric can */
	struct template *t = compiletemplate("p.md", "{{output}}", ALL, &err);

	CHECK(t == NULL);
	CHECK_HAS(err, "p.md:1");
	CHECK_HAS(err, "output");
	free(err);
	freetemplate(t);
	t = compiletemplate("r.md", "{{output}} vs {{expected}}", TV_OUTPUT | TV_EXPECTED, &err);
	CHECK(t != NULL);
	freetemplate(t);
}

TEST(template_bare_task_prefix_is_unknown)
{
	char *err = NULL;
	struct template *t = compiletemplate("p.md", "{{task.}}", ALL, &err);

	CHECK(t == NULL);
	CHECK_HAS(err, "p.md:1");
	free(err);
	freetemplate(t);
}

TEST(template_unclosed_braces)
{
	char *err = NULL;
	struct template *t = compiletemplate("p.md", "a\nb {{input\nc\n", ALL, &err);

	CHECK(t == NULL);
	CHECK_HAS(err, "p.md:2");
	CHECK_HAS(err, "{{");
	free(err);
	freetemplate(t);
}

TEST(template_line_numbers_count_multiline_variables)
{
	char *err = NULL;
	struct template *t = compiletemplate("p.md", "{{\ninput\n}}\n{{nope}}", ALL, &err);

	CHECK(t == NULL);
	CHECK_HAS(err, "p.md:4");
	free(err);
	freetemplate(t);
}

TEST(template_missing_task_field_names_the_task)
{
	cJSON *f = cJSON_Parse("{\"a\": {\"b\": 1}}");
	struct tmplvars v = {.input = "in", .fields = f, .taskname = "t07"};
	char *err = NULL;
	struct template *t = compiletemplate("p.md", "x\n{{task.a.c}}", ALL, &err);

	REQUIRE(t != NULL);
	char *out = render(t, &v, &err);
	CHECK(out == NULL);
	CHECK_HAS(err, "t07");
	CHECK_HAS(err, "a.c");
	CHECK_HAS(err, "p.md:2");
	free(err);
	free(out);
	/* and with no fields at all */
	v.fields = NULL;
	out = render(t, &v, &err);
	CHECK(out == NULL);
	CHECK_HAS(err, "t07");
	free(err);
	free(out);
	freetemplate(t);
	cJSON_Delete(f);
}

TEST(template_renders_many_times)
{
	char *err = NULL;
	struct template *t = compiletemplate("p.md", "<{{input}}>", ALL, &err);
	struct tmplvars a = {.input = "a"}, b = {.input = "bb"};

	REQUIRE(t != NULL);
	char *x = render(t, &a, &err), *y = render(t, &b, &err);
	CHECK_STR(x, "<a>");
	CHECK_STR(y, "<bb>");
	free(x);
	free(y);
	freetemplate(t);
}
