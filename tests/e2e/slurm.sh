#!/usr/bin/env bash
# End-to-end tests of executor: slurm against a real single-node SLURM
# that the test starts in its temp folder: munged (its own key and
# socket), slurmctld and slurmd (a slurm.conf with state, spool, pid files
# and logs in temp, ports on 127.0.0.1), stopped by their pids at exit.
# A daemon that cannot start is a loud failure (exit 2), never a pass.
#
# Cases: 40 cells through one job array of 4 shards run exactly once and
# give the table a local run gives; a second run submits nothing; Ctrl-C
# during the array cancels it (exit 130, nothing left in squeue); an agent
# error fails the run naming the cell and its shard's log.
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/slurm.sh
# Needs: slurm-wlm and munge (Debian), python3 (free ports).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

. "$HERE/slurmlib.sh"
trap 'stop_slurm; cleanup' EXIT
start_slurm "$TOP/slurm"

# the project: 20 tasks x 2 iterations = 40 cells, run through SLURM in
# 4 shards; the agent appends its cell id to ./calls (one short O_APPEND
# write), after noting its start in ./started and sleeping ./delay seconds
slurmproject() {
	local i
	mkdir -p tasks
	for ((i = 1; i <= 20; i++)); do
		printf '{"id": "t%02d", "input": "%d", "expected": "%d"}\n' "$i" "$i" "$i"
	done >tasks/all.jsonl
	cat >agent.sh <<EOF
#!/bin/sh
echo "\$EVAL_SUITE/\$EVAL_TASK#\$EVAL_ITERATION" >>started
if [ -f delay ]; then $(sleeper agent) "\$(cat delay)" || exit 1; fi
echo "\$EVAL_SUITE/\$EVAL_TASK#\$EVAL_ITERATION" >>calls
if [ -f fail ] && [ "\$(cat fail)" = "\$EVAL_TASK" ]; then
	echo "failed on purpose on \$EVAL_TASK" >&2
	exit 3
fi
cat
EOF
	chmod +x agent.sh
	cat >Evalfile <<'EOF'
executor: slurm
slurm:
  shards: 4
  max_parallel: 4
  time: "10"
suites:
  s:
    tasks: tasks/all.jsonl
    iterations: 2
    agent: {command: ./agent.sh}
    grader: {type: exact, trim: true}
EOF
}

# none of our jobs in squeue
queue_empty() { [ -z "$(squeue -h -o %i 2>/dev/null)" ]; }

try "40 cells through one SLURM job array of 4 shards: each runs once, the table is a local run's"
slurmproject
cp -r "$P" "$T/local"
(cd "$T/local" && "$E" --executor local >"$T/local.out" 2>"$T/local.err")
em --json r.json
assert_rc 0
check "it submitted one array of 4 tasks" grep -q "in an array of 4 tasks" "$T/err"
checks "40 agent calls" "[ \$(wc -l <calls) = 40 ]"
checks "no cell ran twice" "[ -z \"\$(sort calls | uniq -d)\" ]"
check "the table is the local run's" cmp "$T/out" "$T/local.out"
assert_json r.json '[.ran, .cached, .errors]' '[40, 0, 0]'
checks "a log per shard in cache/slurm" "[ \$(ls cache/slurm/*_[1-4].log | wc -l) = 4 ]"
checks "squeue is empty afterwards" queue_empty

try "a second run with every cell cached submits nothing"
cp -r "$T"/../t.*/p/. . 2>/dev/null # the first case's project and cache
logs=$(ls cache/slurm/*.log | wc -l)
em
assert_rc 0
check "nothing submitted" ! grep -q "submitted SLURM job" "$T/err"
checks "no new shard log" "[ \$(ls cache/slurm/*.log | wc -l) = $logs ]"
checks "no agent call" "[ \$(wc -l <calls) = 40 ]"
check "all 40 cached" grep -qE '^s +1.000 .* 40 +0 +40 +0( |$)' "$T/out"

try "Ctrl-C during the array: scancel, exit 130, nothing left queued or running"
slurmproject
echo 30 >delay
bg_em
checks "the array started a cell" "waitfor 60 '[ -s started ]'"
kill -INT "$bgpid"
bg_wait 90
assert_rc 130
check "it says it cancelled the job" grep -q "cancelled SLURM job" "$T/err"
checks "squeue is empty" queue_empty
checks "no agent is left running" "waitfor 20 \"! pgrep -f -- '$MARK' >/dev/null\""
checks "no cell was stored" "[ \"\$(nruns)\" = 0 ]"

try "an agent error in the array: exit 1 naming the cell and its shard's log, the rest kept"
slurmproject
echo t05 >fail
em -k
assert_rc 1
check "the cell is named" grep -q "s/t05#1" "$T/err"
checks "with its shard's log" "grep 's/t05#1' '$T/err' | grep -q 'cache/slurm/[0-9]*_[1-4].log'"
log=$(grep -o '/[^ ]*cache/slurm/[0-9]*_[1-4]\.log' "$T/err" | head -n 1)
check "the log exists and tells of the failure" grep -q "t05" "$log"
checks "squeue is empty" queue_empty
rm fail
em status --json st.json
assert_json st.json '[.suites[0].tasks[] | select(.id != "t05") | .cells[].status] | unique' '["cached"]'

try "--executor slurm: suites with executor local run here, the others in the array"
slurmproject
sed -i '/^executor: slurm$/d' Evalfile
cat >>Evalfile <<'EOF'
  here:
    tasks: tasks/all.jsonl
    executor: local
    agent: {command: ./where.sh}
    grader: {type: exact, trim: true}
EOF
printf '#!/bin/sh\necho "$EVAL_TASK ${SLURM_JOB_ID:-none}" >>where\ncat\n' >where.sh
chmod +x where.sh
em -n --executor slurm
check "-n says what would go to the array" grep -q "40 of them would run in one SLURM job array of 4 tasks" "$T/out"
em --executor slurm
assert_rc 0
check "it submitted an array for suite s" grep -q "submitted SLURM job" "$T/err"
checks "40 cells of s ran in SLURM" "[ \$(wc -l <calls) = 40 ]"
checks "the 20 cells of the local suite ran here" "[ \$(wc -l <where) = 20 ] && [ \$(grep -c ' none\$' where) = 20 ]"
em --json r.json
assert_json r.json '[.ran, .cached, .errors]' '[0, 60, 0]'

try "check through SLURM: the array runs, then the gates of every cell"
slurmproject
sed -i 's/    grader: {type: exact, trim: true}/    grader: {type: exact, trim: true}\n    threshold: 0.9/' Evalfile
em check --json r.json
assert_rc 0
check "it submitted one array" grep -q "submitted SLURM job" "$T/err"
check "the gate passed" grep -q "check: passed" "$T/out"
assert_json r.json '[.ran, .errors]' '[40, 0]'
checks "squeue is empty" queue_empty

finish
summary
