/* evalfile: loading, merging defaults, and every kind of error, with its
 * FILE:LINE:COL. Each test works in its own temp folder. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "load/evalfile.h"
#include "test.h"
#include "core/util.h"

/* a project with two tasks, an agent script, a prompt and a regex file */
static void project(void)
{
	intmpdir();
	put("tasks/t1.json", "{\"input\": \"1+1\", \"expected\": \"2\"}\n");
	put("tasks/t2.json", "{\"input\": \"2+2\", \"expected\": \"4\"}\n");
	put("agents/calc.sh", "#!/bin/sh\ncat\n");
	put("agents/util.sh", "# helper\n");
	put("prompt.md", "Compute: {{input}}\n");
	put("grade.sh", "#!/bin/sh\necho 1\n");
}

static struct evalfile *load(const char *text, char **err)
{
	put("Evalfile", text);
	return loadevalfile("Evalfile", err);
}

/* loading text fails with a message holding each of the needles */
static void fails(const char *file, int line, const char *text, const char *where, const char *what)
{
	char *err = NULL;
	struct evalfile *ef = load(text, &err);

	if (ef) {
		testfail(file, line, "loaded an Evalfile that should fail (%s)", what);
		freeevalfile(ef);
		return;
	}
	if (!err) {
		testfail(file, line, "failed without a message");
		return;
	}
	checkhas(file, line, "error names the place", err, where);
	checkhas(file, line, "error says what was expected", err, what);
	free(err);
}
#define FAILS(text, where, what) fails(__FILE__, __LINE__, text, where, what)

static const char *const minimal = "suites:\n"
                                   "  s:\n"
                                   "    tasks: tasks/*.json\n"
                                   "    agent:\n"
                                   "      command: ./agents/calc.sh\n";

TEST(evalfile_minimal_gets_defaults)
{
	char *err = NULL;
	struct evalfile *ef;

	project();
	ef = load(minimal, &err);
	REQUIRE(ef != NULL);
	CHECK(err == NULL);
	CHECK_STR(ef->cache, "cache");
	CHECK_INT(ef->nsuites, 1);
	struct suite *s = findsuite(ef, "s");
	REQUIRE(s != NULL);
	CHECK(findsuite(ef, "t") == NULL);
	CHECK_STR(s->name, "s");
	CHECK_INT(s->iterations, 1);
	CHECK(s->timeout > 0);
	CHECK(s->threshold < 0);
	CHECK(s->prompt == NULL);
	CHECK_INT(s->agent.kind, AGENT_COMMAND);
	CHECK_STR(s->agent.command, "./agents/calc.sh");
	CHECK_INT(s->grader.type, GRADE_EXACT);
	CHECK_INT(s->grader.trim, 1);
	CHECK_INT(s->grader.ignore_case, 0);
	CHECK_INT(s->taskpaths.n, 2);
	if (s->taskpaths.n == 2) {
		CHECK_STR(s->taskpaths.v[0], "tasks/t1.json");
		CHECK_STR(s->taskpaths.v[1], "tasks/t2.json");
	}
	CHECK_HAS(s->where, "Evalfile:2:3");
	freeevalfile(ef);
}

