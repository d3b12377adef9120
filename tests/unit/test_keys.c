/* keys: the glob matcher and expander (`**`, folders), the .gitignore
 * reader, the split of command lines into words, and what the loader
 * makes of deps, command-line files, grader deps and env_inputs. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load/evalfile.h"
#include "load/glob.h"
#include "test.h"
#include "core/util.h"

/* the list joined with sep (caller frees) */
static char *joinedby(const struct strv *sv, const char *sep)
{
	struct buf b = {0};

	for (size_t i = 0; i < sv->n; i++)
		bufaddf(&b, "%s%s", i ? sep : "", sv->v[i]);
	return b.s ? bufdetach(&b) : xstrdup("");
}

static char *joined(const struct strv *sv)
{
	return joinedby(sv, " ");
}

TEST(glob_star_stays_in_one_folder)
{
	CHECK(globmatch("pkg/*.py", "pkg/top.py"));
	CHECK(!globmatch("pkg/*.py", "pkg/a/deep.py"));
	CHECK(!globmatch("pkg/*", "pkg/a/deep.py"));
	CHECK(globmatch("pkg/*", "pkg/a"));
	CHECK(!globmatch("pkg/*.py", "pkg/.hidden.py"));
	CHECK(globmatch("pkg/.*.py", "pkg/.hidden.py"));
	CHECK(globmatch("t?/[ab]*", "t1/apple"));
	CHECK(!globmatch("t?/[ab]*", "t1/cherry"));
}

TEST(glob_double_star_matches_any_depth)
{
	/* zero or more folders */
	CHECK(globmatch("pkg/**/*.py", "pkg/top.py"));
	CHECK(globmatch("pkg/**/*.py", "pkg/a/mid.py"));
	CHECK(globmatch("pkg/**/*.py", "pkg/a/b/deep.py"));
	CHECK(!globmatch("pkg/**/*.py", "pkg/a/b/deep.txt"));
	CHECK(!globmatch("pkg/**/*.py", "other/a/b/deep.py"));
	CHECK(globmatch("**/*.py", "x.py"));
	CHECK(globmatch("**/*.py", "a/b/c/x.py"));
	CHECK(globmatch("a/**/b/*.md", "a/b/x.md"));
	CHECK(globmatch("a/**/b/*.md", "a/x/y/b/x.md"));
	CHECK(!globmatch("a/**/b/*.md", "a/x/y/c/x.md"));
	/* a trailing ** is everything below, not the folder itself */
	CHECK(globmatch("pkg/**", "pkg/a/b/deep.py"));
	CHECK(!globmatch("pkg/**", "pkg"));
	/* not through hidden folders */
	CHECK(!globmatch("pkg/**/*.py", "pkg/.venv/x.py"));
	/* ** inside a name is * */
	CHECK(globmatch("pkg/**.py", "pkg/top.py"));
	CHECK(!globmatch("pkg/**.py", "pkg/a/top.py"));
}

TEST(glob_braces_dots_and_leading_parts)
{
	CHECK(globmatch("agents/{a,b}.sh", "agents/b.sh"));
	CHECK(!globmatch("agents/{a,b}.sh", "agents/c.sh"));
	CHECK(globmatch("{x,y/{p,q}}/*.md", "y/q/r.md"));
	CHECK(globmatch("./agents/*.sh", "agents/a.sh"));
	CHECK(globmatch("agents/*.sh", "./agents/a.sh"));
	CHECK(globmatch("a\\*b", "a*b"));
	CHECK(!globmatch("a\\*b", "axb"));
	/* a folder on the way to a match */
	CHECK(globleads("pkg/**/*.py", "pkg/new"));
	CHECK(globleads("pkg/**/*.py", "pkg/new/deeper"));
	CHECK(globleads("pkg/*/x.py", "pkg/a"));
	CHECK(!globleads("pkg/*/x.py", "other"));
	CHECK(!globleads("agents/*.sh", "agents/sub"));
	CHECK(globmagic("a/*.sh") && globmagic("a/{b,c}") && !globmagic("a/b.sh"));
}

