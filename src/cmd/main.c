/* main: the command line. Parses options, finds and loads the Evalfile,
 * then hands over to one command: build (the default), status, explain,
 * log, gc and the others of commands[], which also says which options each
 * takes: any other is refused, never ignored. The data flows one way:
 *   Evalfile -> plan (cells, keys, what each needs) -> run -> grade ->
 *   store -> report. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <time.h>
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "load/evalfile.h"
#include "core/loop.h"
#include "plan/plan.h"
#include "cmd/project.h"
#include "core/seen.h"
#include "report/noop.h"
#include "report/report.h"
#include "report/cost.h"
#include "run/run.h"
#include "store/db.h"
#include "store/state.h"
#include "store/store.h"
#include "core/secret.h"
#include "core/util.h"
#include "cmd/watch.h"
#include "cmd/check.h"
#include "cmd/init.h"
#include "report/diff.h"
#include "store/history.h"
#include "report/html.h"
#include "store/lock.h"
#include "core/proc.h"
#include "run/trace.h"
#include "run/slurm.h"
#include <cjson/cJSON.h>
#include "run/inputs.h"
#include "cmd/export.h"

#define VERSION "0.1.0"

static const char usage[] =
	"usage: evalmake [OPTION...] [TARGET...]      bring scores up to date\n"
	"       evalmake init                          write a starter Evalfile, prompt, tasks and agent here\n"
	"       evalmake help [COMMAND]                a command's usage (also: evalmake COMMAND --help)\n"
	"       evalmake status [TARGET...]            scores from the cache, nothing run\n"
	"       evalmake explain CELL                  why a cell would run\n"
	"       evalmake log [-r] CELL                 a cell's record, expected answer, prompt, output,\n"
	"                                              transcripts, grade (-r: control characters as they are)\n"
	"       evalmake deps CELL                     run the cell's agent traced: the project files\n"
	"                                              it reads that no input declares (-B: replace\n"
	"                                              the stored result)\n"
	"       evalmake gc [-n] [--keep DAYS | --all]  drop cache entries no cell or lock refers to,\n"
	"                                              unused for DAYS (default 30); -n: only list them\n"
	"       evalmake watch [--jsonl] [TARGET...]   run, then rerun affected cells on every save\n"
	"       evalmake watch --serve [ADDR:PORT]     ... and serve a live report page (default\n"
	"                                              127.0.0.1, a free port; the URL goes to stderr)\n"
	"       evalmake export --format F -o FILE     cached, graded cells as training data (F: chat,\n"
	"                                              preference or rewards; JSONL)\n"
	"       evalmake check [TARGET...]             CI gate: run, then require every suite's threshold\n"
	"       evalmake diff OLD.json [NEW.json]      per-suite deltas and the tasks that flipped\n"
	"                                              (NEW: the current cached state)\n"
	"       evalmake lock                          write Evalfile.lock: every cell's keys and score\n"
	"       evalmake report --html FILE [TARGET...]\n"
	"                                              one page: grids, transcripts, history\n"
	"\n"
	"A TARGET is SUITE, SUITE/TASK or SUITE/TASK#K (iterations count from 1).\n"
	"\n"
	"options:\n"
	"  -f FILE           the Evalfile (default: ./Evalfile, then ./evalfile, then the\n"
	"                    same in each parent folder, like git)\n"
	"  -C DIR            change to DIR first, like make -C and git -C\n"
	"  -j N              run N cells at once (default: the Evalfile's jobs, else 4)\n"
	"  -B                rebuild: run every targeted cell again\n"
	"  -n                dry run: list what would run and why, run nothing\n"
	"  -q                question: exit 0 if every targeted cell is up to date, else 1\n"
	"  -k                keep going after a cell error\n"
	"  -s                silent: no progress, no table\n"
	"  -v                verbose: every cell as it finishes, every failing task\n"
	"  --iterations N    N iterations for every suite\n"
	"  --sample K        K tasks per suite (a fixed sample: a larger K adds tasks)\n"
	"  --json FILE       write the JSON report to FILE ('-': stdout)\n"
	"  --until-stderr X  stop starting a suite's cells once its standard error is <= X\n"
	"  --max-cells N     start at most N cells\n"
	"  --max-cost USD    start no cell that would take the cost past USD (needs pricing:)\n"
	"  --estimates       a line per suite estimate as cells land, also off a terminal\n"
	"  --shard K/N       run only slice K of N of the cells that need work (1-based; a\n"
	"                    stable hash of the cell id); auto: from SLURM_ARRAY_TASK_ID or\n"
	"                    JOB_COMPLETION_INDEX (with --shards N)\n"
	"  --executor E      slurm: run the cells as one SLURM job array; local: here\n"
	"  -h, --help        this help\n"
	"  --version         print the version\n"
	"\n"
	"check options:\n"
	"  --min-score X     every suite's score must be at least X\n"
	"  --baseline FILE   a JSON report (--json) to compare with, e.g. main's\n"
	"  --max-drop D      a suite may score at most D below the baseline (default 0)\n"
	"  --junit FILE      JUnit XML: a testsuite per suite, a testcase per task\n"
	"  --markdown FILE   a Markdown summary (also appended to $GITHUB_STEP_SUMMARY)\n"
	"  --locked          run nothing: require Evalfile.lock to match, gate its scores\n"
	"\n"
	"remote cache options (run, watch, check):\n"
	"  --remote URL      use the remote cache at URL: http(s)://HOST/PATH (Bazel HTTP cache\n"
	"                    layout) or s3://BUCKET/PREFIX[?region=R&endpoint=URL]; also\n"
	"                    EVALMAKE_REMOTE; overrides the Evalfile's remote: url\n"
	"  --no-remote       use no remote cache\n"
	"  --remote-upload   upload what this run computes (default: only read)\n"
	"\n"
	"exit status: 0 all good, 1 a gate failed or a cell errored, 2 bad usage or a\n"
	"bad Evalfile (nothing is run), 130 interrupted (143 SIGTERM, 129 SIGHUP).\n";

/* One line per option, as `evalmake help COMMAND` lists them; name is the
 * option's canonical spelling, the one commands[].opts use */
static const struct option_help {
	const char *name, *arg, *text;
} optionhelp[] = {
	{"-f", "FILE", "the Evalfile (default: Evalfile or evalfile here or in a parent folder)"},
	{"-C", "DIR", "change to DIR first"},
	{"-j", "N", "run N cells at once (default: the Evalfile's jobs, else 4)"},
	{"-B", NULL, "rebuild: run every targeted cell again"},
	{"-n", NULL, "dry run: list what would run and why, run nothing"},
	{"-q", NULL, "question: exit 0 if every targeted cell is up to date, else 1"},
	{"-k", NULL, "keep going after a cell error"},
	{"-s", NULL, "silent: no progress, no table (errors are still printed)"},
	{"-v", NULL, "verbose: every cell as it finishes, every failing task"},
	{"--iterations", "N", "N iterations for every suite"},
	{"--sample", "K", "K tasks per suite (a fixed sample: a larger K adds tasks)"},
	{"--json", "FILE", "write the JSON report to FILE ('-': stdout, the table goes to stderr)"},
	{"--shard", "K/N", "run only slice K of N of the cells that need work (auto: SLURM_ARRAY_TASK_ID, "
	                   "JOB_COMPLETION_INDEX)"},
	{"--shards", "N", "the number of shards, with --shard auto and JOB_COMPLETION_INDEX"},
	{"--executor", "E", "slurm: run the cells as one SLURM job array; local: run them here (the default)"},
	{"--jsonl", NULL, "one JSON line per update on stdout, for scripts: suites and the cells that changed"},
	{"--full", NULL, "watch --jsonl: every line the whole report"},
	{"--until-stderr", "X", "stop starting a suite's cells once its standard error over tasks is <= X"},
	{"--max-cells", "N", "start at most N cells (run or graded again); the rest are not run"},
	{"--estimates", NULL, "a line per suite estimate update as cells land (score, stderr, n of N cells), also when "
	                      "stderr is not a terminal; watch --jsonl: a JSON line"},
	{"--max-cost", "USD", "start no agent that would take the run's cost past USD (the Evalfile's pricing)"},
	{"--min-score", "X", "every suite's score must be at least X"},
	{"--baseline", "FILE", "a JSON report (--json) to compare with, e.g. main's"},
	{"--max-drop", "D", "a suite may score at most D below the baseline (default 0)"},
	{"--junit", "FILE", "JUnit XML: a testsuite per suite, a testcase per task"},
	{"--markdown", "FILE", "a Markdown summary (also appended to $GITHUB_STEP_SUMMARY)"},
	{"--locked", NULL, "run nothing: require Evalfile.lock to match, gate its scores"},
	{"--html", "FILE", "the page to write"},
	{"--keep", "DAYS", "keep unreferenced entries used within DAYS (default 30)"},
	{"--all", NULL, "drop every unreferenced entry, however recently used"},
	{"-r", NULL, "raw: agent output as it is, control characters and escapes included (--raw)"},
	{"--serve", "[ADDR:PORT]", "serve the live view (default 127.0.0.1, a free port)"},
	{"--format", "FORMAT", "chat (fine-tuning), preference (DPO pairs) or rewards (RL)"},
	{"-o", "FILE", "the file to write ('-': stdout)"},
	{"--remote", "URL", "the remote cache to use (http(s)://... or s3://BUCKET/PREFIX; also EVALMAKE_REMOTE)"},
	{"--no-remote", NULL, "use no remote cache, whatever the Evalfile or EVALMAKE_REMOTE say"},
	{"--remote-upload", NULL, "upload what this run computes to the remote cache"},
};

