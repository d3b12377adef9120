/* grade: a score in [0,1] for an output, from the suite's grader.
 *
 * exact, contains, regex and numeric grade in-process; a command grader is
 * a script run through proc with the output on stdin and EVAL_EXPECTED in
 * its environment, printing "SCORE [reason]" as its last line. trim (on by
 * default) strips whitespace around output and expected answers;
 * ignore_case compares without case. With several expected answers, any
 * one of them counts. */
#ifndef GRADE_H
#define GRADE_H

#include "load/evalfile.h"
#include "core/loop.h"
#include "run/provider.h"
#include "load/tasks.h"
#include "load/template.h"

/* does the grader run in-process? */
int gradeinline(const struct grader *g);
/* grade in-process: 0 with *score and *reason (caller frees), or -1 and
 * *err (a grading error: never cached) */
int gradenow(const struct grader *g, const char *output, const struct task *t, double *score, char **reason, char **err);

typedef void (*gradedone)(void *arg, double score, char *reason, char *err);
/* start a command grader reading the output from outputpath; done gets
 * the score and reason, or err (ownership passes to done) */
int gradestart(struct loop *l, const struct grader *g, const char *outputpath, const struct task *t, double timeout,
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
