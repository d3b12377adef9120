/* project: see project.h. Shared by the commands in main.c and by the
 * commands that live in their own modules (check, diff, lock, report). */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/loop.h"
#include "core/seen.h"
#include "report/noop.h"
#include "core/secret.h"
#include "cmd/project.h"
#include "report/cost.h"
#include "run/trace.h"
#include "run/run.h"
#include "run/slurm.h"
#include "core/util.h"

char *absfrom(const char *cwd, const char *path)
{
	if (!path || path[0] == '/' || !strcmp(path, "-"))
		return path ? xstrdup(path) : NULL;
	return xasprintf("%s/%s", cwd, path);
}

/* like git: the Evalfile of the nearest parent folder that has one,
 * named relative to here ("../../Evalfile"); NULL when none has */
static char *findupward(void)
{
	char dir[PATH_MAX];
	struct buf up = {0};
	char *found = NULL;

	if (!getcwd(dir, sizeof(dir)))
		return NULL;
	for (char *slash; !found && (slash = strrchr(dir, '/')) && dir[1];) {
		slash[slash == dir] = '\0'; /* "/a/b" -> "/a", "/a" -> "/" */
		bufadds(&up, "../");
		static const char *const names[] = {"Evalfile", "evalfile"};
		for (size_t i = 0; !found && i < LEN(names); i++) {
			char *p = pathjoin(dir, names[i]);
			if (access(p, F_OK) == 0)
				found = xasprintf("%s%s", up.s, names[i]);
			free(p);
		}
	}
	free(up.s);
	return found;
}

void openproject(struct opts *o, struct project *pr)
{
	char *path = findevalfile(o->file), *err;
	char cwd[PATH_MAX];

	if (!path && (path = findupward()))
		fprintf(stderr, "evalmake: using %s\n", path);
	if (!path)
		die("no Evalfile here or in a parent folder (looked for Evalfile and evalfile); -f FILE names another, "
		    "'evalmake init' writes a starter one");
	if (access(path, R_OK) < 0)
		die("cannot read %s:", path);
	if (!getcwd(cwd, sizeof(cwd)))
		die("getcwd:");
	pr->cwd = xstrdup(cwd);
	if (o->json) {
		char *j = absfrom(cwd, o->json);
		o->json = j; /* freed at exit */
	}
	char *dir = dirname_of(path);
	if (chdir(dir) < 0)
		die("cannot change to %s:", dir);
	free(dir);
	char *base = basename_of(path, 0);
	if (o->lazy) {
		seenstart();
		if (noopverifying())
			seenmargin(20000000LL);
	}
	/* load from the Evalfile's directory, but name it as the user did */
	pr->ef = o->lazy ? loadevalfilelazy(base, &err) : loadevalfile(base, &err);
	if (pr->ef && strcmp(base, path)) {
		free(pr->ef->path);
		pr->ef->path = xstrdup(path);
	}
	if (!pr->ef) {
		/* the loader named the file as it read it: say it as the user did */
		if (strcmp(base, path) && !strncmp(err, base, strlen(base)))
			fprintf(stderr, "evalmake: %s%s\n", path, err + strlen(base));
		else
			fprintf(stderr, "evalmake: %s\n", err);
		free(err);
		free(base);
		free(path);
		exit(EXIT_USAGE);
	}
	free(base);
	free(path);
	declaresecrets(pr->ef);
	/* absolute, but not created yet: a plan that fails writes nothing */
	char here[PATH_MAX];
	if (!getcwd(here, sizeof(here)))
		die("getcwd:");
	pr->cache = pr->ef->cache[0] == '/' ? xstrdup(pr->ef->cache) : xasprintf("%s/%s", here, pr->ef->cache);
	pr->st = openstate(pr->cache);
	pr->store = openstore(pr->cache, &err);
	if (!pr->store)
		die("%s", err);
	/* a shard may share its cache folder with other hosts' (store.h) */
	if (o->shard.n)
		storeinline(pr->store, 0);
}

void declaresecrets(const struct evalfile *ef)
{
	for (size_t i = 0; i < ef->nsuites; i++) {
		const struct suite *s = &ef->suites[i];
		if (s->agent.kind == AGENT_HTTP)
			secretenv(s->agent.api_key_env);
		for (size_t k = 0; k < s->ngraders; k++)
			if (suitegrader(s, k)->type == GRADE_JUDGE)
				secretenv(suitegrader(s, k)->judge.api_key_env);
	}
}