TEST(evalfile_full_with_defaults_merged)
{
	char *err = NULL;
	struct evalfile *ef;

	project();
	ef = load("cache: mycache\n"
	          "jobs: 4\n"
	          "defaults:\n"
	          "  iterations: 3\n"
	          "  timeout: 60\n"
	          "  agent:\n"
	          "    command: ./agents/calc.sh\n"
	          "    env: {MODE: careful}\n"
	          "  grader: {type: contains, ignore_case: true}\n"
	          "suites:\n"
	          "  a:\n"
	          "    tasks: tasks/*.json\n"
	          "    iterations: 5\n"
	          "    agent:\n"
	          "      env: {MODE: fast}\n"
	          "      deps: [agents/*.sh]\n"
	          "    grader: {trim: false}\n"
	          "  b:\n"
	          "    tasks: [tasks/t2.json, tasks/t*.json]\n"
	          "    prompt: prompt.md\n"
	          "    threshold: 0.8\n",
	          &err);
	REQUIRE(ef != NULL);
	CHECK_STR(ef->cache, "mycache");
	CHECK_INT(ef->jobs, 4);
	CHECK_INT(ef->nsuites, 2);
	struct suite *a = findsuite(ef, "a"), *b = findsuite(ef, "b");
	REQUIRE(a && b);
	/* the suite's value wins over the default */
	CHECK_INT(a->iterations, 5);
	CHECK_INT(b->iterations, 3);
	CHECK(a->timeout == 60 && b->timeout == 60);
	/* agent maps are merged key by key */
	CHECK_STR(a->agent.command, "./agents/calc.sh");
	CHECK_INT(a->agent.env.n, 1);
	if (a->agent.env.n)
		CHECK_STR(a->agent.env.v[0], "MODE=fast");
	CHECK_INT(b->agent.env.n, 1);
	if (b->agent.env.n)
		CHECK_STR(b->agent.env.v[0], "MODE=careful");
	CHECK_INT(a->agent.deps.n, 2);
	if (a->agent.deps.n == 2) {
		CHECK_STR(a->agent.deps.v[0], "agents/calc.sh");
		CHECK_STR(a->agent.deps.v[1], "agents/util.sh");
	}
	/* the script on the command line is an input without being listed */
	CHECK_INT(b->agent.deps.n, 1);
	if (b->agent.deps.n == 1)
		CHECK_STR(b->agent.deps.v[0], "agents/calc.sh");
	/* grader maps too */
	CHECK_INT(a->grader.type, GRADE_CONTAINS);
	CHECK_INT(a->grader.ignore_case, 1);
	CHECK_INT(a->grader.trim, 0);
	CHECK_INT(b->grader.type, GRADE_CONTAINS);
	CHECK_INT(b->grader.trim, 1);
	CHECK(a->threshold < 0);
	CHECK(b->threshold == 0.8);
	CHECK_STR(b->prompt, "prompt.md");
	/* globs matching the same file list it once, sorted */
	CHECK_INT(b->taskpaths.n, 2);
	if (b->taskpaths.n == 2) {
		CHECK_STR(b->taskpaths.v[0], "tasks/t1.json");
		CHECK_STR(b->taskpaths.v[1], "tasks/t2.json");
	}
	CHECK_INT(b->taskglobs.n, 2);
	freeevalfile(ef);
}

TEST(evalfile_json_syntax_is_accepted)
{
	char *err = NULL;
	struct evalfile *ef;

	project();
	ef = load("{\"suites\": {\"j\": {\"tasks\": \"tasks/*.json\", \"iterations\": 2,\n"
	          "  \"agent\": {\"command\": \"./agents/calc.sh\"},\n"
	          "  \"grader\": {\"type\": \"numeric\", \"tolerance\": 0.5, \"relative\": true}}}}\n",
	          &err);
	REQUIRE(ef != NULL);
	struct suite *s = findsuite(ef, "j");
	REQUIRE(s != NULL);
	CHECK_INT(s->iterations, 2);
	CHECK_INT(s->grader.type, GRADE_NUMERIC);
	CHECK(s->grader.tolerance == 0.5);
	CHECK_INT(s->grader.relative, 1);
	freeevalfile(ef);
}

TEST(evalfile_http_agent)
{
	char *err = NULL;
	struct evalfile *ef;

	project();
	ef = load("suites:\n"
	          "  qa:\n"
	          "    tasks: tasks/*.json\n"
	          "    agent:\n"
	          "      provider: openai\n"
	          "      model: gpt-4o-mini\n"
	          "      base_url: http://127.0.0.1:8080/v1\n"
	          "      params: {temperature: 0.7, max_tokens: 256}\n",
	          &err);
	REQUIRE(ef != NULL);
	struct suite *s = findsuite(ef, "qa");
	REQUIRE(s != NULL);
	CHECK_INT(s->agent.kind, AGENT_HTTP);
	CHECK_STR(s->agent.provider, "openai");
	CHECK_STR(s->agent.model, "gpt-4o-mini");
	CHECK_STR(s->agent.base_url, "http://127.0.0.1:8080/v1");
	CHECK_STR(s->agent.api_key_env, "OPENAI_API_KEY");
	CHECK_HAS(s->agent.params, "\"temperature\":0.7");
	freeevalfile(ef);
}

