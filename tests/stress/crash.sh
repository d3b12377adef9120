#!/usr/bin/env bash
# Crash suite: kill -9 evalmake (or its whole process group) at seeded random
# moments, run again, and check the cache's promises after every kill.
#
#   EVALMAKE=/abs/evalmake MODELSERVER=/abs/build/modelserver bash tests/stress/crash.sh
#   CRASH_KILLS=50 CRASH_CELLS=200 CRASH_SEED=7 ...   (make stress: the long run)
#
# The project: CRASH_CELLS command cells (a bash agent that sleeps 0-50 ms and
# prints its task's input, so its output is known) and CRASH_CELLS model cells
# against tests/modelserver ("REPLY: x" answers x), every grader exact against
# that output. A few command cells are slow (60 s) until the final run: a
# kill always finds agents running, and one outliving evalmake is seen.
# Every 5 kills the runs ask for one more iteration (--iterations), so each
# kill lands on work in flight, not on a finished project.
# After each kill, before anything runs again:
#   - a dry run (-n) reads the cache (exit 0): the committed cells, those
#     whose run result is stored (a grade lost to the kill is redone from
#     the stored output, without the agent);
#   - no agent process is left (polled for 5 s: a slow agent that outlived
#     evalmake would still be there);
#   - no committed cell is lost, and none was run again by the killed run
#     (each agent call appends "CELL RUN" to a log outside the project);
#     its model requests were at most the cells not committed before it.
# Then the final run must end within its timeout (no hang: a stale lock, a
# half-written entry), run exactly the cells not committed (as many model
# requests as model cells among them), and leave every cell cached with
# score 1: its stored output is exactly what its agent printed.
# A second case kills a watcher and two runs sharing one cache while task
# files are edited (the same orphan and cache checks), then runs to the end.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../e2e/lib.sh"

KILLS=${CRASH_KILLS:-10}
CELLS=${CRASH_CELLS:-60}
SEED=${CRASH_SEED:-1}
need_modelserver crash.sh
echo "# crash suite: $KILLS kills, $CELLS command + $CELLS model cells, seed $SEED" >&2

KEY=sk-crash-SECRET-5678
export EMKEY=$KEY

start_modelserver crash.sh --latency-ms 20
msrequests() {
	curl -s "http://127.0.0.1:$PORT/_stats" | jq -r .requests
}

# the seeded random numbers, one a line: delays in ms in [$2, $3)
randoms() {
	awk -v seed="$1" -v lo="$2" -v hi="$3" -v n="$4" 'BEGIN { srand(seed); for (i = 0; i < n; i++) printf "%d\n", lo + rand() * (hi - lo) }'
}

