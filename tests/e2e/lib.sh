# Helpers of the end-to-end tests (sourced by run.sh).
#
# try "description"      start a case: a fresh folder $T, the project in
#                        $P=$T/p, the current directory
# em ARGS...             run evalmake: $rc, $T/out, $T/err
# bg_em ARGS...          start evalmake in the background: $bgpid
# bg_watch ARGS...       start evalmake watch --jsonl in the background
# bg_wait SECS           wait for $bgpid (killed if it takes longer): $rc
# check "what" CMD...    a failing CMD fails the case, printing the output
# checks "what" 'SHELL'  the same for a shell expression
# assert_* ...           the usual checks, named after what they check
# mkproject [N]          the standard project: suites calc (task folders)
#                        and quiz (.jsonl), N tasks each (default 3), 2
#                        iterations; its agent logs each call to ./calls
export LC_ALL=C
export NO_COLOR=1
unset GITHUB_STEP_SUMMARY OPENAI_API_KEY ANTHROPIC_API_KEY EVALMAKE_CACHE

E=${EVALMAKE:-}
if [ -z "$E" ]; then
	echo "run.sh: set EVALMAKE to the evalmake binary" >&2
	exit 2
fi
case $E in /*) ;; *) E=$PWD/$E ;; esac
if [ ! -x "$E" ]; then
	echo "run.sh: $E is not executable" >&2
	exit 2
fi
for tool in jq pgrep timeout; do
	if ! command -v $tool >/dev/null; then
		echo "run.sh: needs $tool" >&2
		exit 2
	fi
done

TOP=$(mktemp -d "${TMPDIR:-/tmp}/evalmake-e2e.XXXXXX") || exit 2
MARK="emke2e$$"              # in the name of every sleep a test agent runs
mkdir "$TOP/bin"
BGPIDS=()
npass=0 nfail=0 cur="" curstart="" curcpu=0 curfail=0 rc=0 bgpid="" nbg=0 T="" P=""
STARTED=$EPOCHREALTIME

cleanup() {
	local p
	cd / || true
	for p in "${BGPIDS[@]}"; do
		kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null
	done
	killmarked "$MARK"
	rm -rf "$TOP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# the pids of processes whose command line holds $1, one by one
killmarked() {
	local p
	for p in $(pgrep -f -- "$1"); do
		kill -9 "$p" 2>/dev/null
	done
	waitfor 5 "! pgrep -f -- '$1' >/dev/null"
}

# a sleep command whose command line is unique to this run: print its path
sleeper() {
	local s="$TOP/bin/$1-sleep-$MARK"
	[ -e "$s" ] || ln -s "$(command -v sleep)" "$s"
	printf '%s\n' "$s"
}

# no process with $1 in its command line (allowing 3 s for the kernel)
noproc() {
	waitfor 3 "! pgrep -f -- '$1' >/dev/null"
}

# waitfor SECS 'SHELL': poll every 0.05 s until it holds; 1 if it never did
waitfor() {
	local end=$((EPOCHSECONDS + $1 + 1))
	while :; do
		eval "$2" && return 0
		[ "$EPOCHSECONDS" -ge "$end" ] && return 1
		sleep 0.05
	done
}

elapsed() {
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'
}

# seconds of CPU used by the shell's children so far
cputime() {
	times >"$TOP/times" # no subshell: its children would be none
	awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.2f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$TOP/times"
}

finish() {
	[ -n "$cur" ] || return 0
	if pgrep -f -- "$MARK" >/dev/null; then
		fail "processes left behind: $(pgrep -a -f -- "$MARK" | tr '\n' ';')"
		killmarked "$MARK"
	fi
	local p
	for p in "${BGPIDS[@]}"; do
		if kill -0 "$p" 2>/dev/null; then
			fail "background evalmake $p still running"
			kill -9 "$p" 2>/dev/null
			wait "$p" 2>/dev/null
		fi
	done
	BGPIDS=()
	if [ -n "${E2E_TIMES:-}" ]; then
		cputime >"$TOP/cpu"
		echo "# $(elapsed "$curstart")s $(awk -v a="$curcpu" '{ printf "%.2f", $1 - a }' "$TOP/cpu")s cpu  $cur" >&2
	fi
	if [ "$curfail" = 0 ]; then
		npass=$((npass + 1))
	else
		nfail=$((nfail + 1))
	fi
	cur=""
}

try() {
	finish
	cur=$1
	curstart=$EPOCHREALTIME
	if [ -n "${E2E_TIMES:-}" ]; then
		cputime >"$TOP/cpu"
		read -r curcpu <"$TOP/cpu"
	fi
	curfail=0
	rc=0
	T=$(mktemp -d "$TOP/t.XXXXXX") || exit 2
	P=$T/p
	mkdir "$P"
	cd "$P" || exit 2
	: >"$T/out"
	: >"$T/err"
	: >"$T/all"
}

summary() {
	finish # the last case counts too
	echo "# took $(elapsed "$STARTED")s with $E" >&2
	echo "$npass passed, $nfail failed"
	[ "$nfail" = 0 ]
	exit $?
}

showfile() {
	[ -s "$1" ] || return 0
	echo "    --- $2:"
	tail -n 15 "$1" | cut -c1-300 | sed 's/^/    | /'
}

fail() {
	if [ "$curfail" = 0 ]; then
		echo "FAIL: $cur"
	fi
	curfail=1
	echo "  check failed: $*"
	echo "    (in $PWD, after: ${last:-nothing})"
	showfile "$T/out" stdout
	showfile "$T/err" stderr
	if [ -f calls ]; then
		echo "    --- calls:"
		sed 's/^/    | /' calls | head -n 20
	fi
}

# check "what" [!] CMD...: CMD succeeds (with !: fails)
check() {
	local what=$1
	shift
	if [ "$1" = "!" ]; then
		shift
		! "$@" >/dev/null 2>&1 || fail "$what"
	else
		"$@" >/dev/null 2>&1 || fail "$what"
	fi
}

# some line naming $1 says it changed (not "unchanged")
names_changed() {
	grep -i -- "$1" "$2" | grep -iv unchanged | grep -qi changed
}

checks() {
	eval "$2" >/dev/null 2>&1 || fail "$1"
}

# sanitizer reports make a case fail even when the exit status looked right
sancheck() {
	if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined)' "$1" 2>/dev/null; then
		fail "sanitizer report in $1: $(grep -m1 -E 'ERROR|runtime error' "$1")"
	fi
}

last=""
em() {
	last="evalmake $*"
	timeout -k 5 120 "$E" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	[ -s "$T/err" ] && sancheck "$T/err"
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		fail "evalmake $* did not finish within 120 s"
	fi
	return 0
}

# start evalmake in the background, with SIGINT at its default (set -m:
# a background job of a script would otherwise ignore it)
bg_em() {
	nbg=$((nbg + 1))
	last="evalmake $* (background #$nbg)"
	set -m
	"$E" "$@" >"$T/bg$nbg.out" 2>"$T/bg$nbg.err" &
	bgpid=$!
	set +m
	BGPIDS+=("$bgpid")
	eval "bgerr_$bgpid=\$T/bg\$nbg.err"
}

bg_wait() {
	local f
	if ! waitfor "$1" "! kill -0 $bgpid 2>/dev/null"; then
		fail "background evalmake did not exit within $1 s"
		kill -9 "$bgpid" 2>/dev/null
	fi
	wait "$bgpid" 2>/dev/null
	rc=$?
	eval "f=\${bgerr_$bgpid:-}"
	[ -n "$f" ] && cp "$f" "$T/err" && sancheck "$f"
	return 0
}

# `evalmake watch --jsonl ARGS` in the background (output in $T/watch.out
# and $T/watch.err): wait for its first line; bg_watch_stop ends it with
# SIGINT (watch.sh has its own, counting report lines)
WPID=""
bg_watch() {
	set -m
	"$E" watch --jsonl "$@" >"$T/watch.out" 2>"$T/watch.err" &
	WPID=$!
	set +m
	BGPIDS+=("$WPID")
	waitfor 30 "[ -s '$T/watch.out' ]" || fail "watch printed no first line within 30 s"
	sleep 0.2
}

bg_watch_stop() {
	kill -INT "$WPID" 2>/dev/null
	waitfor 10 "! kill -0 $WPID 2>/dev/null" || { fail "watch did not stop"; kill -9 "$WPID"; }
	wait "$WPID" 2>/dev/null
	sancheck "$T/watch.err"
}

assert_rc() {
	[ "$rc" = "$1" ] || fail "exit status $rc, expected $1"
}

ncalls() {
	if [ -f calls ]; then wc -l <calls | tr -d ' '; else echo 0; fi
}

assert_calls() {
	local n
	n=$(ncalls)
	[ "$n" = "$1" ] || fail "$n agent calls, expected $1"
}

# the calls file holds exactly these lines, in any order
assert_calls_are() {
	local got want
	got=$(sort calls 2>/dev/null)
	want=$(printf '%s\n' "$1" | sort)
	[ "$got" = "$want" ] || fail "agent calls differ: expected [$(echo $want)], got [$(echo $got)]"
}

# assert_json FILE JQFILTER EXPECTED (a JSON value, compared as JSON)
assert_json() {
	local got
	if ! got=$(jq -c "$2" "$1" 2>&1); then
		fail "jq '$2' on $1: $got"
		return
	fi
	jq -e --argjson want "$3" "($2) == \$want" "$1" >/dev/null 2>&1 ||
		fail "$1: $2 is $got, expected $3"
}

cellsel() {
	printf '(.suites[] | select(.name == "%s") | .tasks[] | select(.id == "%s") | .cells[] | select(.iteration == %s)' "$1" "$2" "$3"
}
cellscore() { printf '%s | .score)' "$(cellsel "$@")"; }
cellstatus() { printf '%s | .status)' "$(cellsel "$@")"; }

# "SUITE TASK K" for every cell of the standard project
allcells() {
	local s t k
	for s in ${1:-calc quiz}; do
		for t in 1 2 3; do
			for k in ${2:-1 2}; do
				case $s in calc) echo "calc t$t $k" ;; quiz) echo "quiz q$t $k" ;; esac
			done
		done
	done
}

lineof() {
	grep -n -- "$1" "$2" | head -n 1 | cut -d: -f1
}

# the run entries in the cache, one name a line, cache/runs/KK/KEY: folders
# (an agent's artifacts), packed files (caches before version 2) and rows
# of index.db's entries table (the small entries: no such path exists)
runentries() {
	find cache/runs -mindepth 2 -maxdepth 2 2>/dev/null
	local db=cache/index.db
	[ -w cache ] || db="file:$PWD/cache/index.db?immutable=1" # a read-only cache
	[ -f cache/index.db ] &&
		sqlite3 "$db" "SELECT 'cache/runs/' || substr(key, 1, 2) || '/' || key FROM entries" 2>/dev/null
	return 0
}
nruns() {
	runentries | wc -l | tr -d ' '
}

# part ENTRY NAME: one part of a run entry (a name from runentries): a
# folder's file, or from a packed file or an entries row ("evalmake-entry
# 1", then per part "NAME LENGTH" and its bytes; the row zstd-compressed
# when its zstd column is 1)
part() {
	local f=$1 db=${1%/runs/*}/index.db key=${1##*/} tmp z
	if [ -d "$f" ]; then
		cat "$f/$2"
		return
	fi
	if [ ! -f "$f" ]; then
		tmp=$(mktemp)
		z=$(sqlite3 "$db" "SELECT zstd FROM entries WHERE key = '$key' AND writefile('$tmp', body) >= 0" 2>/dev/null)
		if [ "$z" = 1 ]; then
			zstd -dcq <"$tmp" >"$tmp.d" && mv "$tmp.d" "$tmp"
		elif [ "$z" != 0 ]; then
			rm -f "$tmp"
			return 1
		fi
		f=$tmp
	fi
	perl -e 'open(F, "<", $ARGV[0]) or exit 1; local $/; $_ = <F>;
		s/^evalmake-entry 1\n// or exit 1;
		while (/\G(\S+) (\d+)\n/gc) {
			my ($n, $l) = ($1, $2); my $d = substr($_, pos(), $l); pos() += $l;
			if ($n eq $ARGV[1]) { print $d; exit 0 }
		}
		exit 1' "$f" "$2"
	local rc=$?
	[ -n "${tmp:-}" ] && rm -f "$tmp"
	return $rc
}

