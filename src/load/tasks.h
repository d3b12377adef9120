/* tasks: what a suite's task globs matched, as tasks.
 *
 * A match is a task when it is a directory (every file in it is an input;
 * input* is {{input}}, expected* is {{expected}}, task.json holds fields),
 * a .json file (one object; the id is the file's stem) or a .jsonl file (one
 * task per line; the id is the "id" field, else the line number). Fields
 * "input" (a string or a list of chat messages) and "expected" (or "ideal",
 * "target", "answer"; a list means any of them) are read as OpenAI evals and
 * Inspect write them. Datasets as published (.json arrays, .csv, .tsv, any
 * of them .gz or .zst) are read by load/dataset.c, one task a record, and a
 * suite's `fields` mapping says which field is what.
 *
 * An agent never sees the answer: a task has two hashes, full (all it
 * holds) and content (what its agent can observe: every file of a folder
 * but expected*, a .json or .jsonl task's fields without the answer
 * fields), and only content enters the run key, so fixing an answer
 * re-grades without calling the agent.
 *
 * Listing is cheap: ids and content hashes only, through the stat cache
 * and memos, so a no-op run reads no .json task and no task directory's
 * files. Loading (parsing the fields) happens only for the tasks that need
 * it, and fails when what it reads is not what was hashed. */
#ifndef TASKS_H
#define TASKS_H

#include <cjson/cJSON.h>

#include "load/evalfile.h"
#include "core/hash.h"
#include "store/state.h"

enum taskkind { TASK_DIR, TASK_JSON, TASK_JSONL };

struct task {
	char *id;
	char *path;          /* the directory, .json or .jsonl file */
	int line;            /* .jsonl: the line number; else 0 */
	int posid;           /* the id is a line or row number (no id field) */
	enum taskkind kind;
	hash content;        /* what its agent can observe: the run key's part */
	hash full;           /* all it holds, answers too (.jsonl: its line) */
	char *text;          /* .jsonl: the line itself (a dataset row: its JSON), until loaded */
	const struct fieldmap *map; /* the suite's field mapping (NULL: the defaults) */
	/* filled by loadtask() */
	int loaded;
	char *input;         /* {{input}}: the input text (chat messages as text) */
	cJSON *messages;     /* the input when it is a list of chat messages */
	struct strv expected;
	cJSON *fields;       /* every field of the task, for {{task.FIELD}} */
	int hasinput;        /* the task has an input field (or file) */
};

struct tasklist {
	struct task *v;
	size_t n, cap;
};

/* list the tasks of suite s; -1 and *err (naming file and line) on a bad
 * .jsonl line, an unreadable file or a duplicate id */
int listtasks(const struct suite *s, struct state *st, struct tasklist *out, char **err);
/* a .json task of suite s as a listing found it before (a no-op record,
 * report/noop.h): id, path and hashes given, nothing read */
struct task *keptjsontask(struct tasklist *tl, const struct suite *s, const char *id, const char *path, hash full,
                          hash content);
/* is the .json file at path, with content hash h, a list of tasks now
 * (1), one task (0)? -1 and *err when it cannot be read */
int jsonholdslist(struct state *st, const char *path, hash h, char **err);
/* parse a task's fields; -1 and *err on a bad file, or one that changed
 * since its hash was taken */
int loadtask(struct task *t, char **err);
/* recompute a directory or .json task's content hash after its files
 * changed, and forget what was loaded; -1 and *err when unreadable */
int rehashtask(struct task *t, struct state *st, char **err);
/* what every cell of a loaded task needs before anything runs: an input
 * when needinput (no prompt template, or one using {{input}}), an expected
 * answer when the suite's grader compares with one; -1 and *err naming
 * FILE:LINE and the field */
int checktask(const struct task *t, int needinput, char **err);
/* of a loaded task, the answer fields an agent never sees but a command
 * grader does (EVAL_TASK_JSON), hashed; zero when they hold no more than
 * its expected answer: one field whose value is exactly it, no
 * expected_pattern (so grade keys made before this stay as they were) */
hash hiddenanswers(const struct task *t);
/* the task's fields as one JSON object; without withanswer (what an agent
 * gets as EVAL_TASK_JSON) the fields expected, ideal, target and answer
 * are left out, and so is the field the suite maps as the expected
 * answer; a command grader gets them all. Caller frees */
char *taskjson(const struct task *t, int withanswer);
/* copy what the agent of a folder task may see into dest (a fresh folder
 * that becomes its EVAL_TASK_PATH): every file but expected*, a task.json
 * without its answer fields. Real copies: an edit of the task cannot reach
 * the agent. -1 and *err when the copied files are not the ones the
 * task's hashes were taken from (its run key would lie). Other tasks: 0,
 * nothing copied */
int snapshottask(const struct task *t, const char *dest, char **err);
/* the first expected answer, or "" */
const char *firstexpected(const struct task *t);
void freetasks(struct tasklist *tl);

#endif