TEST(evalfile_command_grader_script_is_a_grader_file)
{
	char *err = NULL;
	struct evalfile *ef;

	project();
	ef = load("suites:\n"
	          "  s:\n"
	          "    tasks: tasks/*.json\n"
	          "    agent: {command: ./agents/calc.sh}\n"
	          "    grader: {type: command, command: ./grade.sh --strict}\n",
	          &err);
	REQUIRE(ef != NULL);
	CHECK_INT(ef->suites[0].grader.type, GRADE_COMMAND);
	CHECK_INT(ef->suites[0].grader.files.n, 1);
	if (ef->suites[0].grader.files.n)
		CHECK_STR(ef->suites[0].grader.files.v[0], "./grade.sh");
	freeevalfile(ef);
}

static char *agentcanon(const char *agentyaml)
{
	char *err = NULL, *text = xasprintf("suites:\n  s:\n    tasks: tasks/*.json\n    agent:\n%s", agentyaml);
	struct evalfile *ef = load(text, &err);
	char *c = NULL;

	free(text);
	if (ef) {
		c = xstrdup(ef->suites[0].agent.canon);
		freeevalfile(ef);
	} else {
		testfail(__FILE__, __LINE__, "%s", err);
		free(err);
	}
	return c;
}

TEST(evalfile_agent_canon_ignores_key_order_and_style)
{
	project();
	char *a = agentcanon("      command: ./agents/calc.sh\n"
	                     "      env: {MODE: careful, LEVEL: 2}\n"
	                     "      deps: [agents/*.sh]\n");
	char *b = agentcanon("      deps:\n"
	                     "        - agents/*.sh\n"
	                     "      env:\n"
	                     "        LEVEL: 2\n"
	                     "        MODE: careful\n"
	                     "      command: ./agents/calc.sh\n");
	char *c = agentcanon("      {\"env\": {\"LEVEL\": 2, \"MODE\": \"careful\"}, \"command\": \"./agents/calc.sh\",\n"
	                     "       \"deps\": [\"agents/*.sh\"]}\n");
	char *d = agentcanon("      command: ./agents/calc.sh\n"
	                     "      env: {MODE: reckless, LEVEL: 2}\n"
	                     "      deps: [agents/*.sh]\n");
	REQUIRE(a && b && c && d);
	CHECK_STR(a, b);
	CHECK_STR(a, c);
	CHECK(strcmp(a, d) != 0);
	free(a);
	free(b);
	free(c);
	free(d);
}

TEST(evalfile_agent_canon_includes_defaults)
{
	char *err = NULL;

	project();
	struct evalfile *ef = load("defaults:\n"
	                           "  agent: {env: {MODE: careful}}\n"
	                           "suites:\n"
	                           "  s:\n"
	                           "    tasks: tasks/*.json\n"
	                           "    agent: {command: ./agents/calc.sh}\n",
	                           &err);
	REQUIRE(ef != NULL);
	char *plain = agentcanon("      command: ./agents/calc.sh\n");
	CHECK_HAS(ef->suites[0].agent.canon, "careful");
	CHECK(plain && strcmp(plain, ef->suites[0].agent.canon) != 0);
	free(plain);
	freeevalfile(ef);
}

