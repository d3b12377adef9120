/* fuzz_template: libFuzzer harness for the template compiler and renderer
 * (load/template.c). The input is split at its first NUL: the template's
 * text, then a task's fields as JSON (for {{task.FIELD}}). Every variable
 * is allowed; the first byte's low bits drop some, so "not allowed here"
 * paths run too. */
#define _DEFAULT_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "load/template.h"
#include "core/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned allowed = 31 & ~(data[0] & 7u);
	char *text = xmalloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	size_t tl = strlen(text);
	const char *json = tl + 1 < size - 1 ? text + tl + 1 : "{}";
	char *err = NULL;
	struct template *t = compiletemplate("prompt.md", text, allowed, &err);
	if (t) {
		cJSON *fields = cJSON_Parse(json);
		struct tmplvars v = {
			.input = "the input", .expected = "the answer", .output = "the output",
			.choices = (data[0] & 8) ? NULL : "A) one\nB) two\n",
			.fields = fields, .taskname = "t1", .where = (data[0] & 16) ? NULL : "tasks/q.jsonl:3",
		};
		templateuses(t);
		char *out = render(t, &v, &err);
		free(out);
		cJSON_Delete(fields);
		freetemplate(t);
	}
	free(err);
	free(text);
	return 0;
}
