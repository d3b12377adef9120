/* usage: see usage.h. Parsed with cJSON; a report that does not parse or
 * lacks a count is refused with a message naming where it came from, so
 * an agent's author sees why no tokens show. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "run/usage.h"
#include "core/util.h"

#define USAGE_MAX ((size_t)64 << 10) /* bytes of usage.json read */

static int parseusage(const char *text, const char *where, struct usage *u, char **err)
{
	cJSON *j = cJSON_Parse(text);
	const cJSON *in = cJSON_GetObjectItemCaseSensitive(j, "input_tokens");
	const cJSON *out = cJSON_GetObjectItemCaseSensitive(j, "output_tokens");
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");

	if (!cJSON_IsObject(j) || !cJSON_IsNumber(in) || !cJSON_IsNumber(out) || in->valuedouble < 0 ||
	    out->valuedouble < 0 || in->valuedouble > 1e15 || out->valuedouble > 1e15 || (model && !cJSON_IsString(model))) {
		*err = xasprintf("%s: expected {\"input_tokens\": N, \"output_tokens\": N, \"model\": \"NAME\"} (model "
		                 "optional, N a whole number >= 0)",
		                 where);
		cJSON_Delete(j);
		return -1;
	}
	u->intokens = (long long)in->valuedouble;
	u->outtokens = (long long)out->valuedouble;
	u->model = cJSON_IsString(model) ? xstrdup(model->valuestring) : NULL;
	cJSON_Delete(j);
	return 1;
}

int agentusage(const char *outdir, const char *stderrtext, size_t len, struct usage *u, char **err)
{
	char *path = pathjoin(outdir, "usage.json");
	size_t n;
	char *text = readfilemax(path, &n, USAGE_MAX);

	*err = NULL;
	memset(u, 0, sizeof(*u));
	free(path);
	if (text) {
		int r = parseusage(text, "usage.json (in EVAL_OUT_DIR)", u, err);
		free(text);
		return r;
	}
	/* the last line of stderr that starts with the prefix */
	const char *last = NULL, *end = stderrtext + len;
	for (const char *p = stderrtext; p && p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if ((size_t)(end - p) >= strlen(USAGE_PREFIX) && !strncmp(p, USAGE_PREFIX, strlen(USAGE_PREFIX)))
			last = p;
		p = nl ? nl + 1 : NULL;
	}
	if (!last)
		return 0;
	const char *nl = memchr(last, '\n', (size_t)(end - last));
	char *line = xstrndup(last + strlen(USAGE_PREFIX), (size_t)((nl ? nl : end) - last) - strlen(USAGE_PREFIX));
	int r = parseusage(line, "the " USAGE_PREFIX "line on stderr", u, err);
	free(line);
	return r;
}
