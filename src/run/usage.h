/* usage: the tokens a command agent says it used. A model agent's usage
 * comes from the API's reply (run/provider.h); a command agent may report
 * its own, in either of two ways:
 *   - a file $EVAL_OUT_DIR/usage.json:
 *       {"input_tokens": N, "output_tokens": N, "model": "NAME"}
 *   - a line on stderr starting "evalmake-usage: " followed by the same
 *     JSON object on that one line (the last such line counts).
 * The file wins when both are there. "model" is optional; the counts are
 * whole numbers >= 0. What is found goes into the run's meta.json like a
 * model call's ("usage", "model"), so reports and -n see it. */
#ifndef USAGE_H
#define USAGE_H

#include <stddef.h>

#define USAGE_PREFIX "evalmake-usage: "

struct usage {
	long long intokens, outtokens;
	char *model;      /* NULL when not named */
};

/* look for the agent's report in outdir (its EVAL_OUT_DIR) and its stderr
 * (err, len bytes): 1 found (u filled; free u->model), 0 none, -1 when a
 * report is there but malformed (*err says what was expected) */
int agentusage(const char *outdir, const char *stderrtext, size_t len, struct usage *u, char **err);

#endif