/* the long spelling of a letter option, offered by the completion too */
static const char *const optionalias[][2] = {
	{"-f", "--file"}, {"-C", "--directory"}, {"-j", "--jobs"}, {"-n", "--dry-run"}, {"-q", "--question"},
	{"-k", "--keep-going"}, {"-s", "--silent"}, {"-v", "--verbose"}, {"-r", "--raw"}, {"-o", "--output"},
};

/* what an option does for one command, where the line above would
 * mislead (gc's -n lists entries, it runs nothing either way) */
static const struct option_cmdhelp {
	const char *cmd, *name, *text;
} optioncmdhelp[] = {
	{"gc", "-n", "dry run: list the entries that would go, remove nothing"},
	{"gc", "-v", "list each entry removed"},
	{"export", "--min-score", "keep only cells scoring at least X (preference: the preferred output's)"},
	{"export", "-s", "silent: no summary line (errors are still printed)"},
	{"report", "-s", "silent: no 'wrote FILE' line (errors are still printed)"},
	{"lock", "-s", "silent: no 'wrote Evalfile.lock' line (errors are still printed)"},
	{"lock", "-v", "list every cell that is not up to date, not only the first few"},
	{"deps", "-B", "the traced run's result replaces the stored one"},
	{"diff", "--json", "write the differences as JSON to FILE ('-': stdout, the table goes to stderr)"},
};

/* The commands: what each takes (canonical option names, space separated;
 * -h/--help and --version go with every one), its synopsis and what it
 * does. An option a command does not take is refused, never ignored. */
enum { CMD_BUILD, CMD_STATUS, CMD_EXPLAIN, CMD_LOG, CMD_GC, CMD_WATCH, CMD_CHECK, CMD_DIFF, CMD_LOCK, CMD_REPORT,
       CMD_DEPS, CMD_INIT, CMD_HELP, CMD_COMPLETE, CMD_EXPORT };
static const struct command {
	const char *name, *opts, *synopsis, *text;
} commands[] = {
	[CMD_BUILD] = {"", "-f -C -j -B -n -q -k -s -v --iterations --sample --json --remote --no-remote --remote-upload --until-stderr --max-cells --max-cost --estimates --shard --shards --executor", "[OPTION...] [TARGET...]",
	               "bring the targeted cells' scores up to date: run the cells whose inputs changed, grade\n"
	               "again those whose grader changed, and print the score table"},
	[CMD_STATUS] = {"status", "-f -C -s -v --iterations --sample --json", "[OPTION...] [TARGET...]",
	                "the scores the cache holds for the targeted cells; nothing is run"},
	[CMD_EXPLAIN] = {"explain", "-f -C --iterations", "[OPTION...] CELL",
	                 "why a cell would run (or be graded again): which of its inputs changed, and its keys.\n"
	                 "CELL is SUITE/TASK#K, or SUITE/TASK for each of the task's iterations"},
	[CMD_LOG] = {"log", "-f -C -r --iterations", "[OPTION...] CELL",
	             "a cell's stored prompt, output, transcript and grade, or its last failed attempt.\n"
	             "CELL is SUITE/TASK#K, or SUITE/TASK for each of the task's iterations"},
	[CMD_GC] = {"gc", "-f -C -n -v --keep --all", "[-n] [--keep DAYS | --all]",
	            "drop cache entries that no cell of the Evalfile and no lock file beside it refers to,\n"
	            "once unused for DAYS (default 30); -n only lists them, -v lists what goes"},
	[CMD_WATCH] = {"watch", "-f -C -j -B -k -v --iterations --sample --jsonl --full --serve --remote --no-remote --remote-upload --estimates", "[OPTION...] [TARGET...]",
	               "run, then run the affected cells again on every save (errors never stop it: -k is\n"
	               "implied)"},
	[CMD_CHECK] = {"check",
	               "-f -C -j -B -k -s -v --iterations --sample --json --min-score --baseline --max-drop "
	               "--junit --markdown --locked --remote --no-remote --remote-upload --shard --shards --executor",
	               "[OPTION...] [TARGET...]",
	               "the CI gate: run, then require every suite's threshold (and --min-score, --max-drop);\n"
	               "exit 1 when a gate fails or a cell errors"},
	[CMD_DIFF] = {"diff", "-f -C --iterations --sample --json", "[OPTION...] OLD.json [NEW.json]",
	              "per-suite score deltas and the tasks that flipped (NEW: the current cached state)"},
	[CMD_LOCK] = {"lock", "-f -C -s -v", "[OPTION...]",
	              "write Evalfile.lock: every cell's keys and score, to commit with the change"},
	[CMD_REPORT] = {"report", "-f -C -s --iterations --sample --html", "--html FILE [OPTION...] [TARGET...]",
	                "write one self-contained page: grids of cells, transcripts, score history"},
	[CMD_DEPS] = {"deps", "-f -C -B --iterations", "[OPTION...] CELL",
	              "run the cell's agent traced and name the project files it reads that no input declares\n"
	              "(-B: the traced run's result replaces the stored one)"},
	[CMD_INIT] = {"init", "", "",
	              "write a commented starter Evalfile, a prompt, two sample tasks and an agent script in\n"
	              "the current folder (nothing is overwritten), so that `evalmake` prints a first score"},
	[CMD_HELP] = {"help", "", "[COMMAND]", "print the usage of evalmake, or of one command"},
	[CMD_COMPLETE] = {"__complete", "-f -C", "commands | options COMMAND | targets",
	                  "words for the shell completion scripts, one a line"},
	[CMD_EXPORT] = {"export", "-f -C -s --iterations --sample --format -o --min-score",
	                "--format chat|preference|rewards -o FILE [OPTION...] [TARGET...]",
	                "write the targeted cells that are cached and graded as JSONL training data, nothing run:\n"
	                "  chat        {\"messages\": [system, user, assistant]} per cell (OpenAI fine-tuning)\n"
	                "  preference  per task, its best and worst output of one prompt (OpenAI DPO)\n"
	                "  rewards     {\"prompt\", \"completion\", \"reward\", \"cell\", \"key\"} per cell (RL)\n"
	                "--min-score X keeps cells scoring at least X (preference: the preferred output's score)"},
};

/* the options given, by canonical name, to be checked against the command's */
static const char *given[64];
static int ngiven;

static void optgiven(const char *name)
{
	if (ngiven < (int)LEN(given))
		given[ngiven++] = name;
}

/* does the command take the option? */
static int takes(const struct command *c, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = c->opts; (p = strstr(p, name)); p += n)
		if ((p == c->opts || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return 1;
	return 0;
}

/* what option name does for command c */
static const char *optiontext(const struct command *c, const struct option_help *h)
{
	for (size_t i = 0; i < LEN(optioncmdhelp); i++)
		if (!strcmp(optioncmdhelp[i].cmd, c->name) && !strcmp(optioncmdhelp[i].name, h->name))
			return optioncmdhelp[i].text;
	return h->text;
}

static void commandhelp(FILE *f, const struct command *c)
{
	fprintf(f, "usage: evalmake%s%s%s%s\n\n%s\n", c->name[0] ? " " : "", c->name, c->synopsis[0] ? " " : "",
	        c->synopsis, c->text);
	if (c->opts[0])
		fprintf(f, "\noptions:\n");
	for (size_t i = 0; i < LEN(optionhelp); i++) {
		const struct option_help *h = &optionhelp[i];
		if (!takes(c, h->name))
			continue;
		char left[32];
		snprintf(left, sizeof(left), "%s%s%s", h->name, h->arg ? " " : "", h->arg ? h->arg : "");
		fprintf(f, "  %-17s %s\n", left, optiontext(c, h));
	}
	if (strstr(c->synopsis, "TARGET"))
		fprintf(f, "\nA TARGET is SUITE, SUITE/TASK or SUITE/TASK#K (iterations count from 1).\n");
	fprintf(f, "\nsee 'evalmake --help' for every command, 'man evalmake' for more\n");
}

/* exit 2 on the first option given that c does not take, in one line
 * naming the commands that do take it */
static void refuseoptions(const struct command *c)
{
	for (int i = 0; i < ngiven; i++) {
		if (takes(c, given[i]))
			continue;
		fprintf(stderr, "evalmake: %s%s does not take %s (", c->name[0] ? c->name : "a build",
		        c->name[0] ? "" : " (no command)", given[i]);
		const char *sep = "it is an option of ";
		for (size_t k = 0; k < LEN(commands); k++)
			if (&commands[k] != c && commands[k].name[0] != '_' && takes(&commands[k], given[i])) {
				fprintf(stderr, "%s%s", sep, commands[k].name[0] ? commands[k].name : "a build");
				sep = ", ";
			}
		fprintf(stderr, "%ssee 'evalmake %s%s')\n", sep[0] == ',' ? "; " : "", c->name[0] ? "help " : "--help",
		        c->name);
		exit(EXIT_USAGE);
	}
}

/* refuse a usage error in one line, pointing at the help */
static void usageerr(const char *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "evalmake: ");
	fprintf(stderr, fmt, arg);
	if (cmd && cmd[0])
		fprintf(stderr, " (see 'evalmake help %s')\n", cmd);
	else
		fprintf(stderr, " (see 'evalmake --help')\n");
	exit(EXIT_USAGE);
}