void closeproject(struct project *pr)
{
	closestore(pr->store);
	closestate(pr->st);
	freeevalfile(pr->ef);
	free(pr->cache);
	free(pr->cwd);
}

struct plan *planor2(struct project *pr, const struct planopts *po)
{
	char *err;
	struct plan *p = makeplan(pr->ef, pr->st, pr->store, po, &err);

	if (!p) {
		fprintf(stderr, "evalmake: %s\n", err);
		free(err);
		closeproject(pr);
		exit(EXIT_USAGE);
	}
	return p;
}

/* --max-cost: the mean cost per cell to run that -n would guess, so the
 * first cells, started before any is priced, are bounded too; 0 when
 * nothing was measured */
static double costguess(struct plan *p)
{
	double cost = 0;
	size_t n = 0;

	for (size_t i = 0; i < p->nsp; i++) {
		struct usageguess g;
		guessusage(p, &p->sp[i], &g);
		if (!g.measured || !g.priced)
			continue;
		cost += g.cost;
		for (size_t k = 0; k < p->ncells; k++)
			n += p->cells[k].sp == &p->sp[i] && p->cells[k].need == NEED_RUN;
	}
	return n ? cost / (double)n : 0;
}

/* the arguments of a SLURM array task: the Evalfile, the options that
 * change what runs, then the targets of suites the array runs (all of
 * them when none was named), so a task plans the same cells as we do */
static char **shardargs(struct opts *o, struct project *pr)
{
	struct strv a = {0};
	char *ef = absfrom(pr->cwd, pr->ef->path);
	char num[32];

	strvadd(&a, "-f");
	strvadd(&a, ef);
	free(ef);
	if (o->jobs) {
		snprintf(num, sizeof(num), "-j%d", o->jobs);
		strvadd(&a, num);
	}
	if (o->keepgoing)
		strvadd(&a, "-k");
	if (o->rebuild)
		strvadd(&a, "-B");
	if (o->iterations) {
		snprintf(num, sizeof(num), "--iterations=%d", o->iterations);
		strvadd(&a, num);
	}
	if (o->sample) {
		snprintf(num, sizeof(num), "--sample=%d", o->sample);
		strvadd(&a, num);
	}
	/* the remote cache as this run uses it: --remote goes to sbatch's
	 * environment (slurmjob.remote), never on a command line that squeue
	 * and scontrol show, since a URL may hold a password; the Evalfile's
	 * reaches the tasks by itself */
	if (o->noremote)
		strvadd(&a, "--no-remote");
	if (o->remoteupload)
		strvadd(&a, "--remote-upload");
	for (int i = 0; i < o->nargs; i++) {
		char *name = xstrndup(o->args[i], strcspn(o->args[i], "/"));
		const struct suite *s = findsuite(pr->ef, name);
		if (s && suiteexecutor(pr->ef, s, o->executor) == EXEC_SLURM)
			strvadd(&a, o->args[i]);
		free(name);
	}
	for (size_t i = 0; !o->nargs && i < pr->ef->nsuites; i++)
		if (suiteexecutor(pr->ef, &pr->ef->suites[i], o->executor) == EXEC_SLURM)
			strvadd(&a, pr->ef->suites[i].name);
	xgrow(&a.v, &a.cap, a.n + 1, sizeof(*a.v));
	a.v[a.n] = NULL;
	return a.v;
}

