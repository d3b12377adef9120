/* project: what every command starts from. The parsed command line
 * (struct opts, filled by main), and the open project: the loaded
 * Evalfile, the stat cache and the store. Opening a project changes to the
 * Evalfile's directory, so paths the user gave relative to where evalmake
 * started are made absolute first (or later, from pr->cwd). */
#ifndef PROJECT_H
#define PROJECT_H

#include <stdio.h>

#include "load/evalfile.h"
#include "plan/plan.h"
#include "plan/shard.h"
#include "store/state.h"
#include "store/store.h"
#include "store/remote.h"

struct opts {
	const char *file;
	int jobs, rebuild, dryrun, question, keepgoing, silent, verbose;
	int iterations, sample;
	char *json;
	/* check, diff, report */
	double minscore;          /* --min-score; < 0 when not given */
	double maxdrop;           /* --max-drop; < 0 when not given */
	char *baseline, *junit, *markdown, *html;
	int locked;
	int jsonl;                /* watch --jsonl */
	int full;                 /* watch --jsonl --full: whole reports */
	const char *serve;        /* watch --serve [ADDR:PORT] ("" when bare); NULL when not given */
	double gckeep;            /* gc --keep DAYS; < 0 when not given */
	int gcall;                /* gc --all */
	int raw;                  /* log -r/--raw: agent output as it is */
	const char *format;       /* export --format */
	const char *output;       /* export -o FILE */
	const char *remote;       /* --remote URL, or NULL */
	int noremote;             /* --no-remote */
	int remoteupload;         /* --remote-upload */
	/* build: the run's bounds (run.h); 0 when not given */
	double untilse;           /* --until-stderr X */
	size_t maxcells;          /* --max-cells N */
	double maxcost;           /* --max-cost USD */
	int estimates;            /* --estimates: a line per estimate update */
	const char *shardspec;    /* --shard K/N or auto, as given */
	int shards;               /* --shards N (with --shard auto) */
	struct shard shard;       /* --shard parsed: slice k of n; n 0 when not given */
	const char *executor;     /* --executor slurm|local; NULL when not given */
	char **args;
	int nargs;
	int lazy;                 /* openproject: record what is seen (core/seen.h) and
	                           * leave the task globs to expandtasks (report/noop.h) */
};

struct project {
	struct evalfile *ef;
	struct state *st;
	struct store *store;
	char *cache;              /* the cache folder, absolute */
	char *cwd;                /* where evalmake started */
};

/* find and load the Evalfile (exit 2 when missing or bad), change to its
 * directory, open the cache; o->json becomes absolute. With o->lazy,
 * record what loading sees (seen.h) and expand no task glob: the caller
 * calls expandtasks (or exits 2 with its error) before planning */
void openproject(struct opts *o, struct project *pr);
/* declare the API keys ef names (every suite's api_key_env, for agents and
 * judges; the provider's default variable when none is named) as secrets:
 * redacted from everything stored and printed */
void declaresecrets(const struct evalfile *ef);
/* close the store and free what openproject made (savestate is separate) */
void closeproject(struct project *pr);
/* makeplan, or print its error, close the project and exit 2 */
struct plan *planor2(struct project *pr, const struct planopts *po);
/* bring the plan's cells up to date as the default command does (-j, -k,
 * -v, -s); returns 0, EXIT_GATE (a cell errored), EXIT_INTR, or
 * EXIT_USAGE when nothing could start (a prompt failed to render) */
int runcells(struct opts *o, struct project *pr, struct plan *p);
/* the remote cache this run uses, or NULL: --no-remote, else --remote URL,
 * else $EVALMAKE_REMOTE, else the Evalfile's remote: url (a bad
 * EVALMAKE_REMOTE is exit 2); upload with --remote-upload or upload: true */
struct remote *openremote(struct opts *o, struct project *pr, struct loop *l);
/* the same choice as options for mkremote; 0 when there is no remote */
int remoteconfig(struct opts *o, struct project *pr, struct remoteopts *ro);
/* colour on f: a terminal, NO_COLOR unset, TERM not dumb */
int usecolor(FILE *f);
/* path made absolute against cwd ("-" and NULL stay as they are); a copy */
char *absfrom(const char *cwd, const char *path);

#endif