TEST(glob_expand_finds_every_depth_and_spells_paths_as_glob)
{
	intmpdir();
	put("pkg/top.py", "1");
	put("pkg/a/mid.py", "2");
	put("pkg/a/b/deep.py", "3");
	put("pkg/a/b/notes.txt", "4");
	put("pkg/.venv/hidden.py", "5");
	put("pkg/__pycache__/c.py", "6");
	struct strv out = {0}, dirs = {0};
	struct globskip skip = {.junk = 1};

	CHECK_INT(globexpand("pkg/**/*.py", &skip, &out, &dirs), 3);
	strvsortuniq(&out);
	char *s = joined(&out);
	CHECK_STR(s, "pkg/a/b/deep.py pkg/a/mid.py pkg/top.py");
	free(s);
	/* every folder ** went into is where a new match may appear */
	strvsortuniq(&dirs);
	s = joined(&dirs);
	CHECK_STR(s, ". pkg pkg/a pkg/a/b");
	free(s);
	strvfree(&out);
	strvfree(&dirs);

	/* "./" is kept, as glob(3) keeps it: a deps name is part of a key */
	globexpand("./pkg/*.py", NULL, &out, NULL);
	s = joined(&out);
	CHECK_STR(s, "./pkg/top.py");
	free(s);
	strvfree(&out);
	CHECK_INT(globexpand("pkg/nothing/**", NULL, &out, NULL), 0);
	CHECK_INT(globexpand("pkg/{top,a/mid}.py", NULL, &out, NULL), 2);
	strvfree(&out);
}

TEST(glob_walk_skips_git_pycache_junk_cache_and_gitignored)
{
	intmpdir();
	put("lib/x.txt", "1");
	put("lib/sub/y.txt", "2");
	put("lib/.config", "3");
	put("lib/.git/HEAD", "4");
	put("lib/__pycache__/m.pyc", "5");
	put("lib/.x.txt.swp", "6");
	put("lib/x.txt~", "7");
	put("lib/build/out.o", "8");
	put("lib/run.log", "9");
	put("lib/keep.log", "10");
	put("lib/cache/runs/z", "11");
	put(".gitignore", "# comment\nbuild/\n*.log\n!keep.log\n");
	struct ignore *ig = loadignore(".gitignore");
	REQUIRE(ig != NULL);
	struct globskip skip = {.cache = "lib/cache", .ignore = ig, .junk = 1};
	struct strv out = {0};

	CHECK_INT(globwalk("lib", &skip, &out, NULL), 4);
	strvsortuniq(&out);
	char *s = joined(&out);
	CHECK_STR(s, "lib/.config lib/keep.log lib/sub/y.txt lib/x.txt");
	free(s);
	strvfree(&out);
	CHECK(ignored(ig, "a/b/build", 1));
	CHECK(!ignored(ig, "a/b/build", 0));
	CHECK(ignored(ig, "x/run.log", 0));
	CHECK(!ignored(ig, "x/keep.log", 0));
	freeignore(ig);
	CHECK(loadignore("no-such-file") == NULL);
}

TEST(shellwords_split_as_sh_roughly)
{
	struct strv w = {0};

	shellwords("python3 agents/run.py --cfg='my file.yaml' \"a\\\"b\" x\\ y >out.log 2>>err.log <in.txt|tee t.txt", &w);
	char *s = joinedby(&w, "|");
	/* a word with blanks in it is also split: it may be a script; the
	 * targets of > and >> and the files tee writes (outputs) are left out */
	CHECK_STR(s, "python3|agents/run.py|--cfg=my file.yaml|--cfg=my|file.yaml|a\"b|x y|x|y|2|in.txt|tee");
	free(s);
	strvfree(&w);
	/* tee's files end with its command (or where its stdin is named);
	 * /usr/bin/tee is tee */
	shellwords("./a.sh | /usr/bin/tee -a log.txt all.txt; cat in.txt && tee x.txt < y.txt", &w);
	s = joinedby(&w, "|");
	CHECK_STR(s, "./a.sh|/usr/bin/tee|cat|in.txt|tee|y.txt");
	free(s);
	strvfree(&w);
	/* only tee the command writes files: a word "tee" among another
	 * command's arguments leaves the words after it inputs */
	shellwords("./agent.sh --mode tee cfg.yaml | tee out.txt", &w);
	s = joinedby(&w, "|");
	CHECK_STR(s, "./agent.sh|--mode|tee|cfg.yaml|tee");
	free(s);
	strvfree(&w);
	/* the script of sh -c is split again */
	shellwords("bash -c 'node x.mjs; cat k.txt'", &w);
	s = joinedby(&w, "|");
	CHECK_STR(s, "bash|-c|node x.mjs; cat k.txt|node|x.mjs|cat|k.txt");
	free(s);
	strvfree(&w);
}