static int posint(const char *s, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end || v < 1 || v > 1000000)
		die("%s: expected a positive integer, got '%s'", what, s);
	return (int)v;
}

/* a score or a score difference: a number in [0,1] */
static double fraction(const char *s, const char *what)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v >= 0 && v <= 1))
		die("%s: expected a number from 0 to 1, got '%s'", what, s);
	return v;
}

static int helpasked; /* -h or --help: the command's help, or the general one */

/* an option's canonical name: "-B" for a letter, "--json" for a long
 * option that has no letter */
static const char *canonical(int c, const struct option *longopts)
{
	static char names[64][32];
	static int n;
	char *s = names[n++ % 64];

	if (c < 256) {
		snprintf(s, sizeof(names[0]), "-%c", c);
		return s;
	}
	for (const struct option *l = longopts; l->name; l++)
		if (l->val == c) {
			snprintf(s, sizeof(names[0]), "--%s", l->name);
			return s;
		}
	return "?";
}

static void parseopts(int argc, char **argv, struct opts *o)
{
	enum { OPT_ITER = 256, OPT_SAMPLE, OPT_JSON, OPT_VERSION, OPT_JSONL,
	       OPT_MINSCORE, OPT_BASELINE, OPT_MAXDROP, OPT_JUNIT, OPT_MARKDOWN, OPT_LOCKED, OPT_HTML,
	       OPT_KEEP, OPT_ALL, OPT_SERVE, OPT_FORMAT, OPT_REMOTE, OPT_NOREMOTE, OPT_REMOTEUPLOAD,
	       OPT_UNTILSE, OPT_MAXCELLS, OPT_MAXCOST, OPT_ESTIMATES,
	       OPT_SHARD, OPT_SHARDS, OPT_EXECUTOR, OPT_FULL };
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		{"iterations", required_argument, NULL, OPT_ITER},
		{"sample", required_argument, NULL, OPT_SAMPLE},
		{"json", required_argument, NULL, OPT_JSON},
		{"jsonl", no_argument, NULL, OPT_JSONL},
		{"full", no_argument, NULL, OPT_FULL},
		{"min-score", required_argument, NULL, OPT_MINSCORE},
		{"baseline", required_argument, NULL, OPT_BASELINE},
		{"max-drop", required_argument, NULL, OPT_MAXDROP},
		{"junit", required_argument, NULL, OPT_JUNIT},
		{"markdown", required_argument, NULL, OPT_MARKDOWN},
		{"locked", no_argument, NULL, OPT_LOCKED},
		{"html", required_argument, NULL, OPT_HTML},
		{"keep", required_argument, NULL, OPT_KEEP},
		{"all", no_argument, NULL, OPT_ALL},
		{"serve", optional_argument, NULL, OPT_SERVE},
		{"format", required_argument, NULL, OPT_FORMAT},
		{"output", required_argument, NULL, 'o'},
		{"remote", required_argument, NULL, OPT_REMOTE},
		{"no-remote", no_argument, NULL, OPT_NOREMOTE},
		{"remote-upload", no_argument, NULL, OPT_REMOTEUPLOAD},
		{"until-stderr", required_argument, NULL, OPT_UNTILSE},
		{"max-cells", required_argument, NULL, OPT_MAXCELLS},
		{"max-cost", required_argument, NULL, OPT_MAXCOST},
		{"estimates", no_argument, NULL, OPT_ESTIMATES},
		{"shard", required_argument, NULL, OPT_SHARD},
		{"shards", required_argument, NULL, OPT_SHARDS},
		{"executor", required_argument, NULL, OPT_EXECUTOR},
		{"file", required_argument, NULL, 'f'},
		{"directory", required_argument, NULL, 'C'},
		{"jobs", required_argument, NULL, 'j'},
		{"keep-going", no_argument, NULL, 'k'},
		{"dry-run", no_argument, NULL, 'n'},
		{"question", no_argument, NULL, 'q'},
		{"silent", no_argument, NULL, 's'},
		{"verbose", no_argument, NULL, 'v'},
		{"raw", no_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:j:BnqksvhC:ro:", longopts, NULL)) != -1) {
		if (c != 'h' && c != ':' && c != '?')
			optgiven(canonical(c, longopts));
		switch (c) {
		case 'f': o->file = optarg; break;
		case 'C':
			/* at once, like make: several -C chain, and later paths are from here */
			if (chdir(optarg) < 0)
				die("-C %s:", optarg);
			break;
		case 'j': o->jobs = posint(optarg, "-j"); break;
		case 'B': o->rebuild = 1; break;
		case 'n': o->dryrun = 1; break;
		case 'q': o->question = 1; break;
		case 'k': o->keepgoing = 1; break;
		case 's': o->silent = 1; break;
		case 'v': o->verbose = 1; break;
		case 'r': o->raw = 1; break;
		case 'o': o->output = optarg; break;
		case OPT_FORMAT: o->format = optarg; break;
		case 'h': helpasked = 1; break; /* the command's help, once the command is known */
		case OPT_VERSION: printf("evalmake %s\n", VERSION); exit(0);
		case OPT_ITER:
			o->iterations = posint(optarg, "--iterations");
			if (o->iterations > MAX_ITERATIONS)
				die("--iterations: at most %d, got %s", MAX_ITERATIONS, optarg);
			break;
		case OPT_SAMPLE: o->sample = posint(optarg, "--sample"); break;
		case OPT_JSON: o->json = optarg; break;
		case OPT_JSONL: o->jsonl = 1; break;
		case OPT_FULL: o->full = 1; break;
		case OPT_MINSCORE: o->minscore = fraction(optarg, "--min-score"); break;
		case OPT_BASELINE: o->baseline = optarg; break;
		case OPT_MAXDROP: o->maxdrop = fraction(optarg, "--max-drop"); break;
		case OPT_JUNIT: o->junit = optarg; break;
		case OPT_MARKDOWN: o->markdown = optarg; break;
		case OPT_LOCKED: o->locked = 1; break;
		case OPT_HTML: o->html = optarg; break;
		case OPT_KEEP: {
			char *end;
			o->gckeep = strtod(optarg, &end);
			if (end == optarg || *end || !(o->gckeep >= 0 && o->gckeep <= 1e6))
				die("--keep: expected a number of days (0 or more), got '%s'", optarg);
			break;
		}
		case OPT_ALL: o->gcall = 1; break;
		case OPT_REMOTE: {
			const char *bad = badremoteurl(optarg);
			if (bad)
				usageerr(NULL, "--remote: %s", bad);
			o->remote = optarg;
			break;
		}
		case OPT_NOREMOTE: o->noremote = 1; break;
		case OPT_REMOTEUPLOAD: o->remoteupload = 1; break;
		case OPT_UNTILSE:
			o->untilse = fraction(optarg, "--until-stderr");
			if (o->untilse <= 0)
				die("--until-stderr: expected a number above 0 and at most 1, got '%s'", optarg);
			break;
		case OPT_ESTIMATES: o->estimates = 1; break;
		case OPT_MAXCELLS: o->maxcells = (size_t)posint(optarg, "--max-cells"); break;
		case OPT_MAXCOST: {
			char *end;
			o->maxcost = strtod(optarg, &end);
			if (end == optarg || *end || !(o->maxcost > 0 && o->maxcost < 1e12))
				die("--max-cost: expected an amount in USD above 0, got '%s'", optarg);
			break;
		}
		case OPT_SHARD: o->shardspec = optarg; break;
		case OPT_SHARDS: o->shards = posint(optarg, "--shards"); break;
		case OPT_EXECUTOR:
			if (strcmp(optarg, "slurm") && strcmp(optarg, "local"))
				usageerr(NULL, "--executor: expected slurm or local, got '%s'", optarg);
			o->executor = optarg;
			break;
		case OPT_SERVE:
			/* --serve=SPEC, or --serve SPEC when the next word is a port, an
			 * IPv4 address or localhost, or an address with a port (a
			 * target holds no ':', or is a suite) */
			o->serve = optarg ? optarg : "";
			if (!optarg && optind < argc && argv[optind][0]
			    && (strspn(argv[optind], "0123456789.") == strlen(argv[optind]) || argv[optind][0] == '['
			        || !strcmp(argv[optind], "localhost")
			        || (strchr(argv[optind], ':') && !strchr(argv[optind], '/'))))
				o->serve = argv[optind++];
			break;
		case ':':
			usageerr(NULL, "option '%s' needs a value", optopt ? canonical(optopt, longopts) : argv[optind - 1]);
			break;
		default:
			if (optopt && optopt < 256) {
				char opt[3] = {'-', (char)optopt, 0};
				usageerr(NULL, "unknown option '%s'", opt);
			}
			usageerr(NULL, "unknown option '%s'", argv[optind - 1]);
		}
	}
	o->args = argv + optind;
	o->nargs = argc - optind;
}