# allparts NAME: that part of every run entry, one after the other
allparts() {
	local e
	runentries | while read -r e; do part "$e" "$1"; echo; done
}

# entrytext [CACHE]: the bodies of the entries stored in CACHE/index.db
# (default cache), decompressed: what grep -r over the cache folder cannot
# see in a compressed row
entrytext() {
	local db=${1:-cache}/index.db key tmp
	[ -f "$db" ] || return 0
	tmp=$(mktemp)
	for key in $(sqlite3 "$db" "SELECT key FROM entries" 2>/dev/null); do
		if [ "$(sqlite3 "$db" "SELECT zstd FROM entries WHERE key = '$key' AND writefile('$tmp', body) >= 0")" = 1 ]; then
			zstd -dcq <"$tmp"
		else
			cat "$tmp"
		fi
	done
	rm -f "$tmp"
}

# cache_has STRING: is STRING anywhere in the cache (its files, or an
# entry's decompressed body)?
cache_has() {
	grep -r -a -q -F -- "$1" cache 2>/dev/null || entrytext | grep -a -q -F -- "$1"
}

# every run entry has its output and meta.json
entries_whole() {
	local d
	for d in $(runentries); do
		part "$d" output >/dev/null && part "$d" meta.json >/dev/null || return 1
	done
	return 0
}

