/* fuzz_dataset: libFuzzer harness for every task reader of
 * load/dataset.c: parsecsv (comma and tab, with and without given
 * columns), parsejsonarray, parsejsonl, parselist (JSON and Python list
 * literals), and mapfields over each record read. The first byte picks the
 * reader, the rest is the file's text. */
#define _DEFAULT_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "load/dataset.h"
#include "core/util.h"

static void mapall(struct recordlist *rl, int withmap)
{
	struct fieldmap m = {0};
	char *perr = NULL;
	if (withmap) {
		m.id = "id";
		m.input = "q.text";
		m.expected = "answer";
		strvadd(&m.choices, "choices");
		m.needexpected = 1;
		m.expected_pattern = "#### *(.*)";
		m.re = compilepattern(m.expected_pattern, &perr);
		free(perr);
	}
	for (size_t i = 0; i < rl->n; i++) {
		cJSON *o = cJSON_Parse(rl->v[i].text);
		if (!o)
			continue;
		const cJSON *input = NULL;
		cJSON *expected = NULL;
		char *err = NULL;
		char *id = mappedid(withmap ? &m : NULL, o, "fallback");
		free(id);
		if (cJSON_IsObject(o))
			mapfields(withmap ? &m : NULL, o, "f:1", &input, &expected, &err);
		cJSON_Delete(expected);
		free(err);
		cJSON_Delete(o);
	}
	strvfree(&m.choices);
	if (m.re)
		freepattern(m.re);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int which = data[0];
	char *text = xmalloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	size_t len = size - 1;
	struct recordlist rl = {0};
	struct strv cols = {0};
	char *err = NULL;
	int r = 0;

	switch (which % 7) {
	case 0:
		r = parsecsv("f.csv", text, len, ',', NULL, &rl, &err);
		break;
	case 1:
		r = parsecsv("f.tsv", text, len, '\t', NULL, &rl, &err);
		break;
	case 2:
		strvadd(&cols, "q.text");
		strvadd(&cols, "answer");
		strvadd(&cols, "choices");
		r = parsecsv("f.csv", text, len, ',', &cols, &rl, &err);
		break;
	case 3:
		r = parsejsonarray("f.json", text, len, &rl, &err);
		break;
	case 4:
		r = parsejsonl("f.jsonl", text, len, &rl, &err);
		break;
	default: {
		cJSON *l = parselist(text);
		cJSON_Delete(l);
		break;
	}
	}
	if (r == 0)
		mapall(&rl, which & 8);
	freerecords(&rl);
	strvfree(&cols);
	free(err);
	free(text);
	return 0;
}