/* -n: per suite with cells to run, the tokens (and cost) they are likely
 * to use, from the suite's last measured cells (report/cost.h) */
static void dryusage(struct plan *p)
{
	storemarkuse(p->store, 0); /* looking is not using */
	for (size_t i = 0; i < p->nsp; i++) {
		const struct suiteplan *sp = &p->sp[i];
		size_t torun = 0;
		for (size_t t = 0; sp->cellsof && t < sp->tasks.n; t++)
			for (size_t k = 0; k < sp->cellsof[t].n; k++)
				torun += p->cells[sp->cellsof[t].v[k]].need == NEED_RUN;
		if (!torun)
			continue;
		struct usageguess g;
		guessusage(p, sp, &g);
		if (!g.measured)
			continue; /* nothing measured: no estimate rather than a guess */
		char in[16], out[16];
		fmttokens(in, sizeof(in), llround(g.intokens));
		fmttokens(out, sizeof(out), llround(g.outtokens));
		printf("%s: about %s input and %s output tokens for %zu cell%s (from %zu measured cell%s)", sp->suite->name,
		       in, out, torun, torun == 1 ? "" : "s", g.measured, g.measured == 1 ? "" : "s");
		if (g.priced)
			printf(", about $%.4f", g.cost);
		putchar('\n');
	}
}

static int dryrun(struct plan *p, int remote)
{
	size_t run = 0, grade = 0, fresh = 0, fetch = 0, others = 0;

	for (size_t i = 0; i < p->ncells; i++) {
		struct cell *c = &p->cells[i];
		if (c->need == NEED_RUN && c->fetched) {
			printf("fetch %s: in the remote cache (%s)\n", c->id, c->why);
			fetch++;
		} else if (c->need == NEED_RUN) {
			printf("run   %s: %s\n", c->id, c->why);
			run++;
		} else if (c->need == NEED_GRADE) {
			printf("grade %s: %s\n", c->id, c->why);
			grade++;
		} else if (c->othershard) {
			others++;
		} else {
			fresh++;
		}
	}
	printf("%zu cell%s would run, ", run, run == 1 ? "" : "s");
	if (remote)
		printf("%zu would fetch from the remote cache, ", fetch);
	printf("%zu would be graded again, %zu up to date", grade, fresh);
	if (others)
		printf(", %zu left to the other shards", others);
	printf("\n");
	dryusage(p);
	return 0;
}

/* after the table: per suite, the cells a bound of the run left unstarted
 * ("not run", never errors) */
static void printstopped(FILE *f, struct plan *p, const struct opts *o)
{
	for (size_t i = 0; i < p->nsp; i++) {
		size_t n[STOP_COST + 1] = {0};
		for (size_t k = 0; k < p->ncells; k++)
			if (p->cells[k].sp == &p->sp[i] && p->cells[k].status == CELL_PENDING)
				n[p->cells[k].stopped]++;
		const char *name = p->sp[i].suite->name;
		if (n[STOP_STDERR])
			fprintf(f, "%s: %zu cell%s not run (stopped at stderr %g)\n", name, n[STOP_STDERR],
			        n[STOP_STDERR] == 1 ? "" : "s", o->untilse);
		if (n[STOP_CELLS])
			fprintf(f, "%s: %zu cell%s not run (stopped at --max-cells %zu)\n", name, n[STOP_CELLS],
			        n[STOP_CELLS] == 1 ? "" : "s", o->maxcells);
		if (n[STOP_COST])
			fprintf(f, "%s: %zu cell%s not run (stopped at --max-cost %g)\n", name, n[STOP_COST],
			        n[STOP_COST] == 1 ? "" : "s", o->maxcost);
	}
}

/* a first target that names no suite but is a command mistyped
 * (evalmake stauts, evalmake version): exit 2 saying so, as git does,
 * rather than "no suite" (a suite's own typo is left to the plan, and a
 * short word such as a task id is not taken for gc) */
static void commandtypo(struct project *pr, const struct opts *o)
{
	const char *t = o->nargs ? o->args[0] : NULL;
	const char *best = NULL;
	int bestd = INT_MAX;

	if (!t || strpbrk(t, "/#") || findsuite(pr->ef, t))
		return;
	if (!strcmp(t, "version"))
		best = "--version";
	for (size_t i = 0; !best && i < LEN(commands); i++) {
		const char *name = commands[i].name;
		int d = name[0] && name[0] != '_' ? editdist(t, name) : INT_MAX;
		if (d <= (strlen(name) >= 5 ? 2 : 1) && d < bestd) {
			bestd = d;
			best = name;
		}
	}
	for (size_t i = 0; best && bestd < INT_MAX && i < pr->ef->nsuites; i++)
		if (editdist(t, pr->ef->suites[i].name) <= bestd)
			return;
	if (best) {
		fprintf(stderr, "evalmake: '%s' is neither a suite nor a command (did you mean 'evalmake %s'?)\n", t, best);
		closeproject(pr);
		exit(EXIT_USAGE);
	}
}

/* may this command replay a no-op record (report/noop.h)? Not with
 * options that print or do more than the table (-v, --json, -n, -B), nor
 * with a shard, an executor, a remote cache or a bound of the run */
static int noopfits(const struct opts *o)
{
	return !o->rebuild && !o->dryrun && !o->verbose && !o->json && !o->shard.n && !o->executor && !o->remote
	       && !o->remoteupload && !o->untilse && !o->maxcells && !o->maxcost && !o->estimates;
}

/* the no-op record of this command, or NULL: also none with a remote
 * cache configured (its settings are checked when cells run) */
static struct noop *noopfor(struct opts *o, struct project *pr, const struct planopts *po)
{
	const char *env = getenv("EVALMAKE_REMOTE");

	if (!o->lazy)
		return NULL;
	if (!o->noremote && (pr->ef->remote.url || (env && *env)))
		return NULL;
	char *base = basename_of(pr->ef->path, 0);
	struct noop *n = noopopen(pr->store, pr->cache, base, po);
	free(base);
	return n;
}

/* plan every targeted cell (expanding the task globs a lazy load left) */
static struct plan *planall(struct opts *o, struct project *pr, const struct planopts *po, struct noop *nr)
{
	if (o->lazy) {
		char *err;
		if (expandtasks(pr->ef, &err) < 0) {
			fprintf(stderr, "evalmake: %s\n", err);
			free(err);
			noopfree(nr);
			closeproject(pr);
			exit(EXIT_USAGE);
		}
	}
	return planor2(pr, po);
}

