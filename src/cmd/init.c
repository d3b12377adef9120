/* init: see init.h. The starter project needs no network and no key: its
 * agent is a shell script that only adds, so the first score is 0.5, with
 * one failing task to look at (`evalmake log starter/capital`). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/init.h"
#include "core/util.h"

/* the files `evalmake init` writes: a project whose first run prints a
 * score with no network and no key, for a new user to change into theirs */
static const struct starter {
	const char *path, *text;
	int exec;
} starter[] = {
	{"Evalfile",
	 "# Evalfile: what evalmake evaluates (written by `evalmake init`).\n"
	 "# `evalmake` brings the scores up to date: a cell (suite, task, iteration)\n"
	 "# runs again only when one of its inputs changed (the prompt, the agent's\n"
	 "# files and config, the task). See `evalmake --help` and `man evalmake`.\n"
	 "cache: cache                    # results, keyed by the hash of their inputs\n"
	 "jobs: 4                         # cells run at once (-j N overrides)\n"
	 "defaults:                       # merged into every suite\n"
	 "  iterations: 1                 # runs per task; more for a stochastic agent\n"
	 "  timeout: 60                   # seconds per attempt\n"
	 "suites:\n"
	 "  starter:\n"
	 "    tasks: tasks/starter/*.json # one task per file: {\"input\": ..., \"expected\": ...}\n"
	 "    prompt: prompts/starter.md  # a template: {{input}} is the task's input\n"
	 "    agent:\n"
	 "      command: ./agents/agent.sh  # gets the prompt on stdin, prints its answer\n"
	 "      deps: [agents/*]          # files whose contents are part of every cell's key\n"
	 "      # or a model behind an HTTP API instead of the command:\n"
	 "      # provider: openai        # openai (any compatible server) | anthropic\n"
	 "      # model: gpt-4o-mini\n"
	 "      # api_key_env: OPENAI_API_KEY\n"
	 "    grader: {type: exact, ignore_case: true}  # also contains, regex, numeric, command, judge\n"
	 "    threshold: 0.5              # what `evalmake check` requires of this suite\n",
	 0},
	{"prompts/starter.md",
	 "Answer with the answer alone, on one line.\n"
	 "\n"
	 "Q: {{input}}\n",
	 0},
	{"tasks/starter/add.json", "{\"input\": \"2 + 3\", \"expected\": \"5\"}\n", 0},
	{"tasks/starter/capital.json", "{\"input\": \"What is the capital of France?\", \"expected\": \"Paris\"}\n", 0},
	{"agents/agent.sh",
	 "#!/bin/sh\n"
	 "# A stand-in agent: replace it with yours. It gets the rendered prompt on\n"
	 "# stdin and prints its answer on stdout (what is graded); stderr is kept\n"
	 "# as the transcript (`evalmake log starter/add`). This one only adds.\n"
	 "awk '/^Q: / { sub(/^Q: /, \"\"); if (split($0, t, \" [+] \") == 2) print t[1] + t[2]; else print \"I do not know\" }'\n"
	 "echo \"agent: answered task $EVAL_TASK, iteration $EVAL_ITERATION\" >&2\n",
	 1},
};

/* init: refuse before writing anything, so a refusal leaves no half-made
 * project */
int cmdinit(struct opts *o)
{
	struct stat st;

	if (o->nargs) {
		fprintf(stderr, "evalmake: init: takes no arguments, got '%s' (see 'evalmake help init')\n", o->args[0]);
		return EXIT_USAGE;
	}
	if (lstat("evalfile", &st) == 0) {
		fprintf(stderr, "evalmake: init: evalfile exists; nothing written\n");
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < LEN(starter); i++)
		if (lstat(starter[i].path, &st) == 0) {
			fprintf(stderr, "evalmake: init: %s exists; nothing written\n", starter[i].path);
			return EXIT_USAGE;
		}
	for (size_t i = 0; i < LEN(starter); i++) {
		char *dir = dirname_of(starter[i].path);
		if (mkdirs(dir, 0777) < 0)
			die("init: cannot create %s:", dir);
		free(dir);
		if (writefile(starter[i].path, starter[i].text, strlen(starter[i].text)) < 0)
			die("init: cannot write %s:", starter[i].path);
		if (starter[i].exec && chmod(starter[i].path, 0755) < 0)
			die("init: cannot make %s executable:", starter[i].path);
		printf("wrote %s\n", starter[i].path);
	}
	printf("now run: evalmake\n");
	return 0;
}