TEST(evalfile_grader_canon_differs_by_config)
{
	char *err = NULL;

	project();
	struct evalfile *ef = load("suites:\n"
	                           "  a:\n"
	                           "    tasks: tasks/*.json\n"
	                           "    agent: {command: ./agents/calc.sh}\n"
	                           "    grader: {type: exact, ignore_case: true}\n"
	                           "  b:\n"
	                           "    tasks: tasks/*.json\n"
	                           "    agent: {command: ./agents/calc.sh}\n"
	                           "    grader: {ignore_case: true, type: exact}\n"
	                           "  c:\n"
	                           "    tasks: tasks/*.json\n"
	                           "    agent: {command: ./agents/calc.sh}\n"
	                           "    grader: {type: contains, ignore_case: true}\n",
	                           &err);
	REQUIRE(ef != NULL);
	CHECK_STR(ef->suites[0].grader.canon, ef->suites[1].grader.canon);
	CHECK(strcmp(ef->suites[0].grader.canon, ef->suites[2].grader.canon) != 0);
	freeevalfile(ef);
}

TEST(evalfile_findevalfile_order)
{
	char *p;

	intmpdir();
	CHECK(findevalfile(NULL) == NULL);
	put("evalfile", "x");
	CHECK_STR(p = findevalfile(NULL), "evalfile");
	free(p);
	put("Evalfile", "x");
	CHECK_STR(p = findevalfile(NULL), "Evalfile");
	free(p);
	CHECK_STR(p = findevalfile("other.yml"), "other.yml");
	free(p);
}

/* ---- errors: each names FILE:LINE:COL and what was expected ---- */

TEST(evalfile_unknown_key_suggests)
{
	project();
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    iteratons: 3\n"
	      "    agent: {command: ./agents/calc.sh}\n",
	      "Evalfile:4:5", "did you mean 'iterations'");
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    agent: {command: ./agents/calc.sh}\n"
	      "    iteratons: 3\n",
	      "'iteratons'", "did you mean 'iterations'");
	FAILS("sutes:\n"
	      "  s: {}\n",
	      "Evalfile:1:1", "did you mean 'suites'");
	FAILS("defaults:\n"
	      "  timeot: 3\n"
	      "suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    agent: {command: ./agents/calc.sh}\n",
	      "Evalfile:2:3", "did you mean 'timeout'");
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    agent: {command: ./agents/calc.sh, enviroment: {}}\n",
	      "Evalfile:4:40", "unknown key 'enviroment'");
}

TEST(evalfile_wrong_types)
{
	project();
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    iterations: [1, 2]\n"
	      "    agent: {command: ./agents/calc.sh}\n",
	      "Evalfile:4:17", "expected an integer");
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: {a: b}\n"
	      "    agent: {command: ./agents/calc.sh}\n",
	      "Evalfile:3:12", "glob");
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    agent: ./agents/calc.sh\n",
	      "Evalfile:4:12", "expected a mapping");
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    timeout: soon\n"
	      "    agent: {command: ./agents/calc.sh}\n",
	      "Evalfile:4:14", "expected a number");
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    agent: {command: ./agents/calc.sh}\n"
	      "    grader: {type: exact, trim: maybe}\n",
	      "Evalfile:5:33", "true or false");
	FAILS("suites: [a, b]\n", "Evalfile:1:9", "expected a mapping");
}

TEST(evalfile_iterations_zero)
{
	project();
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    iterations: 0\n"
	      "    agent: {command: ./agents/calc.sh}\n",
	      "Evalfile:4:17", "from 1");
}

TEST(evalfile_threshold_above_one)
{
	project();
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    threshold: 1.5\n"
	      "    agent: {command: ./agents/calc.sh}\n",
	      "Evalfile:4:16", "from 0 to 1");
}

TEST(evalfile_error_in_defaults_points_at_defaults)
{
	project();
	FAILS("defaults:\n"
	      "  iterations: 0\n"
	      "suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    agent: {command: ./agents/calc.sh}\n",
	      "Evalfile:2:15", "iterations");
}

TEST(evalfile_missing_prompt_file)
{
	project();
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    prompt: prompts/nope.md\n"
	      "    agent: {command: ./agents/calc.sh}\n",
	      "Evalfile:4:13", "no such file 'prompts/nope.md'");
}

