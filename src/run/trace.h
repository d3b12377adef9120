/* trace: which files an agent touched, and which of them its run key does
 * not cover.
 *
 * The tracer is evalmake itself, executed again as
 *   evalmake __trace OUTFILE -- /bin/sh -c COMMAND
 * (core/proc.c does that when a procspec asks for a trace): it runs the
 * command under ptrace, follows every process the command starts, and
 * writes each file opened, executed, stat'ed or probed with access() to
 * OUTFILE, then exits with the command's status. So the event loop, the
 * timeouts and the process-group kills of proc.c work as for any agent.
 * Linux only (x86_64 and aarch64).
 *
 * The rest of this module reads such a file back and names the project
 * files the agent read that no declared input of its cell covers, with the
 * `deps:` line that would declare them. */
#ifndef TRACE_H
#define TRACE_H

#include "load/evalfile.h"
#include "plan/plan.h"

/* what a trace file records per path ("K" + absolute path + NUL, each
 * (kind, path) once) */
enum {
	TRACE_READ = 'r',   /* opened for reading */
	TRACE_WRITE = 'w',  /* opened for writing, created or truncated */
	TRACE_EXEC = 'x',   /* executed (execve, execveat) */
	TRACE_STAT = 's',   /* stat'ed or probed with access() */
};

/* the tracer's entry point: argv is {"__trace", OUTFILE, "--", PROGRAM,
 * ARG..., NULL}; returns what to exit with: the program's exit status, or
 * 128+signal when a signal killed it (126 when it could not be traced) */
int tracemain(int argc, char **argv);
/* can this process trace its children (ptrace permitted, a kernel with
 * PTRACE_GET_SYSCALL_INFO, a supported architecture)? 0, or -1 and *err
 * saying why not */
int tracecheck(char **err);

/* -v: trace the command agents this plan runs? 1 when some will run and
 * tracing works here; else 0, with a warning when it does not work */
int traceverbose(const struct plan *p);

/* base + "/" + path (path alone when absolute) with "//", "." and ".."
 * folded lexically, as an absolute path; caller frees */
char *normpath(const char *base, const char *path);
/* path relative to the folder root (both absolute and normalized), or NULL
 * when path is not inside it; points into path */
const char *underdir(const char *root, const char *path);

/* what a cell's run key covers, as absolute normalized paths */
struct declared {
	char *root;               /* the project: the Evalfile's folder */
	struct strv files;        /* deps, the prompt template, ... */
	struct strv dirs;         /* folders covering everything below them:
	                           * the task's own files, the cache */
};

/* the inputs of cell c its run key covers, and what is never reported (the
 * task's files, the cache with the cell's EVAL_OUT_DIR); call from the
 * project folder (the current directory) */
void celldeclared(const struct cell *c, const char *cache, struct declared *d);
void freedeclared(struct declared *d);
/* the project files (relative to d->root, sorted) the trace file shows
 * were opened for reading or executed, were not written by the agent,
 * still exist as regular files, are not under .git, and that nothing in d
 * covers; a Python cache file (__pycache__/M.TAG.pyc) counts as its M.py.
 * -1 and *err when the trace file cannot be read. */
int undeclared(const char *tracefile, const struct declared *d, struct strv *out, char **err);
/* a `deps:` line declaring the existing globs and the new files: two or
 * more new files of one folder with one extension become one glob (the
 * folder, then a star and the extension); caller frees */
char *depsline(const struct strv *globs, const struct strv *files);

#endif
