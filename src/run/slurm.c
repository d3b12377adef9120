/* slurm: see slurm.h. The commands (sbatch, squeue, scancel) are SLURM's
 * own clients, found on PATH and configured as the user's are (SLURM_CONF
 * and the rest pass through the environment), each run with a timeout. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "load/evalfile.h"
#include "plan/shard.h"
#include "run/slurm.h"
#include "store/store.h"
#include "core/util.h"

extern char **environ;

#define CMD_TIMEOUT 60.0     /* seconds a SLURM client may take */
#define CANCEL_WAIT 60.0     /* seconds to wait for a cancelled job to leave squeue */
#define POLL_EVERY 2.0       /* seconds between squeue calls */
#define SQUEUE_FAILS 30      /* squeue failing this often in a row: give up waiting */
#define PRINT_EVERY 10.0     /* seconds between progress lines in a log */
/* array tasks at most without slurm: shards: SLURM's default MaxArraySize
 * (1001) allows indices up to 1000 */
#define DEFAULT_SHARDS 1000

/* the job script: fixed text, whatever the cells; its arguments are the
 * program, the number of shards, then evalmake's options and targets */
static const char jobscript[] =
	"#!/bin/sh\n"
	"# evalmake's SLURM job array task: one shard of the cells (written by\n"
	"# evalmake; its arguments never pass through a shell's parsing)\n"
	"exe=$1 n=$2\n"
	"shift 2\n"
	"exec \"$exe\" --shard \"$SLURM_ARRAY_TASK_ID/$n\" --executor local \"$@\"\n";

struct slurmarray {
	struct plan *p;
	const struct slurmjob *j;
	char *jobid;
	int shards;
	double submitted;         /* wall clock (time(2)) at submission */
	double t0;                /* now() at submission */
	unsigned char *sent;      /* per plan cell: 1 sent, 2 sent needing a run */
	long long *before;        /* per plan cell: entrytime() of its run entry
	                           * before the array (-1: none; -B keeps one) */
	unsigned char *landed;    /* per plan cell: its run entry is in the cache */
	size_t nsent, nlanded;
	int running, pending;     /* array tasks at the last squeue */
	int shown;                /* a progress line is on the terminal */
	char lastline[256];
	double lastprint;         /* now() of the last line (not a terminal) */
};

enum executor suiteexecutor(const struct evalfile *ef, const struct suite *s, const char *override)
{
	if (override && !strcmp(override, "local"))
		return EXEC_LOCAL;
	if (s->executor != EXEC_DEFAULT)
		return s->executor;
	enum executor top = override ? EXEC_SLURM : ef->executor;
	if (top != EXEC_SLURM || s->agent.kind == AGENT_HTTP)
		return EXEC_LOCAL;
	return EXEC_SLURM;
}

size_t slurmruns(const struct plan *p, const char *override)
{
	size_t nrun = 0;

	for (size_t i = 0; i < p->ncells; i++) {
		const struct cell *c = &p->cells[i];
		if (c->need == NEED_RUN && !c->othershard && suiteexecutor(p->ef, c->sp->suite, override) == EXEC_SLURM)
			nrun++;
	}
	return nrun;
}

size_t slurmshards(const struct slurmconf *sc, size_t nrun)
{
	size_t cap = (size_t)(sc->shards ? sc->shards : DEFAULT_SHARDS);

	return nrun > cap ? cap : nrun;
}

size_t leavetoslurm(struct plan *p, const char *override)
{
	size_t nrun = slurmruns(p, override);

	if (!nrun)
		return 0;
	for (size_t i = 0; i < p->ncells; i++) {
		struct cell *c = &p->cells[i];
		if (c->need == NEED_NOTHING || c->othershard || suiteexecutor(p->ef, c->sp->suite, override) != EXEC_SLURM)
			continue;
		/* 2: it needs a run (slurmcollect tells ran from graded by it) */
		c->othershard = c->need == NEED_RUN ? 2 : 1;
		c->need = NEED_NOTHING;
		c->status = CELL_PENDING;
		c->scored = 0;
	}
	return nrun;
}

