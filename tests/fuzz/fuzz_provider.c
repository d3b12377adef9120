/* fuzz_provider: libFuzzer harness for the model response parsers of
 * run/provider.c: parseok (a 200's answer, model and usage), noanswer and
 * servermessage (what an error body says). They are static, so the module
 * is included here whole rather than given a test-only entry point; the
 * Makefile leaves provider.c out of this harness's other objects. The
 * first byte picks the API (OpenAI or Anthropic). */
#include "../../src/run/provider.c"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct agent a = {0};
	a.provider = (data[0] & 1) ? "anthropic" : "openai";
	struct callstate cs = {0};
	cs.a = &a;
	char *body = xmalloc(size);
	memcpy(body, data + 1, size - 1);
	body[size - 1] = 0;
	if (parseok(&cs, body) != 0) {
		char *why = noanswer(body, data[0] & 1);
		free(why);
	}
	char *m = servermessage(body);
	free(m);
	free(cs.r.text);
	free(cs.r.model);
	free(body);
	return 0;
}
