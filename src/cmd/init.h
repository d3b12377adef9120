/* init: `evalmake init`, a new user's first project. */
#ifndef INIT_H
#define INIT_H

#include "cmd/project.h"

/* write a commented starter Evalfile, a prompt, two sample tasks and an
 * agent script in the current folder, whose first run prints a score
 * offline; 0, or EXIT_USAGE naming the first file that exists (nothing
 * is written then) */
int cmdinit(struct opts *o);

#endif
