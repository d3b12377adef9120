/* loop: the one event loop. Everything that waits waits here: agent pipes,
 * libcurl's sockets, the inotify descriptor, timers, and a self-pipe that
 * turns SIGINT, SIGTERM, SIGHUP and SIGCHLD into events. One poll() per step. */
#ifndef LOOP_H
#define LOOP_H

#include <poll.h>

struct loop;
typedef void (*fdfn)(void *arg, int fd, int revents);
typedef void (*timerfn)(void *arg);

/* make the loop and install its signal handlers */
struct loop *mkloop(void);
/* watch fd for events (POLLIN/POLLOUT); events 0 stops watching it */
void loopfd(struct loop *l, int fd, int events, fdfn fn, void *arg);
/* call fn at monotonic time at (see now()); returns an id for loopcancel */
long looptimer(struct loop *l, double at, timerfn fn, void *arg);
void loopcancel(struct loop *l, long id);
/* call fn after every SIGCHLD */
void loopchild(struct loop *l, void (*fn)(void *), void *arg);
/* wait at most maxwait seconds (< 0: until something happens), dispatch */
void loopstep(struct loop *l, double maxwait);
/* is anything ready now (an fd's event, a signal, a due timer)? A
 * poll() that does not wait and dispatches nothing */
int loopbusy(struct loop *l);
/* SIGINT, SIGTERM or SIGHUP once received, else 0 */
int loopinterrupted(struct loop *l);
/* the exit status of a run the loop saw interrupted: 128 + the signal
 * (130 SIGINT, 143 SIGTERM, 129 SIGHUP), as shells report a death by it */
int interruptstatus(void);
void freeloop(struct loop *l);

#endif
