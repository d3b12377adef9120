#!/usr/bin/env bash
# bench/slurm.sh: what running cells as a SLURM job array costs.
#
# Usage:  bash bench/slurm.sh                 (run on demand; not in make test)
# Environment:
#   EVALMAKE=path   the binary to measure (default: the repo's ./evalmake)
#   CELLS=40        cells (tasks x 1 iteration)
#   SLEEP=0.5       seconds each agent call takes
#   SHARDS=4        the array's tasks (slurm: shards)
#   SLURM_CONF      an existing cluster to use; unset: a single-node SLURM is
#                   started in the temp folder (tests/e2e/slurmlib.sh) and
#                   stopped at the end
#
# One project of CELLS cells (a .jsonl suite, an agent that notes the time
# it starts in ./starts, sleeps SLEEP seconds and echoes its input, the
# exact grader), with `jobs: 1` so that each array task runs one cell at a
# time, and SLURM gives one CPU to each task. It is run twice, from a cold
# cache each time:
#   local   `evalmake --executor local -j NCPU` (NCPU = nproc: the same
#           parallelism the single node gives the array)
#   slurm   `evalmake` with executor: slurm and SHARDS shards
# and prints: the wall time of each, the time from starting evalmake to the
# first cell starting under SLURM (planning, sbatch, the scheduler's pass,
# the task's start and its own plan), and the overhead per cell: (slurm -
# local) / CELLS. Each run is checked: every cell ran exactly once.
set -u
export LC_ALL=C NO_COLOR=1

HERE=$(cd "$(dirname "$0")" && pwd)
E=${EVALMAKE:-$HERE/../evalmake}
case $E in /*) ;; *) E=$PWD/$E ;; esac
CELLS=${CELLS:-40}
SLEEP=${SLEEP:-0.5}
SHARDS=${SHARDS:-4}
NCPU=$(nproc)

TOP=$(mktemp -d "${TMPDIR:-/tmp}/evalmake-bench-slurm.XXXXXX") || exit 2
. "$HERE/../tests/e2e/slurmlib.sh"
trap 'stop_slurm; rm -rf "$TOP"' EXIT
if [ -z "${SLURM_CONF:-}" ]; then
	start_slurm "$TOP/slurm"
fi

mkproject() {
	local d=$1 i
	mkdir -p "$d/tasks"
	for ((i = 1; i <= CELLS; i++)); do
		printf '{"id": "t%05d", "input": "%d", "expected": "%d"}\n' "$i" "$i" "$i"
	done >"$d/tasks/all.jsonl"
	cat >"$d/agent.sh" <<EOF
#!/bin/sh
date +%s.%N >>starts
sleep $SLEEP
echo "\$EVAL_TASK" >>calls
cat
EOF
	chmod +x "$d/agent.sh"
	cat >"$d/Evalfile" <<EOF
jobs: 1
executor: slurm
slurm: {shards: $SHARDS}
suites:
  s:
    tasks: tasks/all.jsonl
    agent: {command: ./agent.sh}
    grader: {type: exact, trim: true}
EOF
}

ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

checkcalls() {
	local n dup
	n=$(wc -l <"$1/calls")
	dup=$(sort "$1/calls" | uniq -d | wc -l)
	if [ "$n" != "$CELLS" ] || [ "$dup" != 0 ]; then
		echo "FAIL: $2: $n agent calls ($dup twice), expected $CELLS once each" >&2
		exit 1
	fi
}

mkproject "$TOP/local"
mkproject "$TOP/slurm-run"

t0=$EPOCHREALTIME
(cd "$TOP/local" && "$E" -s --executor local -j "$NCPU") || { echo "FAIL: the local run failed" >&2; exit 1; }
t1=$EPOCHREALTIME
checkcalls "$TOP/local" local
tlocal=$(ms "$t0" "$t1")

t0=$EPOCHREALTIME
(cd "$TOP/slurm-run" && "$E" -s) || { echo "FAIL: the SLURM run failed" >&2; exit 1; }
t1=$EPOCHREALTIME
checkcalls "$TOP/slurm-run" slurm
tslurm=$(ms "$t0" "$t1")
first=$(sort -n "$TOP/slurm-run/starts" | head -n 1)
tfirst=$(ms "$t0" "$first")

echo "cells $CELLS, agent ${SLEEP}s each, $NCPU CPUs, $SHARDS shards (evalmake $("$E" --version | awk '{print $2}'))"
printf '%-34s %8s ms\n' "local run (-j $NCPU)" "$tlocal" "slurm run (job array)" "$tslurm" \
	"evalmake start -> first cell (slurm)" "$tfirst"
printf '%-34s %8s ms\n' "overhead per cell (slurm - local)" "$(awk -v a="$tlocal" -v b="$tslurm" -v n="$CELLS" 'BEGIN { printf "%.0f", (b - a) / n }')"