# the project in $P; the agent logs its calls to $T/calls as "CELL RUN",
# RUN read from $T/run; slow cells sleep 60 s unless $T/final exists
mkcrashproject() {
	local i sl
	sl=$(sleeper crash)
	mkdir -p tasks/cmd
	for ((i = 1; i <= CELLS; i++)); do
		mkdir -p "tasks/cmd/t$i"
		# a few hundred bytes: a torn write would show
		printf 'answer %d %s\n' "$i" "$(printf 'x%.0s' $(seq 1 $((i % 7 * 40 + 20))))" >"tasks/cmd/t$i/input.txt"
		cp "tasks/cmd/t$i/input.txt" "tasks/cmd/t$i/expected.txt"
	done
	for ((i = 1; i <= CELLS; i++)); do
		printf '{"id": "m%d", "input": "REPLY: model answer %d", "expected": "model answer %d"}\n' "$i" "$i" "$i"
	done >tasks/model.jsonl
	cat >agent.sh <<EOF
#!/bin/bash
read -r run <"$T/run"
echo "\$EVAL_SUITE/\$EVAL_TASK#\$EVAL_ITERATION \$run" >>"$T/calls"
n=\${EVAL_TASK#t}
if [ \$((n % 25)) = 0 ] && [ ! -e "$T/final" ]; then
	"$sl" 60
else
	"$sl" 0.0\$((RANDOM % 50))
fi
cat
EOF
	chmod +x agent.sh
	cat >Evalfile <<EOF
jobs: 8
defaults: {iterations: 1, timeout: 120}
suites:
  cmd:
    tasks: tasks/cmd/*
    prompt: prompts/cmd.md
    agent: {command: ./agent.sh}
    grader: {type: exact}
  model:
    tasks: tasks/model.jsonl
    agent:
      provider: openai
      model: fake
      base_url: http://127.0.0.1:$PORT/v1
      api_key_env: EMKEY
    grader: {type: exact}
EOF
	mkdir -p prompts
	printf '{{input}}' >prompts/cmd.md
	echo 0 >"$T/run"
	: >"$T/calls"
	ITER=1
}

# every cell of $ITER iterations, one a line, sorted
allcells() {
	local i j
	for ((j = 1; j <= ITER; j++)); do
		for ((i = 1; i <= CELLS; i++)); do
			echo "cmd/t$i#$j"
			echo "model/m$i#$j"
		done
	done | sort
}

# the committed cells: those whose run result is stored, one a line. Not
# `status` ("cached" needs the grade too, and grades of a killed run may be
# lost: they are redone from the stored output, no agent called) but the
# cells a dry run (-n) would not run again.
committed() {
	timeout 60 "$E" -n --iterations "$ITER" >"$T/dry.out" 2>"$T/status.err" || echo "evalmake -n: exit $?" >>"$T/status.err"
	awk '$1 == "run" { sub(/:$/, "", $2); print $2 }' "$T/dry.out" | sort >"$T/notdone"
	sancheck "$T/status.err"
	allcells | comm -23 - "$T/notdone"
}

# after a kill: no agent process may be left (a slow one would still run)
noorphans() {
	local sl
	sl=$(sleeper crash)
	if ! waitfor 5 "! pgrep -f -- '$sl' >/dev/null && ! pgrep -f -- '$P/agent.sh' >/dev/null"; then
		fail "agents outlived evalmake ($1): $(pgrep -a -f -- "$sl" | tr '\n' ';')"
		killmarked "$sl"
	fi
}

# the calls of run $1 to cells listed in file $2: none may be there
nocommittedrerun() {
	local bad
	bad=$(awk -v r="$1" '$2 == r { print $1 }' "$T/calls" | sort -u | comm -12 - "$2")
	[ -z "$bad" ] || fail "committed cells ran again in run $1: $(echo $bad | head -c 300)"
}

# the final state: every cell cached, score 1
allgood() {
	local n
	timeout 60 "$E" -s status --iterations "$ITER" --json - >"$T/final.json" 2>"$T/status.err"
	check "status after the final run exits 0 ($(cat "$T/status.err"))" [ $? = 0 ]
	n=$(jq '[.suites[].tasks[].cells[] | select(.status == "cached" and .score == 1)] | length' "$T/final.json")
	check "every cell cached with score 1 (got $n of $1)" [ "$n" = "$1" ]
}

try "crash: $KILLS kills -9 (of evalmake, then of its process group, in turn), then a run to completion"
mkcrashproject
mapfile -t DELAYS < <(randoms "$SEED" 50 1500 "$KILLS")
nkills=0 npid=0 ngroup=0 maxcommitted=0
committed >"$T/c0"
for ((k = 1; k <= KILLS; k++)); do
	echo "$k" >"$T/run"
	# every 5 kills a new iteration of every cell: work for the next kills
	ITER=$(((k - 1) / 5 + 1))
	req0=$(msrequests)
	notdone=$((2 * CELLS * ITER - $(wc -l <"$T/c$((k - 1))")))
	set -m # its own process group, as a job
	"$E" -s -k --iterations "$ITER" >"$T/run$k.out" 2>"$T/run$k.err" &
	pid=$!
	set +m
	sleep "$(awk -v d="${DELAYS[$((k - 1))]}" 'BEGIN { printf "%.3f", d / 1000 }')"
	if [ $((k % 2)) = 1 ]; then
		kill -9 "$pid" 2>/dev/null
		npid=$((npid + 1))
	else
		kill -9 -- "-$pid" 2>/dev/null
		ngroup=$((ngroup + 1))
	fi
	wait "$pid" 2>/dev/null
	sancheck "$T/run$k.err"
	nkills=$((nkills + 1))
	noorphans "kill $k"
	committed >"$T/c$k"
	check "a dry run reads the cache after kill $k ($(cat "$T/status.err"))" [ -z "$(cat "$T/status.err")" ]
	# nothing committed is lost
	lost=$(comm -23 "$T/c$((k - 1))" "$T/c$k" | head -3)
	check "committed cells stay committed after kill $k: lost $lost" [ -z "$lost" ]
	nocommittedrerun "$k" "$T/c$((k - 1))"
	req=$(($(msrequests) - req0))
	check "run $k made $req model requests, more than the $notdone cells not done" [ "$req" -le "$notdone" ]
	maxcommitted=$(wc -l <"$T/c$k")
done
echo "# $nkills kills ($npid of evalmake, $ngroup of its group); $maxcommitted of $((2 * CELLS * ITER)) cells ($ITER iterations) committed before the final run" >&2
touch "$T/final"
echo final >"$T/run"
req0=$(msrequests)
timeout -s KILL 300 "$E" -s -k --iterations "$ITER" --json "$T/last.json" >"$T/final.out" 2>"$T/final.err"
rc=$?
check "the final run completes (rc $rc: $(head -c 300 "$T/final.err"))" [ "$rc" = 0 ]
sancheck "$T/final.err"
nocommittedrerun final "$T/c$KILLS"
ran=$(jq .ran "$T/last.json" 2>/dev/null)
pending=$((2 * CELLS * ITER - $(wc -l <"$T/c$KILLS")))
check "the final run ran exactly the $pending cells not committed (ran $ran)" [ "$ran" = "$pending" ]
req=$(($(msrequests) - req0))
pendmodel=$((CELLS * ITER - $(grep -c '^model/' "$T/c$KILLS")))
check "the final run's model requests ($req) are the model cells not committed ($pendmodel)" [ "$req" = "$pendmodel" ]
allgood $((2 * CELLS * ITER))
# a run after it does nothing
"$E" -q --iterations "$ITER" >/dev/null 2>&1
check "then everything is up to date (-q)" [ $? = 0 ]

try "crash: a watcher and two runs on one cache while task files are edited, each killed -9 at random"
mkcrashproject
echo w >"$T/run"
RANDOM=$SEED # the edits and kinds of kill, seeded too
mapfile -t DELAYS < <(randoms "$((SEED + 1))" 50 1500 "$((KILLS * 3))")
for ((k = 1; k <= KILLS; k++)); do
	{ # no "Killed" notices from bash
		set -m
		"$E" watch --jsonl >"$T/watch$k.out" 2>"$T/watch$k.err" &
		w=$!
		"$E" -s -k >/dev/null 2>&1 &
		a=$!
		"$E" -s -k -j 3 >/dev/null 2>&1 &
		b=$!
		set +m
		BGPIDS+=("$w" "$a" "$b")
		# edit a few tasks (input and expected alike: the answer stays right)
		for ((e = 0; e < 3; e++)); do
			i=$((RANDOM % CELLS + 1))
			printf 'edit %d %d %s\n' "$k" "$e" "$(cat "tasks/cmd/t$i/input.txt")" >"$T/new"
			cp "$T/new" "tasks/cmd/t$i/expected.txt"
			mv "$T/new" "tasks/cmd/t$i/input.txt"
			sleep 0.1
		done
		j=$(((k - 1) * 3))
		for p in $w $a $b; do
			sleep "$(awk -v d="${DELAYS[$j]}" 'BEGIN { printf "%.3f", d / 3000 }')"
			j=$((j + 1))
			if [ $((RANDOM % 2)) = 0 ]; then
				kill -9 "$p" 2>/dev/null
			else
				kill -9 -- "-$p" 2>/dev/null
			fi
		done
		{
			wait "$w" "$a" "$b"
		} 2>/dev/null
		BGPIDS=()
		noorphans "watcher kill $k"
		committed >/dev/null
		check "a dry run reads the cache after watcher kill $k ($(cat "$T/status.err"))" [ -z "$(cat "$T/status.err")" ]
	} 2>/dev/null
done
touch "$T/final"
timeout -s KILL 300 "$E" -s -k >"$T/final.out" 2>"$T/final.err"
rc=$?
check "the final run completes (rc $rc: $(head -c 300 "$T/final.err"))" [ "$rc" = 0 ]
sancheck "$T/final.err"
allgood $((2 * CELLS))

finish
stopserver
summary