static int cmdbuild(struct opts *o, int statusonly)
{
	struct project pr = {0};
	int rc = 0;

	o->lazy = noopfits(o);
	openproject(o, &pr);
	if (!statusonly)
		commandtypo(&pr, o);
	struct planopts po = {.targets = o->args, .ntargets = o->nargs, .iterations = o->iterations,
	                      .sample = o->sample, .rebuild = o->rebuild && !statusonly};
	struct noop *nr = noopfor(o, &pr, &po);
	int partial = o->nargs || o->sample || o->iterations;
	int held = nr ? noopholds(nr) : -1;
	if (held == 0 && !noopverifying()) {
		/* nothing seen has changed since a run found every cell up to date */
		if (!o->question && !statusonly) {
			dbkeepwal();
			noophistory(nr, pr.cache);
		}
		if (!o->question && !o->silent)
			noopprint(nr, stdout, usecolor(stdout));
		noopfree(nr);
		closeproject(&pr);
		return 0;
	}
	/* the record holds but for some task files: plan those alone */
	char *experr = NULL;
	struct plan *p = held == 1 ? noopplan(nr, pr.ef, pr.st, pr.store, &po, &experr) : NULL;
	if (experr) {
		fprintf(stderr, "evalmake: %s\n", experr);
		free(experr);
		noopfree(nr);
		closeproject(&pr);
		return EXIT_USAGE;
	}
	if (p && noopverifying()) {
		/* tests: planning everything must agree */
		struct plan *full = planall(o, &pr, &po, nr);
		noopcompare(p, full);
		freeplan(p);
		p = full;
	}
	if (!p)
		p = planall(o, &pr, &po, nr);
	seenstop();
	char *title = NULL;
	if (o->shard.n && !statusonly) {
		size_t total, mine = applyshard(p, &o->shard, &total);
		title = shardtitle(&o->shard, mine, total);
	}
	if (o->question) {
		for (size_t i = 0; i < p->ncells; i++)
			if (p->cells[i].need != NEED_NOTHING)
				rc = 1;
		if (nr) {
			struct suitesum *sum = summarize(p);
			noopsave(nr, p, sum, partial, 1);
			freesummary(p, sum);
			noopfree(nr);
		}
		free(title);
		freeplan(p);
		closeproject(&pr);
		return rc;
	}
	if (o->dryrun && !statusonly) {
		if (title)
			printf("%s\n", title);
		free(title);
		struct loop *l = mkloop();
		struct remote *rem = openremote(o, &pr, l);
		fetchcells(p, rem, 1);
		rc = remotefailed(rem) ? EXIT_USAGE : dryrun(p, rem != NULL);
		freeremote(rem);
		freeloop(l);
		size_t nslurm = rc || o->shard.n ? 0 : slurmruns(p, o->executor);
		if (nslurm) {
			size_t n = slurmshards(&pr.ef->slurm, nslurm);
			printf("executor slurm: %zu of them would run in one SLURM job array of %zu task%s\n", nslurm, n,
			       n == 1 ? "" : "s");
		}
		freeplan(p);
		closeproject(&pr);
		return rc;
	}
	if (!statusonly && o->maxcost > 0 && !pr.ef->nprices) {
		/* no price, no cost: the bound would never hold */
		fprintf(stderr, "evalmake: --max-cost: %s has no pricing: to price tokens by (see 'evalmake help')\n",
		        pr.ef->path);
		free(title);
		freeplan(p);
		closeproject(&pr);
		return EXIT_USAGE;
	}
	if (!statusonly && (rc = runcells(o, &pr, p)) == EXIT_USAGE) {
		noopfree(nr);
		free(title);
		freeplan(p);
		closeproject(&pr);
		return EXIT_USAGE;
	}
	savestate(pr.st);
	struct suitesum *sum = summarize(p);
	/* a shard's scores are a slice's: the merge run writes the history
	 * (and many shards on a shared folder append to no file) */
	if (!statusonly && !o->shard.n)
		appendhistory(pr.cache, p, sum, "evalmake", partial);
	if (nr) {
		noopsave(nr, p, sum, partial, rc == 0);
		noopfree(nr);
	}
	if (!o->silent) {
		/* with the JSON report on stdout, stdout is for it alone */
		FILE *out = o->json && !strcmp(o->json, "-") ? stderr : stdout;
		struct reportopts ro = {.color = usecolor(out), .verbose = o->verbose, .title = title};
		printtable(out, p, sum, &ro);
		printstopped(out, p, o);
		if (rc == EXIT_INTR)
			fprintf(stderr, "evalmake: interrupted: finished cells are stored, the rest are pending\n");
	}
	if (o->json && writejson(p, sum, o->json) < 0) {
		warn("cannot write %s:", o->json);
		if (!rc)
			rc = EXIT_GATE;
	}
	freesummary(p, sum);
	free(title);
	/* the process ends here: freeing a plan of 100,000 cells one
	 * allocation at a time is a tenth of a run that changed one task
	 * (as compilers do, the memory goes back with the process); the
	 * sanitizer builds free it, so that a leak elsewhere still shows */
#if defined(__SANITIZE_ADDRESS__) || defined(EVALMAKE_FREE_AT_EXIT)
	freeplan(p);
#endif
	closeproject(&pr);
	return rc;
}

/* plan the cells named on the command line as people type them:
 * SUITE/TASK#K, or SUITE/TASK for each of the task's iterations */
static struct plan *plancells(struct opts *o, struct project *pr, const char *cmd)
{
	if (o->nargs != 1)
		die("%s: expected one CELL (SUITE/TASK#K, or SUITE/TASK)", cmd);
	if (!strchr(o->args[0], '/'))
		die("%s: '%s' is not a cell: expected SUITE/TASK#K, or SUITE/TASK", cmd, o->args[0]);
	openproject(o, pr);
	struct planopts po = {.targets = o->args, .ntargets = 1, .iterations = o->iterations};
	struct plan *p = planor2(pr, &po);
	if (!p->ncells) {
		fprintf(stderr, "evalmake: %s: no cell '%s'\n", cmd, o->args[0]);
		freeplan(p);
		closeproject(pr);
		exit(EXIT_USAGE);
	}
	return p;
}

/* plan the one cell named on the command line (SUITE/TASK will do for a
 * task of one iteration) */
static struct cell *onecell(struct opts *o, struct project *pr, struct plan **pp, const char *cmd)
{
	*pp = plancells(o, pr, cmd);
	if ((*pp)->ncells != 1) {
		fprintf(stderr, "evalmake: %s: '%s' is %zu cells (one per iteration): name one as %s#K\n", cmd, o->args[0],
		        (*pp)->ncells, o->args[0]);
		freeplan(*pp);
		closeproject(pr);
		exit(EXIT_USAGE);
	}
	return &(*pp)->cells[0];
}

/* the deps files of the cell's agent modified after the run entry stored
 * under was was written: "a.sh, b.sh, c.sh and 4 more"; when none is
 * newer, that one was removed or renamed (the key changed all the same);
 * NULL when that cannot be told (the entry is gone) */
static char *depschanged(struct project *pr, const struct cell *c, hash was)
{
	struct inputset in = {0};
	struct buf b = {0};
	char *err;
	size_t n = 0;
	long long stored = entrytime(pr->store, was);

	if (stored < 0)
		return NULL;
	if (runinputs(pr->st, pr->ef, c, &in, &err) < 0) {
		free(err);
		freeinputs(&in);
		return NULL;
	}
	for (size_t i = 0; i < in.n; i++) {
		if (in.v[i].st.mtime <= stored)
			continue;
		if (n++ < 3)
			bufaddf(&b, "%s%s", b.len ? ", " : "", in.v[i].path);
	}
	if (n > 3)
		bufaddf(&b, " and %zu more", n - 3);
	freeinputs(&in);
	if (!n)
		return xstrdup("no file is newer than its last run: one was removed or renamed, or has an older time");
	return bufdetach(&b);
}

static void explaincell(struct project *pr, struct plan *p, struct cell *c)
{
	const char *const *names = partnames;
	const struct cellrec *r = findcell(pr->store, c->id);
	char a[33], b[33];

	if (c->need == NEED_NOTHING && r && memcmp(r->parts, c->parts, sizeof(c->parts)))
		printf("%s is up to date: the cache holds a result for its current inputs (score %.3g);\n"
		       "inputs changed since its last run are marked\n", c->id, c->score);
	else if (c->need == NEED_NOTHING)
		printf("%s is up to date (score %.3g)\n", c->id, c->score);
	else
		printf("%s would %s: %s\n", c->id, c->need == NEED_RUN ? "run" : "be graded again", c->why);
	for (int i = 0; i < NPARTS; i++) {
		hashhex(c->parts[i], b);
		if (i == PART_ENV && hashzero(c->parts[i]) && (!r || hashzero(r->parts[i])))
			continue; /* no env_inputs */
		if (!r) {
			printf("  %-13s %s\n", names[i], b);
		} else if (hasheq(r->parts[i], c->parts[i])) {
			printf("  %-13s unchanged  %s\n", names[i], b);
		} else {
			hashhex(r->parts[i], a);
			char *vars = i == PART_ENV ? envchanges(p, c, r->parts[i]) : i == PART_DEPS ? depschanged(pr, c, r->run)
			                                                                           : NULL;
			printf("  %-13s CHANGED    %s (was %s)%s%s\n", names[i], b, a, vars && vars[0] ? ": " : "",
			       vars && vars[0] ? vars : "");
			free(vars);
		}
	}
	printf("  %-13s %d\n", "iteration", c->iteration);
	hashhex(c->runkey, b);
	printf("  %-13s %s\n", "run key", b);
	if (c->need != NEED_RUN) {
		hashhex(c->gradekey, b);
		/* an up-to-date cell's grade is the cache's for its key: the
		 * record may hold another (another branch's), which changed nothing */
		printf("  %-13s %s%s\n", "grade key", b,
		       c->need == NEED_GRADE && r && !hasheq(r->grade, c->gradekey) ? " (changed)" : "");
		for (size_t k = 0; c->gradekeys && k < c->sp->suite->ngraders; k++) {
			const struct grader *g = suitegrader(c->sp->suite, k);
			hashhex(c->gradekeys[k], b);
			printf("    %-11s %s%s\n", g->name, b, isnan(scoreof(c, k)) ? " (not graded)" : "");
		}
	}
}

