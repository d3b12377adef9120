/* proc: agents and grader scripts as child processes, run from the loop.
 *
 * A process runs `/bin/sh -c COMMAND` (the command comes from the Evalfile,
 * never from task data) in its own process group, with stdin from a file
 * and stdout and stderr read concurrently into buffers with hard caps: past
 * a cap the rest is read and dropped, and a marker says so. A timeout, or
 * killproc(), kills the whole group. When the leader exits, what is left of
 * its group is killed too, so a stray grandchild cannot hold the pipes.
 * Whatever ends evalmake (kill -9 included), its processes end with it. */
#ifndef PROC_H
#define PROC_H

#include <stddef.h>

#include "core/loop.h"

struct procspec {
	const char *command;
	char *const *env;        /* extra "NAME=value" entries, NULL-terminated */
	const char *cwd;         /* NULL: the current directory */
	const char *stdinpath;   /* NULL: /dev/null */
	double timeout;          /* seconds; <= 0: none */
	size_t outcap, errcap;   /* bytes kept of stdout and stderr */
	const char *trace;       /* non-NULL: run the command under evalmake's
	                          * own tracer (run/trace.h), which writes the
	                          * files it touched to this file */
	char *const *wrap;       /* non-NULL: a program and its arguments run in
	                          * front of /bin/sh -c COMMAND, its first entry
	                          * an absolute path (a sandbox: bwrap OPTIONS --);
	                          * not with trace */
};

/* the hidden first argument that makes evalmake the tracer:
 * evalmake __trace OUTFILE -- /bin/sh -c COMMAND */
#define PROC_TRACEARG "__trace"

struct procresult {
	int exitcode;            /* the exit status, or 128+signal */
	int timedout, killed;
	char *out, *err;         /* NUL-terminated; owned by the result */
	size_t outlen, errlen;
	int outcut, errcut;      /* the cap was reached */
	double seconds;
};

struct proc;
typedef void (*procdone)(void *arg, struct procresult *r);

/* start a process; done is called once, from the loop, when it has exited
 * and its pipes are closed. NULL and *err when it cannot be started. */
struct proc *spawnproc(struct loop *l, const struct procspec *spec, procdone done, void *arg, char **err);
/* kill a running process's group; done is still called, with killed set */
void killproc(struct proc *p);
/* kill every running process (on Ctrl-C) */
void killallprocs(void);
/* how many processes are running */
int runningprocs(void);
void freeprocresult(struct procresult *r);

#endif