int runcells(struct opts *o, struct project *pr, struct plan *p)
{
	char *err;
	int rc;

	struct loop *l = mkloop();
	struct remote *rem = openremote(o, pr, l);
	fetchcells(p, rem, 0);
	if (loopinterrupted(l)) { /* Ctrl-C while looking: nothing starts */
		freeremote(rem);
		freeloop(l);
		return EXIT_INTR;
	}
	if (remotefailed(rem)) {
		freeremote(rem);
		freeloop(l);
		return EXIT_USAGE;
	}
	if (preparerun(p, &err) < 0) {
		fprintf(stderr, "evalmake: %s\n", err);
		free(err);
		freeremote(rem);
		freeloop(l);
		return EXIT_USAGE;
	}
	/* the cells of slurm suites go to one job array; the others run here
	 * meanwhile (a shard runs its slice here: it never submits) */
	struct slurmarray *arr = NULL;
	char **args = NULL, *logdir = NULL;
	struct slurmjob job = {0};
	char here[PATH_MAX];
	size_t nrun = o->shard.n ? 0 : leavetoslurm(p, o->executor);
	if (nrun && (o->untilse > 0 || o->maxcells || o->maxcost > 0)) {
		/* a bound counts the cells started here; the array's tasks
		 * start theirs apart from each other */
		fprintf(stderr, "evalmake: --until-stderr, --max-cells and --max-cost bound the cells run here, not a SLURM "
		                "job array: use them with --executor local\n");
		freeremote(rem);
		freeloop(l);
		return EXIT_USAGE;
	}
	if (nrun) {
		args = shardargs(o, pr);
		logdir = pathjoin(pr->cache, "slurm");
		job = (struct slurmjob){.conf = &pr->ef->slurm, .args = args, .dir = ".", .logdir = logdir,
		                        .progress = isatty(2), .silent = o->silent,
		                        .remote = o->noremote ? NULL : o->remote};
		if (getcwd(here, sizeof(here)))
			job.dir = here;
		arr = slurmsubmit(p, &job, nrun, &err);
		if (!arr) {
			fprintf(stderr, "evalmake: %s\n", err);
			free(err);
			for (char **s = args; *s; s++)
				free(*s);
			free(args);
			free(logdir);
			freeremote(rem);
			freeloop(l);
			return EXIT_USAGE;
		}
	}
	struct runopts ro = {
		.remote = rem,
		.jobs = o->jobs ? o->jobs : pr->ef->jobs ? pr->ef->jobs : 4,
		.keepgoing = o->keepgoing || pr->ef->keepgoing,
		.verbose = o->verbose,
		.silent = o->silent,
		.progress = isatty(2),
		.color = usecolor(stderr),
		.trace = o->verbose && !o->silent && traceverbose(p),
		.untilse = o->untilse,
		.maxcells = o->maxcells,
		.maxcost = o->maxcost,
		.estimatelines = o->estimates && !isatty(2),
		.costguess = o->maxcost > 0 ? costguess(p) : 0,
	};
	rc = runplan(p, l, &ro);
	if (arr) {
		if (slurmwait(arr, l) == EXIT_INTR) {
			rc = EXIT_INTR;
		} else {
			size_t errors = slurmcollect(arr, stderr);
			int rc2 = runplan(p, l, &ro); /* what only needs a grade now */
			if (!rc)
				rc = rc2;
			if (errors && !rc)
				rc = EXIT_GATE;
		}
		freeslurm(arr);
		for (char **s = args; *s; s++)
			free(*s);
		free(args);
		free(logdir);
	}
	remoteflush(rem);
	if (remotefailed(rem) && rc != EXIT_INTR)
		rc = EXIT_USAGE;
	freeremote(rem);
	freeloop(l);
	recordcells(p);
	storesync(pr->store); /* the results of the run, on the disk */
	return rc;
}

int remoteconfig(struct opts *o, struct project *pr, struct remoteopts *ro)
{
	const struct remotecfg *c = &pr->ef->remote;
	const char *url = c->url, *env = getenv("EVALMAKE_REMOTE");

	if (o->noremote)
		return 0;
	if (o->remote) {
		url = o->remote;
	} else if (env && *env) {
		const char *bad = badremoteurl(env);
		if (bad) {
			fprintf(stderr, "evalmake: EVALMAKE_REMOTE: %s\n", bad);
			exit(EXIT_USAGE);
		}
		url = env;
	}
	if (!url && o->remoteupload) {
		fprintf(stderr, "evalmake: --remote-upload: no remote cache to upload to (expected remote: url in %s, "
		                "--remote URL or EVALMAKE_REMOTE)\n", pr->ef->path);
		exit(EXIT_USAGE);
	}
	if (!url)
		return 0;
	*ro = (struct remoteopts){.url = url, .upload = o->remoteupload || c->upload, .token_env = c->token_env,
	                          .timeout = c->timeout, .required = c->required};
	return 1;
}

struct remote *openremote(struct opts *o, struct project *pr, struct loop *l)
{
	struct remoteopts ro;

	return remoteconfig(o, pr, &ro) ? mkremote(&ro, pr->store, l) : NULL;
}

int usecolor(FILE *f)
{
	const char *nc = getenv("NO_COLOR");

	return isatty(fileno(f)) && !(nc && nc[0]) && getenv("TERM") && strcmp(getenv("TERM"), "dumb");
}
