/* export: `evalmake export [TARGET...] --format FORMAT -o FILE`, the cached
 * and graded cells as training data, one JSON object a line:
 *
 *   chat        OpenAI fine-tuning: {"messages": [system?, user..., assistant]}
 *               per cell (--min-score X keeps cells scoring at least X)
 *   preference  OpenAI preference fine-tuning (DPO): per task, its best- and
 *               its worst-scored output of the same prompt,
 *               {"input": {"messages": [...]}, "preferred_output":
 *               [{"role": "assistant", "content": ...}],
 *               "non_preferred_output": [...]} (--min-score applies to the
 *               preferred one; a task whose outputs all score the same, or
 *               are the same text, gives none)
 *   rewards     for RL pipelines: {"prompt", "completion", "reward", "cell",
 *               "key"} per cell (key: the run key)
 *
 * Only cells whose result and grade are in the cache for their current
 * keys: never an error, never a cell that would run or be graded again;
 * nothing is run. Order is fixed: suites as in the Evalfile, tasks in their
 * order, iterations ascending. Every text passes through the secret
 * redaction (core/secret.h) and becomes valid UTF-8. The messages are
 * those the agent was sent: a model agent's stored request (its system
 * prompt and chat turns), else the rendered prompt as one user turn. The
 * file is written atomically; FILE "-" is stdout. */
#ifndef EXPORT_H
#define EXPORT_H

#include "cmd/project.h"

/* the export command; 0, or EXIT_USAGE */
int cmdexport(struct opts *o);

#endif
