/* grade: a score in [0,1] for an output, from the suite's grader.
 *
 * exact, contains, regex, numeric and choice grade in-process; a command
 * grader is a script run through proc with the output on stdin,
 * EVAL_EXPECTED and EVAL_TASK_JSON (every field of the task) in its
 * environment, printing "SCORE [reason]" as its last line; what it prints
 * on stderr is kept with the grade. trim (on by default) strips whitespace
 * around output and expected answers; ignore_case compares without case.
 * With several expected answers, any one of them counts. An
 * output_pattern's first group (at its last match) is the answer graded:
 * no match scores 0, "no answer found". */
#ifndef GRADE_H
#define GRADE_H

#include "load/evalfile.h"
#include "core/loop.h"
#include "run/provider.h"
#include "load/tasks.h"
#include "load/template.h"

/* does the grader run in-process? */
int gradeinline(const struct grader *g);
/* grade in-process (iteration: for shuffled choices): 0 with *score and
 * *reason (caller frees), or -1 and *err (a grading error: never cached) */
int gradenow(const struct grader *g, const char *output, const struct task *t, int iteration, double *score,
             char **reason, char **err);
/* can the grader grade this task? Its expected answers must be numbers
 * (numeric) or name one of its choices (choice); -1 and *err naming the
 * task's file:line and the value. Checked before anything runs. */
int checkexpected(const struct grader *g, const struct task *t, char **err);

/* a number as people write it, the whole of s ("2,125", "$70,000",
 * "**18**.", "-0.5", "3/4", "1e3", "50%"): 0 and *v, or -1 */
int parsenumber(const char *s, double *v);
/* the last number in s, read the same way: 0 and *v, or -1 when none */
int lastnumber(const char *s, double *v);
/* the letter (0 for A) of the answer in a multiple-choice output with n
 * choices: the last announced one ("ANSWER: B", "the answer is (B)"), else
 * the last marked one ("(B)", "[B]", "**B**", "B)", "B.", "B:") or a lone
 * letter as the last word; never a letter inside a word; -1 when none */
int findchoice(const char *s, int n);

/* done gets the score and reason, or err, and what the grader printed on
 * stderr as log (may be NULL); ownership of the strings passes to done */
typedef void (*gradedone)(void *arg, double score, char *reason, char *log, char *err);
/* start a command grader in dir, a private folder holding "output" (its
 * stdin); the task's fields are written beside it for EVAL_TASK_JSON */
int gradestart(struct loop *l, const struct grader *g, const char *dir, const struct task *t, double timeout,
               gradedone done, void *arg, char **err);
/* parse a grader script's stdout: 0 with *score and *reason, -1 with *err */
int parsegrade(const char *out, double *score, char **reason, char **err);

/* start a judge grader: the rubric rendered over the task's input, the
 * output and the expected answer goes to the judge's model */
int judgestart(struct providers *prov, const struct grader *g, const struct template *rubric, const char *output,
               const struct task *t, double timeout, gradedone done, void *arg, char **err);
/* the score in a judge's answer: its last "SCORE: x" line, or with
 * choices, the choice it names last ("CHOICE: X" or the last line) */
int parsejudge(const struct grader *g, const char *answer, double *score, char **err);

#endif
