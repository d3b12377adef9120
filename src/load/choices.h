/* choices: the choices of a multiple-choice task, as Inspect's
 * multiple_choice() and choice() see them.
 *
 * A task's choices are its "choices" field: a JSON list (any length up to
 * 26, items shown as text), or an object with a "text" list (ARC's form).
 * They are lettered A, B, C... in the list's order, or in a shuffled order
 * seeded by the task and the iteration (the suite's shuffle_choices). An
 * expected answer names a choice by letter ("B", "(B)"), by 0-based index
 * (a number, as MMLU's answer column; a digit string counts as an index)
 * or by the choice's own text; with ARC's labels, a label names its choice
 * first (ARC labels some questions "1" to "4"). */
#ifndef CHOICES_H
#define CHOICES_H

#include <cjson/cJSON.h>

#define MAXCHOICES 26

struct choices {
	const char *v[MAXCHOICES];   /* the texts, borrowed from the task's fields */
	const char *label[MAXCHOICES]; /* ARC's own labels ("1".."4" or "A".."D"), or NULL */
	char *own[MAXCHOICES];       /* texts made from non-string items */
	int n;
	int perm[MAXCHOICES];        /* shown at position i: the choice perm[i] */
};

/* read the task's choices (n = 0 when it has none), in order; -1 and *err
 * when the field is there but not a list of at most 26 items */
int getchoices(const cJSON *fields, struct choices *c, char **err);
/* shuffle the shown order, seeded by the task id and the iteration: the
 * same for the same pair, on every machine */
void shufflechoices(struct choices *c, const char *taskid, int iteration);
/* the "A) text" lines in the shown order; caller frees */
char *renderchoices(const struct choices *c);
/* the shown letter index (0 for A) of an expected answer given as a
 * letter, an index or a choice's text; -1 when it names no choice. With no
 * choices (n = 0) a letter or an index up to Z is accepted. */
int expectedchoice(const struct choices *c, const char *expected);
void freechoices(struct choices *c);

#endif
