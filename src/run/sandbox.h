/* sandbox: the bubblewrap command line that runs an agent or a command
 * grader (`sandbox:` in the Evalfile) in a view of the machine where
 *   - /usr (and /bin, /lib... as on the host), /etc and /opt are read-only,
 *     so interpreters and their libraries work;
 *   - the project (the Evalfile's folder) is read-only, and the cache
 *     folder inside it, if it is there, is an empty read-only folder;
 *   - /tmp is private and empty, /dev minimal, /proc its own;
 *   - only the folders the cell needs are there (EVAL_OUT_DIR writable,
 *     the task's copy writable, task.json and the grader's files
 *     read-only), with the sandbox's `writable` paths; nothing else of the
 *     home folder or the cache;
 *   - the network is gone (a namespace of its own: not even loopback
 *     reaches the host) unless `network: true`;
 *   - process, IPC and UTS namespaces of its own, a new session (no
 *     terminal to type into), no capabilities, dies with its supervisor.
 * It is not a defence against kernel exploits, nor a limit on CPU, memory
 * or disk use (the timeout bounds time). */
#ifndef SANDBOX_H
#define SANDBOX_H

#include "load/evalfile.h"

/* can bubblewrap create its namespaces here? Probed once (the answer is
 * kept): 0, or -1 and *err saying why not */
int sandboxcheck(char **err);

/* the cache folder every sandbox hides (one project per process) */
void sandboxhide(const char *cache);
/* the argv to run in front of `/bin/sh -c COMMAND`: bwrap OPTIONS --
 * (NULL-terminated; free with freeargv), for a command run in the current
 * folder (the project). ro and rw: NULL-terminated lists (or NULL) of the
 * cell's own paths, bound read-only and writable. Call after sandboxcheck
 * succeeded. */
char **sandboxargv(const struct sandbox *sb, const char *const *ro, const char *const *rw);
void freeargv(char **argv);

#endif