# bad_input ERE [STRING...]: exit 2, stderr matches ERE and holds each
# STRING, nothing ran, no cache folder
bad_input() {
	local s
	em
	assert_rc 2
	grep -qE -- "$1" "$T/err" || fail "message does not match /$1/"
	shift
	for s in "$@"; do
		grep -qF -- "$s" "$T/err" || fail "message does not mention '$s'"
	done
	assert_calls 0
	[ ! -e cache ] || fail "a cache folder was created"
}

mkproject() {
	local n=${1:-3} i
	local words=(zero one two three four five six seven eight nine)
	mkdir -p tasks prompts data
	for ((i = 1; i <= n; i++)); do
		mkdir -p "tasks/calc/t$i"
		printf '%s\n' "${words[i]}" >"tasks/calc/t$i/input.txt"
		printf '%s\n' "${words[i]}" >"tasks/calc/t$i/expected.txt"
	done
	printf 'THREE\n' >tasks/calc/t3/expected.txt # t3 fails an exact grader
	{
		echo '{"id": "q1", "input": "alpha", "expected": "alpha"}'
		echo '{"id": "q2", "input": "Beta", "ideal": "beta"}'
		echo '{"id": "q3", "input": "gamma ray", "target": "gamma"}'
		[ "$n" -ge 4 ] && echo '{"id": "q4", "input": "delta", "answer": "delta"}'
		[ "$n" -ge 5 ] && echo '{"id": "q5", "input": "epsilon", "expected": ["x", "epsilon"]}'
	} >tasks/quiz.jsonl
	printf 'Q: {{input}}\n' >prompts/calc.md
	printf 'Answer this.\nQ: {{input}}\n' >prompts/quiz.md
	printf 'some knowledge\n' >data/calc.txt
	cat >agent.sh <<'EOF'
#!/bin/sh
# the test agent: logs its call, fails when asked to, echoes the question
echo "$EVAL_SUITE $EVAL_TASK $EVAL_ITERATION" >>calls
echo "agent: working on $EVAL_TASK" >&2
if [ -f fail ]; then
	read -r f <fail
	if [ "$f" = all ] || [ "$f" = "$EVAL_TASK" ]; then
		echo "agent failed on purpose on $EVAL_TASK" >&2
		exit 3
	fi
fi
# answer with what follows "Q:" (shell builtins only: agents run often)
while IFS= read -r line || [ -n "$line" ]; do
	case $line in
	Q:*)
		a=${line#Q:}
		while :; do case $a in " "*) a=${a# } ;; *) break ;; esac; done
		printf '%s\n' "$a"
		;;
	esac
done
EOF
	chmod +x agent.sh
	cat >Evalfile <<'EOF'
# the standard test project
cache: cache
jobs: 4
defaults:
  iterations: 2
  timeout: 60
suites:
  calc:
    tasks: tasks/calc/*
    prompt: prompts/calc.md
    agent: {command: ./agent.sh, deps: [agent.sh, data/calc.txt]} # calc agent
    grader: {type: exact} # calc
  quiz:
    tasks: tasks/quiz.jsonl
    prompt: prompts/quiz.md
    agent:
      command: ./agent.sh
      env: {MODE: plain}
    grader: {type: exact} # quiz
EOF
}

# use another agent script for suite calc
set_calc_agent() {
	sed -i "/# calc agent\$/s#\\./agent\\.sh#./$1#" Evalfile
}

# The local model server (tests/modelserver), one for the whole file:
# start_modelserver NAME [ARG...] starts $MS (with ARGs) on a free port of
# 127.0.0.1 and sets $MSPID and $PORT; it is stopped by its own pid when
# the file ends. When it cannot start, NAME says so loudly and the file
# exits 2: never a silent pass.
MSPID=""
stopserver() {
	[ -n "$MSPID" ] || return 0
	kill -TERM "$MSPID" 2>/dev/null
	local i
	for ((i = 0; i < 50; i++)); do
		kill -0 "$MSPID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$MSPID" 2>/dev/null
	wait "$MSPID" 2>/dev/null
	MSPID=""
}
# need_modelserver NAME: MS is the model server binary ($MODELSERVER, made
# absolute), or NAME says what to set and the script exits 2
need_modelserver() {
	MS=${MODELSERVER:-}
	case $MS in "" | /*) ;; *) MS=$PWD/$MS ;; esac
	if [ -z "$MS" ] || [ ! -x "$MS" ]; then
		echo "$1: set MODELSERVER to the model server binary (make build/modelserver)" >&2
		exit 2
	fi
}

start_modelserver() {
	local i name=$1
	shift
	trap 'stopserver; cleanup' EXIT
	"$MS" --port 0 --port-file "$TOP/ms.port" "$@" >"$TOP/ms.log" 2>&1 &
	MSPID=$!
	for ((i = 0; i < 200; i++)); do # 10 s at most
		[ -s "$TOP/ms.port" ] && break
		kill -0 "$MSPID" 2>/dev/null || break
		sleep 0.05
	done
	PORT=$(cat "$TOP/ms.port" 2>/dev/null)
	if ! [[ $PORT =~ ^[0-9]+$ ]]; then
		echo "$name: the model server did not start:" >&2
		cat "$TOP/ms.log" >&2
		exit 2
	fi
}
