/* fuzz_evalfile: libFuzzer harness for the Evalfile loader
 * (load/evalfile.c). loadevalfile takes a path and runs in the Evalfile's
 * folder, so each input is written to Evalfile in a private temporary
 * folder (with a few files its globs and prompts may name) and loaded
 * there. Any result is fine; a crash, a leak or UB is the finding. */
#define _DEFAULT_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load/evalfile.h"
#include "core/util.h"

static char dir[] = "/tmp/fuzz-evalfile.XXXXXX";

static void put(const char *name, const char *text)
{
	FILE *f = fopen(name, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!mkdtemp(dir) || chdir(dir) != 0)
		abort();
	mkdirs("tasks/t1", 0777);
	put("tasks/t1/input.txt", "hi\n");
	put("tasks/q.jsonl", "{\"id\": \"a\", \"input\": \"x\"}\n");
	put("prompt.md", "Q: {{input}}\n");
	put("agent.sh", "#!/bin/sh\ncat\n");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *err = NULL;
	if (writefile("Evalfile", data, size) != 0)
		return 0;
	struct evalfile *ef = loadevalfile("Evalfile", &err);
	if (ef)
		freeevalfile(ef);
	free(err);
	return 0;
}