static int cmdexplain(struct opts *o)
{
	struct project pr = {0};
	struct plan *p = plancells(o, &pr, "explain");

	for (size_t i = 0; i < p->ncells; i++) {
		if (i)
			putchar('\n');
		explaincell(&pr, p, &p->cells[i]);
	}
	freeplan(p);
	closeproject(&pr);
	return 0;
}

/* text for a terminal: a control character or ANSI escape an agent
 * printed would act on the terminal (move the cursor, recolour, retitle
 * the window) and hide or fake what is shown, so each is made visible as
 * cat -v does (^[ for ESC, ^M, ^?; C1 controls as <U+0085>); newlines and
 * tabs stay. raw, or stdout not a terminal: the bytes as they are. */
static void showtext(const char *t, size_t len, int visible)
{
	if (!visible) {
		fwrite(t, 1, len, stdout);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)t[i];
		if (ch == '\n' || ch == '\t')
			putchar(ch);
		else if (ch < 0x20)
			printf("^%c", ch + '@');
		else if (ch == 0x7f)
			fputs("^?", stdout);
		else if (ch == 0xc2 && i + 1 < len && (unsigned char)t[i + 1] >= 0x80 && (unsigned char)t[i + 1] <= 0x9f)
			printf("<U+%04X>", (unsigned char)t[++i]);
		else
			putchar(ch);
	}
}

static int visible; /* log: make control characters visible (a terminal, no -r) */

/* what log shows: a stored run (by key), or a cell's last error */
struct shown {
	struct store *store;
	hash key;
	const char *errorof; /* the cell id when the last error is shown */
};

static char *shownpart(const struct shown *e, const char *name, size_t *len)
{
	return e->errorof ? errorpart(e->store, e->errorof, name, len) : entrypart(e->store, e->key, name, len);
}

static void showpart(const char *title, const struct shown *dir, const char *name, int always)
{
	size_t len;
	char *text = shownpart(dir, name, &len);

	if (!text && !always)
		return;
	printf("== %s\n", title);
	/* stored text is redacted as it is stored; again here for a cache
	 * written before a key was declared */
	if (text)
		redactbuf(&text, &len);
	if (text) {
		showtext(text, len, visible);
		if (len && text[len - 1] != '\n')
			putchar('\n');
	} else {
		printf("(none)\n");
	}
	free(text);
}

/* the grades of a cell with several graders: the cell's score, then each
 * grader's score and reason, and what a script printed on stderr */
static void loggrades(struct store *store, const struct cell *c)
{
	if (c->scored)
		printf("== grade\n%.3g%s\n", c->score, c->sp->suite->weighted ? " (the graders' weighted mean)" : "");
	else
		printf("== grade\nnot graded yet by every grader\n");
	for (size_t k = 0; k < c->sp->suite->ngraders; k++) {
		const struct grader *gr = suitegrader(c->sp->suite, k);
		const struct graderec *g = findgrade(store, c->gradekeys[k], 1);
		printf("== grade by %s (%s)\n", gr->name, gradertypes[gr->type]);
		if (!g) {
			printf("not graded yet by this grader (a failure shows in evalmake log's error, and is graded again next run)\n");
			continue;
		}
		char *reason = redact(xstrdup(g->reason));
		printf("%.3g%s%s\n", g->score, reason[0] ? "  " : "", reason);
		free(reason);
		char *glog = gradelog(store, c->gradekeys[k]);
		if (glog && glog[0])
			printf("== grader stderr (%s)\n%s%s", gr->name, glog, glog[strlen(glog) - 1] == '\n' ? "" : "\n");
		free(glog);
	}
}

static void section(const char *title, const struct shown *dir, const char *name)
{
	showpart(title, dir, name, 1);
}

/* the transcripts of a command agent's failed attempts before the last
 * (retries) */
static void attempts(const struct shown *dir)
{
	for (int i = 1; i <= 101; i++) {
		char name[32], title[64];
		snprintf(name, sizeof(name), "transcript.%d", i);
		snprintf(title, sizeof(title), "transcript of attempt %d (failed)", i);
		size_t len;
		char *t = shownpart(dir, name, &len);
		if (!t)
			break;
		free(t);
		showpart(title, dir, name, 0);
	}
}