TEST(evalfile_glob_matching_nothing)
{
	project();
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: [tasks/*.json, missing/*]\n"
	      "    agent: {command: ./agents/calc.sh}\n",
	      "Evalfile:3:27", "'missing/*' matches no");
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    agent: {command: ./agents/calc.sh, deps: [nothing/*.py]}\n",
	      "Evalfile:4:47", "'nothing/*.py' matches no file");
}

TEST(evalfile_invalid_yaml)
{
	project();
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: [tasks/*.json\n"
	      "    agent: {command: ./agents/calc.sh}\n",
	      "Evalfile:", "invalid YAML");
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "   agent: x\n",
	      "Evalfile:4:", "invalid YAML");
}

TEST(evalfile_empty_or_missing_file)
{
	char *err = NULL;

	project();
	FAILS("", "Evalfile", "suites");
	CHECK(loadevalfile("nosuchfile", &err) == NULL);
	CHECK_HAS(err, "nosuchfile");
	free(err);
}

TEST(evalfile_unknown_grader_type)
{
	project();
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    agent: {command: ./agents/calc.sh}\n"
	      "    grader: {type: exactly}\n",
	      "Evalfile:5:20", "got 'exactly'");
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    agent: {command: ./agents/calc.sh}\n"
	      "    grader: {ignore_case: true}\n",
	      "Evalfile:5:13", "'type'");
}

TEST(evalfile_regex_grader_with_invalid_pattern)
{
	project();
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    agent: {command: ./agents/calc.sh}\n"
	      "    grader: {type: regex, pattern: \"a(b\"}\n",
	      "Evalfile:5:36", "invalid regular expression");
}

TEST(evalfile_agent_with_command_and_provider)
{
	project();
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    agent:\n"
	      "      provider: openai\n"
	      "      model: gpt-4o-mini\n"
	      "      command: ./agents/calc.sh\n",
	      "Evalfile:7:16", "not both");
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    agent: {env: {A: b}}\n",
	      "Evalfile:4:12", "'command'");
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    agent: {provider: openai}\n",
	      "Evalfile:4:12", "'model'");
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    agent: {provider: mistral, model: m}\n",
	      "Evalfile:4:23", "'openai' or 'anthropic'");
}

TEST(evalfile_duplicate_suite)
{
	project();
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    agent: {command: ./agents/calc.sh}\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    agent: {command: ./agents/calc.sh}\n",
	      "Evalfile:5:3", "duplicate suite 's'");
}

TEST(evalfile_duplicate_key_in_suite)
{
	project();
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    iterations: 2\n"
	      "    agent: {command: ./agents/calc.sh}\n"
	      "    iterations: 3\n",
	      "Evalfile:6:5", "duplicate key 'iterations'");
}

TEST(evalfile_missing_required_sections)
{
	project();
	FAILS("suites:\n"
	      "  s:\n"
	      "    agent: {command: ./agents/calc.sh}\n",
	      "Evalfile:2:3", "'tasks'");
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n",
	      "Evalfile:2:3", "'agent'");
	FAILS("cache: c\n", "Evalfile", "'suites'");
}

TEST(evalfile_bad_suite_name)
{
	project();
	FAILS("suites:\n"
	      "  a/b:\n"
	      "    tasks: tasks/*.json\n"
	      "    agent: {command: ./agents/calc.sh}\n",
	      "Evalfile:2:3", "suite name");
}

TEST(evalfile_env_may_not_set_eval_vars)
{
	project();
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    agent: {command: ./agents/calc.sh, env: {EVAL_SEED: 1}}\n",
	      "Evalfile:4:46", "EVAL_SEED");
}

TEST(evalfile_judge_grader_needs_rubric_file)
{
	project();
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    agent: {command: ./agents/calc.sh}\n"
	      "    grader: {type: judge, rubric: rubric.md, provider: openai, model: m}\n",
	      "Evalfile:5:35", "no such file 'rubric.md'");
}

TEST(evalfile_command_grader_missing_script)
{
	project();
	FAILS("suites:\n"
	      "  s:\n"
	      "    tasks: tasks/*.json\n"
	      "    agent: {command: ./agents/calc.sh}\n"
	      "    grader: {type: command, command: ./nope.sh}\n",
	      "Evalfile:5:38", "no such file './nope.sh'");
}