static struct evalfile *loadtext(const char *text, char **err)
{
	put("Evalfile", text);
	return loadevalfile("Evalfile", err);
}

TEST(evalfile_deps_folders_globs_and_command_files)
{
	char *err = NULL, *s;
	const char *top = intmpdir();
	put("tasks/t1.json", "{\"input\": \"1\", \"expected\": \"1\"}\n");
	put("agents/run.py", "print(1)\n");
	put("agents/conf.yaml", "a: 1\n");
	put("pkg/top.py", "1");
	put("pkg/a/b/deep.py", "2");
	put("lib/x.txt", "1");
	put("lib/sub/y.txt", "2");
	put("grade.py", "print(1)\n");
	put("rubric/r.txt", "r\n");
	char *text = xasprintf("suites:\n"
	                       "  s:\n"
	                       "    tasks: tasks/*.json\n"
	                       "    agent:\n"
	                       "      command: MODE=x python3 agents/run.py --config=agents/conf.yaml %s/pkg/top.py > out.txt\n"
	                       "      deps: [pkg/**/*.py, lib]\n"
	                       "      env_inputs: [MODEL, API_BASE, MODEL]\n"
	                       "    grader:\n"
	                       "      type: command\n"
	                       "      command: python3 grade.py\n"
	                       "      deps: [rubric]\n"
	                       "      env_inputs: [JUDGE]\n",
	                       top);
	put("out.txt", "an output, not an input\n");
	struct evalfile *ef = loadtext(text, &err);
	free(text);
	if (!ef)
		testfail(__FILE__, __LINE__, "%s", err);
	REQUIRE(ef != NULL);
	struct suite *su = &ef->suites[0];
	s = joined(&su->agent.deps);
	CHECK_STR(s, "agents/conf.yaml agents/run.py lib/sub/y.txt lib/x.txt pkg/a/b/deep.py pkg/top.py");
	free(s);
	s = joined(&su->grader.files);
	CHECK_STR(s, "grade.py rubric/r.txt");
	free(s);
	s = joined(&su->agent.envinputs);
	CHECK_STR(s, "API_BASE MODEL");
	free(s);
	s = joined(&su->grader.envinputs);
	CHECK_STR(s, "JUDGE");
	free(s);
	freeevalfile(ef);
}

TEST(evalfile_deps_errors_name_the_place)
{
	char *err = NULL;
	struct evalfile *ef;

	intmpdir();
	put("tasks/t1.json", "{\"input\": \"1\", \"expected\": \"1\"}\n");
	put("a.sh", "cat\n");
	put("empty/.git/HEAD", "x\n");
	ef = loadtext("suites:\n  s:\n    tasks: tasks/*.json\n    agent:\n      command: sh a.sh\n"
	              "      deps: [a.sh, pkg/**/*.py]\n",
	              &err);
	CHECK(ef == NULL);
	if (err)
		CHECK_HAS(err, "Evalfile:6:20: suites.s.agent.deps: 'pkg/**/*.py' matches no file");
	free(err);
	ef = loadtext("suites:\n  s:\n    tasks: tasks/*.json\n    agent:\n      command: sh a.sh\n"
	              "      deps: [empty]\n",
	              &err);
	CHECK(ef == NULL);
	if (err)
		CHECK_HAS(err, "matches no file (the folders it matches hold none)");
	free(err);
	ef = loadtext("suites:\n  s:\n    tasks: tasks/*.json\n    agent:\n      command: sh a.sh\n"
	              "      env_inputs: [EVAL_TASK]\n",
	              &err);
	CHECK(ef == NULL);
	if (err)
		CHECK_HAS(err, "Evalfile:6:20: suites.s.agent.env_inputs: 'EVAL_TASK' is set by evalmake");
	free(err);
	ef = loadtext("suites:\n  s:\n    tasks: tasks/*.json\n    agent:\n      command: sh a.sh\n"
	              "    grader: {type: exact, deps: [a.sh]}\n",
	              &err);
	CHECK(ef == NULL);
	if (err)
		CHECK_HAS(err, "'deps' is for graders of type command");
	free(err);
}