/* a time stored as seconds since the epoch, in local time */
static void localtimeline(const char *label, const cJSON *v)
{
	char buf[64];
	time_t t;
	struct tm tm;

	if (!cJSON_IsNumber(v))
		return;
	t = (time_t)v->valuedouble;
	if (localtime_r(&t, &tm) && strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %Z", &tm))
		printf("%-12s %s\n", label, buf);
}

/* a stored meta.json (an entry's, or a cell's last error's) as labelled
 * lines: what people look for when a cell surprises them */
static void metalines(const struct shown *dir)
{
	char *text = shownpart(dir, "meta.json", NULL);
	cJSON *m = text ? cJSON_Parse(text) : NULL;
	const cJSON *v, *u;

	free(text);
	if (!m) {
		printf("(no record)\n");
		return;
	}
	if (cJSON_IsString(v = cJSON_GetObjectItem(m, "error"))) {
		char *e = redact(xstrdup(v->valuestring));
		printf("%-12s ", "error");
		showtext(e, strlen(e), visible);
		putchar('\n');
		free(e);
	}
	if (cJSON_IsString(v = cJSON_GetObjectItem(m, "stage")))
		printf("%-12s %s\n", "stage", !strcmp(v->valuestring, "grade") ? "grading (the run is stored)" : v->valuestring);
	if (cJSON_IsNumber(v = cJSON_GetObjectItem(m, "exit")))
		printf("%-12s %d%s\n", "exit status", v->valueint, v->valueint > 128 ? " (killed by a signal)" : "");
	if (cJSON_IsNumber(v = cJSON_GetObjectItem(m, "seconds")))
		printf("%-12s %.2f s\n", "duration", v->valuedouble);
	if (cJSON_IsNumber(v = cJSON_GetObjectItem(m, "attempts")))
		printf("%-12s %d\n", "attempts", v->valueint);
	else if (cJSON_GetObjectItem(m, "exit"))
		printf("%-12s 1\n", "attempts");
	if (cJSON_IsString(v = cJSON_GetObjectItem(m, "model")))
		printf("%-12s %s\n", "model", v->valuestring);
	if ((u = cJSON_GetObjectItem(m, "usage")))
		printf("%-12s %.0f in, %.0f out\n", "tokens", cJSON_GetNumberValue(cJSON_GetObjectItem(u, "input_tokens")),
		       cJSON_GetNumberValue(cJSON_GetObjectItem(u, "output_tokens")));
	else if (cJSON_GetObjectItem(m, "exit"))
		printf("%-12s none (a command agent)\n", "tokens");
	if (cJSON_IsTrue(cJSON_GetObjectItem(m, "output_cut")))
		printf("%-12s cut at %u bytes\n", "output", OUTPUT_CAP);
	if (cJSON_IsTrue(cJSON_GetObjectItem(m, "transcript_cut")))
		printf("%-12s cut at %u bytes\n", "transcript", TRANSCRIPT_CAP);
	localtimeline("finished", cJSON_GetObjectItem(m, "finished"));
	if (cJSON_IsString(v = cJSON_GetObjectItem(m, "run_key")))
		printf("%-12s %s\n", "run key", v->valuestring);
	if (cJSON_IsString(v = cJSON_GetObjectItem(m, "grade_key")))
		printf("%-12s %s\n", "grade key", v->valuestring);
	cJSON_Delete(m);
}

/* the task's expected answers (never shown to its agent) */
static void expected(struct cell *c)
{
	char *err = NULL;

	printf("== expected\n");
	if (loadtask(c->task, &err) < 0) {
		printf("(cannot read the task: %s)\n", err);
		free(err);
		return;
	}
	if (!c->task->expected.n)
		printf("(none)\n");
	for (size_t i = 0; i < c->task->expected.n; i++) {
		const char *e = c->task->expected.v[i];
		if (c->task->expected.n > 1)
			fputs(i ? "or: " : "any of: ", stdout);
		showtext(e, strlen(e), visible);
		putchar('\n');
	}
}

/* the cell's last error entry when it is a grading failure of gradekey,
 * else NULL: a grade that failed is reported as what it is */
static int gradefailure(struct store *st, const struct cell *c)
{
	char *text = errorpart(st, c->id, "meta.json", NULL);
	cJSON *m = text ? cJSON_Parse(text) : NULL;
	const cJSON *stage = cJSON_GetObjectItem(m, "stage"), *key = cJSON_GetObjectItem(m, "grade_key");
	char hx[33];
	int match;

	hashhex(c->gradekey, hx);
	match = cJSON_IsString(stage) && !strcmp(stage->valuestring, "grade") && cJSON_IsString(key) &&
	        !strcmp(key->valuestring, hx);
	cJSON_Delete(m);
	free(text);
	return match;
}

static int logcell(struct project *pr, struct cell *c)
{
	const char *replyname = c->sp->suite->grader.type == GRADE_JUDGE ? "judge's reply" : "grader stderr";
	struct shown run = {pr->store, c->runkey, NULL}, error = {pr->store, c->runkey, c->id}, *dir = &run;
	int rc = 0;

	if (c->need != NEED_RUN) {
		const struct graderec *g = findgrade(pr->store, c->gradekey, 1);
		struct shown *failed = !g && gradefailure(pr->store, c) ? &error : NULL;
		char *where = entrywhere(pr->store, c->runkey);
		printf("%s: stored result (%s)\n", c->id, where);
		free(where);
		printf("== cell\n");
		metalines(dir);
		expected(c);
		section("prompt", dir, "prompt");
		section("output", dir, "output");
		attempts(dir);
		section("transcript", dir, "transcript");
		if (c->gradekeys)
			loggrades(pr->store, c);
		else if (g) {
			char *reason = redact(xstrdup(g->reason));
			printf("== grade\n%.3g%s", g->score, reason[0] ? "  " : "");
			showtext(reason, strlen(reason), visible);
			putchar('\n');
			free(reason);
		} else if (failed) {
			printf("== grade: FAILED (not cached: the cell is graded again next run)\n");
			metalines(failed);
			char *msg = xasprintf("%s (when grading failed)", replyname);
			showpart(msg, failed, "grader.log", 0);
			free(msg);
			rc = 1;
		} else {
			printf("== grade\nnot graded yet: no grade is stored for the current grader and expected answer "
			       "(evalmake grades it)\n");
		}
		char *glog = g && !c->gradekeys ? gradelog(pr->store, c->gradekey) : NULL;
		if (glog) {
			printf("== %s\n", replyname);
			showtext(glog, strlen(glog), visible);
			if (glog[0] && glog[strlen(glog) - 1] != '\n')
				putchar('\n');
		}
		free(glog);
		char *art = entryartifacts(pr->store, c->runkey);
		if (art)
			printf("== artifacts\n%s\n", art);
		free(art);
	} else if (haserror(pr->store, c->id) && (dir = &error)) {
		printf("%s: no result; its last attempt failed (errors are not cached)\n", c->id);
		printf("== error\n");
		metalines(dir);
		expected(c);
		section("prompt", dir, "prompt");
		section("output", dir, "output");
		attempts(dir);
		section("transcript", dir, "transcript");
		showpart(replyname, dir, "grader.log", 0);
		rc = 1;
	} else {
		printf("%s has not run yet (%s)\n", c->id, c->why);
		expected(c);
		rc = 1;
	}
	return rc;
}

/* log: each cell named; 1 when one of them has no result */
static int cmdlog(struct opts *o)
{
	struct project pr = {0};
	struct plan *p = plancells(o, &pr, "log");
	int rc = 0;

	visible = !o->raw && isatty(1);

	for (size_t i = 0; i < p->ncells; i++) {
		if (i)
			putchar('\n');
		rc |= logcell(&pr, &p->cells[i]);
	}
	freeplan(p);
	closeproject(&pr);
	return rc;
}

/* what the traced run of `deps` found */
struct depsfound {
	int traced;
	struct strv files;
};

static void ondeps(void *arg, struct cell *c, const struct strv *files)
{
	struct depsfound *f = arg;

	(void)c;
	f->traced = 1;
	for (size_t i = 0; i < files->n; i++)
		strvadd(&f->files, files->v[i]);
}

/* run one cell's agent under the tracer and name the project files it
 * read that its run key does not cover. The traced run is a run like any
 * other (ptrace changes its timing, not what it sees): stored when the
 * cache has no result for its key, and graded; a stored result is kept
 * unless -B asks for the fresh one. */
static int cmddeps(struct opts *o)
{
	struct project pr = {0};
	struct plan *p;
	struct cell *c = onecell(o, &pr, &p, "deps");
	const struct suite *s = c->sp->suite;
	struct depsfound f = {0};
	char *err;
	int rc;

	if (s->agent.kind != AGENT_COMMAND) {
		fprintf(stderr, "evalmake: deps: suite %s's agent is a model called over HTTP: it reads no project "
		        "files (its prompt, config and system prompt are in its run key)\n", s->name);
		freeplan(p);
		closeproject(&pr);
		return EXIT_USAGE;
	}
	/* the tracer would trace bubblewrap setting up the namespaces, and see
	 * paths as mounted inside them: not a trace of the agent to trust */
	if (s->agent.sandbox.on) {
		fprintf(stderr, "evalmake: deps: suite %s's agent is sandboxed, and a sandboxed agent cannot be traced: "
		        "remove 'sandbox' from its agent to trace it, then put it back\n", s->name);
		freeplan(p);
		closeproject(&pr);
		return EXIT_USAGE;
	}
	if (tracecheck(&err) < 0) {
		fprintf(stderr, "evalmake: deps: cannot trace the agent: %s\n", err);
		free(err);
		freeplan(p);
		closeproject(&pr);
		return EXIT_USAGE;
	}
	int cached = c->need != NEED_RUN;
	c->need = NEED_RUN; /* to be traced, it runs */
	p->rebuild = o->rebuild;
	if (preparecell(p, c, &err) < 0) {
		fprintf(stderr, "evalmake: %s\n", err);
		free(err);
		freeplan(p);
		closeproject(&pr);
		return EXIT_USAGE;
	}
	struct loop *l = mkloop();
	struct runopts ro = {.jobs = 1, .keepgoing = 1, .silent = 1, .trace = 1, .traced = ondeps, .tracedarg = &f,
	                      .force = 1};
	rc = runplan(p, l, &ro);
	freeloop(l);
	if (!cached || o->rebuild) /* else the record keeps the stored result's */
		recordcells(p);
	savestate(pr.st);
	if (c->status == CELL_ERROR) {
		fprintf(stderr, "evalmake: deps: %s: %s\n", c->id, c->error);
		rc = EXIT_GATE;
	}
	if (rc == EXIT_INTR || !f.traced) {
		fprintf(stderr, "evalmake: deps: %s: %s\n", c->id, rc == EXIT_INTR ? "interrupted" : "no trace of its run");
		if (!rc)
			rc = EXIT_GATE;
	} else if (!f.files.n) {
		printf("all inputs declared\n");
	} else {
		char *line = depsline(&s->agent.depglobs, &f.files);
		printf("%s read %zu project file%s that no input of its run key covers:\n", c->id, f.files.n,
		       f.files.n == 1 ? "" : "s");
		for (size_t i = 0; i < f.files.n; i++)
			printf("  %s\n", f.files.v[i]);
		printf("declare %s in suite %s's agent (%s):\n  %s\n", f.files.n == 1 ? "it" : "them", s->name, s->where, line);
		free(line);
		rc = EXIT_GATE;
	}
	strvfree(&f.files);
	freeplan(p);
	closeproject(&pr);
	return rc;
}

/* gc: what it may drop is what nothing refers to: not the current plan's
 * cells, not any lock file beside the Evalfile (another branch's results
 * to check against), and, unless --all, not what was used within --keep
 * days (another branch's results still worked on) */
static int cmdgc(struct opts *o)
{
	struct project pr = {0};
	glob_t gl;

	if (o->nargs)
		die("gc: takes no targets");
	if (o->gcall && o->gckeep >= 0)
		die("gc: --keep and --all exclude each other");
	openproject(o, &pr);
	storemarkuse(pr.store, 0); /* looking is not using */
	struct planopts po = {0};
	struct plan *p = planor2(&pr, &po);
	struct htab *runs = mkhtab(p->ncells), *grades = mkhtab(p->ncells);
	for (size_t i = 0; i < p->ncells; i++) {
		struct cell *c = &p->cells[i];
		htabput(runs, &c->runkey, sizeof(c->runkey), c);
		for (size_t k = 0; c->need != NEED_RUN && k < c->sp->suite->ngraders; k++) /* each grader's */
			htabput(grades, c->gradekeys ? &c->gradekeys[k] : &c->gradekey, sizeof(c->gradekey), c);
	}
	/* the lock files beside the Evalfile (we are in its folder) */
	if (glob("*.lock", 0, NULL, &gl) == 0) {
		for (size_t i = 0; i < gl.gl_pathc; i++)
			if (lockkeys(gl.gl_pathv[i], runs, grades) < 0)
				warn("gc: cannot read %s:", gl.gl_pathv[i]);
		globfree(&gl);
	}
	double days = o->gcall ? -1 : o->gckeep >= 0 ? o->gckeep : 30;
	struct gcopts go = {.dryrun = o->dryrun, .keep = days < 0 ? -1 : days * 86400,
	                    .list = o->dryrun || o->verbose ? stdout : NULL};
	struct gcstats st;
	char *err;
	int rc = 0;
	long n = gcstore(pr.store, runs, grades, &go, &st, &err);
	if (n < 0) {
		fprintf(stderr, "evalmake: gc: %s; nothing removed\n", err);
		free(err);
		rc = EXIT_GATE;
	} else {
		printf("%s %ld cache entr%s, %lld bytes", o->dryrun ? "would remove" : "removed", st.entries,
		       st.entries == 1 ? "y" : "ies", st.bytes);
		if (st.kept)
			printf("; kept %ld unreferenced entr%s used within %g day%s", st.kept, st.kept == 1 ? "y" : "ies",
			       days, days == 1 ? "" : "s");
		putchar('\n');
	}
	htabfree(runs, NULL);
	htabfree(grades, NULL);
	freeplan(p);
	closeproject(&pr);
	return rc;
}

static int cmdwatch(struct opts *o)
{
	struct project pr = {0};

	openproject(o, &pr);
	char *base = basename_of(pr.ef->path, 0);
	char *display = xstrdup(pr.ef->path); /* a reload replaces pr.ef */
	struct watchopts wo = {
		.run = {
			.jobs = o->jobs ? o->jobs : pr.ef->jobs ? pr.ef->jobs : 4,
			.keepgoing = 1, /* watch mode reports errors and goes on */
			.verbose = o->verbose,
			.silent = o->silent || o->jsonl,
			/* on a terminal, the estimates sharpening as cells land */
			.progress = isatty(2) && !o->jsonl,
			.estimatelines = o->estimates && !o->jsonl && !isatty(2),
			.color = usecolor(stdout) && !o->jsonl,
		},
		.plan = {.targets = o->args, .ntargets = o->nargs, .iterations = o->iterations, .sample = o->sample,
		         .rebuild = o->rebuild},
		.evalfile = base,
		.display = display,
		.jsonl = o->jsonl,
		.estimates = o->estimates,
		.full = o->full,
		.serve = o->serve,
		.cache = pr.cache,
	};
	struct remoteopts rem;
	if (remoteconfig(o, &pr, &rem))
		wo.remote = &rem;
	int rc = watchrun(&pr.ef, pr.st, pr.store, &wo);
	free(base);
	free(display);
	closeproject(&pr);
	return rc;
}

/* the command named name, or -1 */
static int findcommand(const char *name)
{
	for (size_t i = 0; i < LEN(commands); i++)
		if (commands[i].name[0] && !strcmp(name, commands[i].name))
			return (int)i;
	return -1;
}

static int cmdhelp(struct opts *o)
{
	if (o->nargs == 0) {
		fputs(usage, stdout);
		return 0;
	}
	int cmd = o->nargs == 1 ? findcommand(o->args[0]) : -1;
	if (cmd < 0)
		usageerr(NULL, "help: no command '%s'", o->args[0]);
	commandhelp(stdout, &commands[cmd]);
	return 0;
}

/* what the shell completion scripts ask: the commands, a command's
 * options, or the targets the Evalfile defines (suites, tasks, cells) */
static int cmdcomplete(struct opts *o)
{
	const char *what = o->nargs ? o->args[0] : "";

	if (!strcmp(what, "commands")) {
		for (size_t i = 0; i < LEN(commands); i++)
			if (commands[i].name[0] && commands[i].name[0] != '_')
				printf("%s\n", commands[i].name);
	} else if (!strcmp(what, "options")) {
		int cmd = o->nargs > 1 ? findcommand(o->args[1]) : CMD_BUILD;
		const struct command *c = &commands[cmd < 0 ? CMD_BUILD : cmd];
		for (size_t i = 0; i < LEN(optionhelp); i++)
			if (takes(c, optionhelp[i].name)) {
				printf("%s\n", optionhelp[i].name);
				for (size_t k = 0; k < LEN(optionalias); k++)
					if (!strcmp(optionalias[k][0], optionhelp[i].name))
						printf("%s\n", optionalias[k][1]);
			}
		printf("--help\n");
		if (c == &commands[CMD_BUILD])
			printf("--version\n");
	} else if (!strcmp(what, "targets")) {
		struct project pr = {0};
		struct planopts po = {0};
		openproject(o, &pr);
		struct plan *p = planor2(&pr, &po);
		for (size_t i = 0; i < p->nsp; i++) {
			const struct suiteplan *sp = &p->sp[i];
			printf("%s\n", sp->suite->name);
			for (size_t t = 0; t < sp->tasks.n; t++)
				printf("%s/%s\n", sp->suite->name, sp->tasks.v[t].id);
		}
		for (size_t i = 0; i < p->ncells; i++)
			printf("%s\n", p->cells[i].id);
		freeplan(p);
		closeproject(&pr);
	} else {
		usageerr("__complete", "__complete: expected commands, options COMMAND or targets, got '%s'", what);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {.minscore = -1, .maxdrop = -1, .gckeep = -1};
	int cmd = -1;

	if (argc > 1 && !strcmp(argv[1], PROC_TRACEARG)) /* core/proc.c runs us as a tracer */
		return tracemain(argc - 1, argv + 1);
	if (argc > 1)
		cmd = findcommand(argv[1]);
	if (cmd >= 0) {
		argv[1] = argv[0];
		argv++;
		argc--;
	}
	parseopts(argc, argv, &o);
	char *jsonarg = o.json;
	/* the command may also follow options: evalmake -f FILE log CELL */
	if (cmd < 0 && o.nargs > 0 && (cmd = findcommand(o.args[0])) >= 0) {
		o.args++;
		o.nargs--;
	}
	if (cmd < 0)
		cmd = CMD_BUILD;
	const struct command *c = &commands[cmd];
	if (helpasked) {
		if (cmd == CMD_BUILD || cmd == CMD_HELP)
			fputs(usage, stdout);
		else
			commandhelp(stdout, c);
		return 0;
	}
	refuseoptions(c);
	/* combinations in which an option would be ignored: refused as well */
	if ((o.dryrun || o.question) && o.json && cmd == CMD_BUILD)
		usageerr(c->name, "%s runs nothing and writes no report: --json goes with a run", o.dryrun ? "-n" : "-q");
	if (o.full && !o.jsonl)
		usageerr(c->name, "--full goes with --jsonl (it makes every line the whole report)%s", "");
	if ((o.json && !strcmp(o.json, "-")) + (o.junit && !strcmp(o.junit, "-")) +
	        (o.markdown && !strcmp(o.markdown, "-")) > 1)
		usageerr(c->name, "only one of --json, --junit and --markdown can write to stdout ('-')%s", "");
	if (o.shardspec) {
		char *err;
		if (parseshard(o.shardspec, o.shards, &o.shard, &err) < 0) {
			fprintf(stderr, "evalmake: %s\n", err);
			free(err);
			return EXIT_USAGE;
		}
	} else if (o.shards) {
		usageerr(c->name, "--shards N goes with --shard auto%s", "");
	}
	int rc;
	switch (cmd) {
	case CMD_STATUS: rc = cmdbuild(&o, 1); break;
	case CMD_EXPLAIN: rc = cmdexplain(&o); break;
	case CMD_LOG: rc = cmdlog(&o); break;
	case CMD_GC: rc = cmdgc(&o); break;
	case CMD_WATCH: rc = cmdwatch(&o); break;
	case CMD_CHECK: rc = cmdcheck(&o); break;
	case CMD_DIFF: rc = cmddiff(&o); break;
	case CMD_LOCK: rc = cmdlock(&o); break;
	case CMD_REPORT: rc = cmdreport(&o); break;
	case CMD_DEPS: rc = cmddeps(&o); break;
	case CMD_INIT: rc = cmdinit(&o); break;
	case CMD_HELP: rc = cmdhelp(&o); break;
	case CMD_COMPLETE: rc = cmdcomplete(&o); break;
	case CMD_EXPORT: rc = cmdexport(&o); break;
	default: rc = cmdbuild(&o, 0); break;
	}
	if (rc == EXIT_INTR) /* 130 within; the signal's own status without */
		rc = interruptstatus();
	if (o.json != jsonarg) /* openproject made it absolute */
		free(o.json);
	return rc;
}