/* read what is ready on fd into b; 0 at its end */
static int drain(int fd, struct buf *b)
{
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	if (n > 0)
		bufadd(b, tmp, (size_t)n);
	return n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN) ? 0 : 1;
}

/* run argv (argv[0] from PATH) with stdin from /dev/null, its stdout and
 * stderr into *out and *err (64 KiB each at most), killed after
 * CMD_TIMEOUT: its exit status (128+signal when killed), or -1 with
 * errno when it cannot be started */
static int runcmd(char *const *argv, char *const *envp, char **out, char **err)
{
	int po[2], pe[2];
	pid_t pid;
	posix_spawn_file_actions_t fa;
	struct buf bo = {.max = 65536}, be = {.max = 65536};

	*out = *err = NULL;
	if (pipe2(po, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(po[0]);
		close(po[1]);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	int e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp ? envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	if (e) {
		close(po[0]);
		close(pe[0]);
		errno = e;
		return -1;
	}
	bufadds(&bo, "");
	bufadds(&be, "");
	struct pollfd fds[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
	double deadline = now() + CMD_TIMEOUT;
	int open = 2, killed = 0;
	while (open > 0) {
		double left = deadline - now();
		if (left <= 0 && !killed) {
			kill(pid, SIGKILL);
			killed = 1;
		} else if (left < -5) {
			break; /* something it started holds the pipes */
		}
		int n = poll(fds, 2, left > 0 ? (int)(left * 1000) + 1 : 100);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; n > 0 && i < 2; i++)
			if (fds[i].fd >= 0 && fds[i].revents && !drain(fds[i].fd, i ? &be : &bo)) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open--;
			}
	}
	for (int i = 0; i < 2; i++)
		if (fds[i].fd >= 0)
			close(fds[i].fd);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	*out = bufdetach(&bo);
	*err = bufdetach(&be);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* the first line of what a command printed, for a message */
static char *firstline(const char *s)
{
	s += strspn(s, " \n");
	return xstrndup(s, strcspn(s, "\n"));
}

/* this program, as the kernel started it: what the array's tasks run */
static char *selfexe(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

struct argv {
	char **v;
	size_t n, cap;
};

static void add(struct argv *a, char *s)
{
	xgrow(&a->v, &a->cap, a->n + 2, sizeof(*a->v));
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static void freeargv(struct argv *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
}

struct slurmarray *slurmsubmit(struct plan *p, const struct slurmjob *j, size_t nrun, char **err)
{
	const struct slurmconf *sc = j->conf;
	size_t n = slurmshards(sc, nrun);
	char *exe = selfexe(), *out, *said;
	struct argv a = {0};

	*err = NULL;
	if (!exe) {
		*err = xasprintf("executor slurm: cannot find this program's path (/proc/self/exe): %s", strerror(errno));
		return NULL;
	}
	if (mkdirs(j->logdir, 0755) < 0) {
		*err = xasprintf("executor slurm: cannot make %s: %s", j->logdir, strerror(errno));
		free(exe);
		return NULL;
	}
	/* the tasks share the cache folder: fine on one host; across hosts
	 * SQLite's WAL mode is not safe on a network file system */
	const char *fs = netfsname(j->logdir);
	if (fs && !j->silent)
		fprintf(stderr, "evalmake: warning: the cache folder is on %s: its index (SQLite in WAL mode) is safe only for "
		                "the processes of one host; if the array's tasks run on other nodes, give each a cache folder "
		                "of its own and share results through a remote cache (--remote)\n", fs);
	char *script = pathjoin(j->logdir, "job.sh");
	if (writefile(script, jobscript, strlen(jobscript)) < 0) {
		*err = xasprintf("executor slurm: cannot write %s: %s", script, strerror(errno));
		free(script);
		free(exe);
		return NULL;
	}
	/* what each sent cell's entry was before: an entry there after the
	 * array is its result only when it is another (see freshrun) */
	long long *before = xcalloc(p->ncells ? p->ncells : 1, sizeof(*before));
	for (size_t i = 0; i < p->ncells; i++)
		before[i] = p->cells[i].othershard ? entrytime(p->store, p->cells[i].runkey) : -1;
	add(&a, xstrdup("sbatch"));
	add(&a, xstrdup("--parsable"));
	if (sc->max_parallel)
		add(&a, xasprintf("--array=1-%zu%%%d", n, sc->max_parallel));
	else
		add(&a, xasprintf("--array=1-%zu", n));
	add(&a, xstrdup("--job-name=evalmake"));
	add(&a, xasprintf("--chdir=%s", j->dir));
	add(&a, xasprintf("--output=%s/%%A_%%a.log", j->logdir));
	if (sc->partition)
		add(&a, xasprintf("--partition=%s", sc->partition));
	if (sc->time)
		add(&a, xasprintf("--time=%s", sc->time));
	for (size_t i = 0; i < sc->sbatch_args.n; i++)
		add(&a, xstrdup(sc->sbatch_args.v[i]));
	add(&a, script);
	add(&a, exe);
	add(&a, xasprintf("%zu", n));
	for (char *const *s = j->args; *s; s++)
		add(&a, xstrdup(*s));
	double t0 = now();
	time_t wall = time(NULL);
	/* sbatch passes its environment on to the tasks (--export=ALL) */
	struct argv env = {0};
	if (j->remote) {
		for (char **e = environ; *e; e++)
			if (strncmp(*e, "EVALMAKE_REMOTE=", 16))
				add(&env, xstrdup(*e));
		add(&env, xasprintf("EVALMAKE_REMOTE=%s", j->remote));
	}
	int rc = runcmd(a.v, j->remote ? env.v : NULL, &out, &said);
	freeargv(&a);
	if (j->remote)
		freeargv(&env);
	if (rc < 0) {
		*err = errno == ENOENT ? xstrdup("executor slurm: sbatch is not on PATH (run evalmake on a SLURM login node, "
		                                 "or use --executor local)")
		                       : xasprintf("executor slurm: cannot run sbatch: %s", strerror(errno));
		return NULL;
	}
	char *id = firstline(out);
	id[strcspn(id, ";")] = '\0'; /* "JOBID;CLUSTER" on a federation */
	if (rc != 0 || !id[0] || strspn(id, "0123456789") != strlen(id)) {
		char *why = firstline(said[0] ? said : out);
		*err = xasprintf("executor slurm: sbatch failed (exit status %d): %s", rc, why[0] ? why : "no message");
		free(why);
		free(id);
		free(out);
		free(said);
		free(before);
		return NULL;
	}
	free(out);
	free(said);
	struct slurmarray *s = xcalloc(1, sizeof(*s));
	s->before = before;
	s->p = p;
	s->j = j;
	s->jobid = id;
	s->shards = (int)n;
	s->submitted = (double)wall;
	s->t0 = t0;
	s->sent = xcalloc(p->ncells ? p->ncells : 1, 1);
	s->landed = xcalloc(p->ncells ? p->ncells : 1, 1);
	for (size_t i = 0; i < p->ncells; i++)
		if (p->cells[i].othershard) {
			s->sent[i] = (unsigned char)p->cells[i].othershard;
			s->nsent++;
		}
	if (!j->silent)
		fprintf(stderr, "evalmake: submitted SLURM job %s: %zu cell%s in an array of %d task%s (logs: %s/%s_K.log)\n",
		        id, s->nsent, s->nsent == 1 ? "" : "s", s->shards, s->shards == 1 ? "" : "s", j->logdir, id);
	return s;
}

/* count the sent cells whose run entry is in the cache now */
/* has plan cell i's run entry been stored since the array was submitted?
 * Its entry must be another than the one there before (with -B one is:
 * it is not the array's result), and its record is read from its
 * meta.json, not from the store's, which may be the old one. *r gets it. */
static int freshrun(struct slurmarray *a, size_t i, struct runrec *r)
{
	hash key = a->p->cells[i].runkey;
	long long t = entrytime(a->p->store, key);
	if (t < 0 || t == a->before[i])
		return 0;
	char *text = entrypart(a->p->store, key, "meta.json", NULL);
	cJSON *m = text ? cJSON_Parse(text) : NULL;
	const cJSON *out = cJSON_GetObjectItem(m, "output_hash");
	const cJSON *sec = cJSON_GetObjectItem(m, "seconds"), *ex = cJSON_GetObjectItem(m, "exit");
	int fresh = cJSON_IsString(out);

	if (fresh && r) {
		memset(r, 0, sizeof(*r));
		fresh = hashparse(out->valuestring, &r->out) == 0;
		r->seconds = cJSON_IsNumber(sec) ? sec->valuedouble : 0;
		r->exitcode = cJSON_IsNumber(ex) ? (int)ex->valuedouble : 0;
	}
	cJSON_Delete(m);
	free(text);
	return fresh;
}

static void countlanded(struct slurmarray *a)
{
	storeresync(a->p->store); /* see what the shards committed since */
	for (size_t i = 0; i < a->p->ncells; i++) {
		if (!a->sent[i] || a->landed[i])
			continue;
		if (freshrun(a, i, NULL)) {
			a->landed[i] = 1;
			a->nlanded++;
		}
	}
}

static void show(struct slurmarray *a)
{
	char line[256];

	if (a->j->silent)
		return;
	snprintf(line, sizeof(line), "slurm job %s: %zu/%zu cells in the cache; %d task%s running, %d pending", a->jobid,
	         a->nlanded, a->nsent, a->running, a->running == 1 ? "" : "s", a->pending);
	if (a->j->progress) {
		fprintf(stderr, "\r\033[K%s", line);
		fflush(stderr);
		a->shown = 1;
	} else if (strcmp(line, a->lastline) && now() - a->lastprint >= PRINT_EVERY) {
		/* not a terminal (a log): a line when something changed, at most
		 * one per PRINT_EVERY seconds */
		fprintf(stderr, "%s\n", line);
		a->lastprint = now();
	} else {
		return; /* the line not printed is the one to compare with */
	}
	snprintf(a->lastline, sizeof(a->lastline), "%s", line);
}

/* the job's tasks in squeue: 1 some are left (running and pending
 * counted), 0 none, -1 squeue failed (*why) */
static int squeue(struct slurmarray *a, char **why)
{
	char *argv[] = {"squeue", "-h", "-r", "-j", a->jobid, "-o", "%T", NULL};
	char *out, *err;
	int rc = runcmd(argv, NULL, &out, &err);

	*why = NULL;
	if (rc < 0) {
		*why = xasprintf("cannot run squeue: %s", strerror(errno));
		return -1;
	}
	if (rc != 0) {
		/* a job SLURM has forgotten is over */
		int gone = strstr(err, "Invalid job id") != NULL;
		if (!gone)
			*why = firstline(err[0] ? err : out);
		free(out);
		free(err);
		return gone ? 0 : -1;
	}
	a->running = a->pending = 0;
	for (char *l = out; *l;) {
		size_t n = strcspn(l, "\n");
		if (n)
			++*(!strncmp(l, "PENDING", 7) ? &a->pending : &a->running);
		l += n + (l[n] == '\n');
	}
	int left = a->running + a->pending > 0;
	free(out);
	free(err);
	return left;
}

static void clearline(struct slurmarray *a)
{
	if (a->shown)
		fputs("\r\033[K", stderr);
	a->shown = 0;
}

/* scancel the job, then wait (bounded) until squeue shows none of it */
static int cancel(struct slurmarray *a)
{
	char *argv[] = {"scancel", a->jobid, NULL};
	char *out, *err, *why;
	int rc = runcmd(argv, NULL, &out, &err), left = 1;

	clearline(a);
	if (rc != 0)
		warn("scancel %s failed: %s", a->jobid, rc < 0 ? strerror(errno) : err);
	free(out);
	free(err);
	for (double end = now() + CANCEL_WAIT; now() < end;) {
		if ((left = squeue(a, &why)) == 0)
			break;
		free(why);
		struct timespec ts = {0, 250000000};
		nanosleep(&ts, NULL);
	}
	if (left)
		warn("SLURM job %s: cancelled, but squeue still shows it after %.0f s", a->jobid, CANCEL_WAIT);
	else if (!a->j->silent)
		fprintf(stderr, "evalmake: interrupted: cancelled SLURM job %s; cells already in the cache are kept\n", a->jobid);
	return EXIT_INTR;
}

int slurmwait(struct slurmarray *a, struct loop *l)
{
	double next = 0;
	int fails = 0;

	for (;;) {
		if (loopinterrupted(l))
			return cancel(a);
		if (now() >= next) {
			char *why;
			int left = squeue(a, &why);
			countlanded(a);
			if (left == 0)
				break;
			if (left < 0) {
				if (++fails >= SQUEUE_FAILS) {
					clearline(a);
					warn("SLURM job %s: squeue failed %d times in a row (%s); not waiting for it any longer", a->jobid,
					     fails, why);
					free(why);
					break;
				}
				free(why);
			} else {
				fails = 0;
				show(a);
			}
			next = now() + POLL_EVERY;
		}
		loopstep(l, 0.25);
	}
	countlanded(a);
	clearline(a);
	if (!a->j->silent)
		fprintf(stderr, "evalmake: SLURM job %s ended: %zu/%zu cells in the cache (%.1f s)\n", a->jobid, a->nlanded,
		        a->nsent, now() - a->t0);
	return 0;
}

/* why the shard left the cell without a result: its last error, when it
 * is of this run key and of this job's time, else that it never ended */
static char *whyfailed(struct slurmarray *a, const struct cell *c)
{
	char *text = errorpart(a->p->store, c->id, "meta.json", NULL);
	cJSON *m = text ? cJSON_Parse(text) : NULL;
	const cJSON *key = cJSON_GetObjectItem(m, "run_key"), *fin = cJSON_GetObjectItem(m, "finished");
	const cJSON *e = cJSON_GetObjectItem(m, "error");
	char hx[33];
	char *why;

	hashhex(c->runkey, hx);
	if (cJSON_IsString(key) && !strcmp(key->valuestring, hx) && cJSON_IsNumber(fin) &&
	    fin->valuedouble >= a->submitted - 1 && cJSON_IsString(e))
		why = xstrdup(e->valuestring);
	else
		why = xstrdup("no result: its shard ended without one (cancelled, timed out, or killed)");
	cJSON_Delete(m);
	free(text);
	return why;
}

size_t slurmcollect(struct slurmarray *a, FILE *f)
{
	struct plan *p = a->p;
	size_t errors = 0;

	storeresync(p->store); /* see what the tasks committed */
	for (size_t i = 0; i < p->ncells; i++) {
		struct cell *c = &p->cells[i];
		if (!a->sent[i]) {
			/* ran here meanwhile (or failed: not again) */
			c->need = NEED_NOTHING;
			continue;
		}
		c->othershard = 0;
		struct runrec rec;
		const struct runrec *r = freshrun(a, i, &rec) ? &rec : NULL;
		if (!r) {
			char *why = whyfailed(a, c);
			char *log = xasprintf("%s/%s_%u.log", a->j->logdir, a->jobid, cellslice(c->id, (unsigned)a->shards) + 1);
			free(c->error);
			c->error = xasprintf("%s (shard log: %s)", why, log);
			c->status = CELL_ERROR;
			c->need = NEED_NOTHING;
			if (f)
				fprintf(f, "evalmake: %s: %s\n", c->id, c->error);
			free(why);
			free(log);
			errors++;
			continue;
		}
		setgradekey(p, c, r->out);
		c->seconds = r->seconds;
		int missing = 0;
		for (size_t g = 0; g < c->sp->suite->ngraders; g++) {
			const struct graderec *gr = findgrade(p->store, gradekeyof(c, g), 1);
			if (gr)
				setscore(c, g, gr->score);
			else
				missing = 1;
		}
		if (missing) { /* graded here next */
			c->need = NEED_GRADE;
			c->status = CELL_PENDING;
			continue;
		}
		c->need = NEED_NOTHING;
		c->status = a->sent[i] == 2 ? CELL_RAN : CELL_CACHED;
		c->graded_now = a->sent[i] != 2;
	}
	return errors;
}

const char *slurmjobid(const struct slurmarray *a)
{
	return a->jobid;
}

void freeslurm(struct slurmarray *a)
{
	if (!a)
		return;
	free(a->jobid);
	free(a->sent);
	free(a->landed);
	free(a->before);
	free(a);
}