#include "plan/plan.h"

/* the run key of the first cell of the Evalfile in the current folder */
static int firstkey(hash *key, hash parts[NPARTS])
{
	char *err = NULL;
	struct evalfile *ef = loadevalfile("Evalfile", &err);
	struct planopts o = {0};
	int r = -1;

	if (!ef) {
		testfail(__FILE__, __LINE__, "%s", err);
		free(err);
		return -1;
	}
	struct state *st = openstate("cache");
	struct store *store = openstore("cache", &err);
	struct plan *p = store ? makeplan(ef, st, store, &o, &err) : NULL;
	if (p && p->ncells) {
		*key = p->cells[0].runkey;
		memcpy(parts, p->cells[0].parts, sizeof(hash) * NPARTS);
		r = 0;
	} else {
		testfail(__FILE__, __LINE__, "no plan: %s", err ? err : "no cells");
		free(err);
	}
	freeplan(p);
	if (store)
		closestore(store);
	closestate(st);
	freeevalfile(ef);
	return r;
}

TEST(plan_keys_without_env_inputs_are_as_before)
{
	hash key, parts[NPARTS];
	struct hasher h;

	intmpdir();
	put("tasks/t1.json", "{\"input\": \"1\", \"expected\": \"1\"}\n");
	put("agent.sh", "cat\n");
	put("Evalfile", "suites:\n  s:\n    tasks: tasks/*.json\n    agent: {command: ./agent.sh, deps: [agent.sh]}\n");
	REQUIRE(firstkey(&key, parts) == 0);
	CHECK(hashzero(parts[PART_ENV]));
	/* the run key's formula before env_inputs: version, four parts, iteration */
	hashstart(&h, "run");
	hashaddu64(&h, CACHE_VERSION);
	for (int i = 0; i < PART_ENV; i++)
		hashaddhash(&h, parts[i]);
	hashaddu64(&h, 1);
	CHECK(hasheq(key, hashend(&h)));
}

TEST(plan_env_inputs_unset_empty_and_values_differ)
{
	hash k[4], parts[NPARTS], again;

	intmpdir();
	put("tasks/t1.json", "{\"input\": \"1\", \"expected\": \"1\"}\n");
	put("agent.sh", "cat\n");
	put("Evalfile", "suites:\n  s:\n    tasks: tasks/*.json\n"
	                "    agent: {command: ./agent.sh, env_inputs: [EVALMAKE_TEST_MODEL]}\n");
	unsetenv("EVALMAKE_TEST_MODEL");
	REQUIRE(firstkey(&k[0], parts) == 0);
	CHECK(!hashzero(parts[PART_ENV]));
	setenv("EVALMAKE_TEST_MODEL", "", 1);
	REQUIRE(firstkey(&k[1], parts) == 0);
	setenv("EVALMAKE_TEST_MODEL", "a", 1);
	REQUIRE(firstkey(&k[2], parts) == 0);
	setenv("EVALMAKE_TEST_MODEL", "b", 1);
	REQUIRE(firstkey(&k[3], parts) == 0);
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			CHECK(!hasheq(k[i], k[j]));
	setenv("EVALMAKE_TEST_MODEL", "a", 1);
	REQUIRE(firstkey(&again, parts) == 0);
	CHECK(hasheq(again, k[2]));
	unsetenv("EVALMAKE_TEST_MODEL");
}
