#!/usr/bin/env bash
# An adversarial audit of the record's plan (report/noop.h): a run after
# a few task files changed builds its plan from the record and re-keys
# only them. Each case checks the table against planning everything
# (--json: no record used) and, with EVALMAKE_NOOP_VERIFY, that both
# plans agree.
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/noopdelta.sh
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
unset EVALMAKE_NOOP_VERIFY

# wait out the second within which a write may hide (seen.h) and keep a
# record that the next run replays
settle() {
	sleep 1.1
	em -s
	assert_rc 0
	em -s
	assert_rc 0
}

# the table planning everything prints now (--json: no record is used)
fulltable() {
	"$E" --json "$T/full.json" >"$T/full.txt" 2>"$T/full.err"
}

# a run now (from the record) prints planning's table
assert_full() {
	em
	assert_rc 0
	cp "$T/out" "$T/delta.txt"
	fulltable
	check "the same table as planning everything" cmp "$T/delta.txt" "$T/full.txt"
}

# tasks/t1..t3.json (input aN, expected aN) and an agent that logs each
# call and echoes its input; the Evalfile is the case's
mkagent() {
	local i
	mkdir tasks
	for i in 1 2 3; do
		printf '{"input": "a%s", "expected": "a%s"}\n' "$i" "$i" >"tasks/t$i.json"
	done
	cat >agent.sh <<'AGENT'
echo "$EVAL_TASK" >>calls
cat
AGENT
}

try "one task file in two suites (globs that overlap): a change re-keys it in both"
mkagent
cat >Evalfile <<'EOF2'
suites:
  s:
    tasks: tasks/*.json
    agent: {command: sh agent.sh}
    grader: {type: exact, trim: true}
  u:
    tasks: tasks/t*.json
    agent: {command: sh agent.sh}
    grader: {type: contains}
EOF2
settle
printf '{"input": "b2", "expected": "a2"}\n' >tasks/t2.json
EVALMAKE_NOOP_DEBUG=1 em
assert_rc 0
check "it planned from the record" grep -q 'planned the tasks of 1 changed file alone' "$T/err"
check "suite u sees the change too" grep -q 'FAIL u/t2' "$T/out"
assert_full
settle
printf '{"input": "c2", "expected": "a2"}\n' >tasks/t2.json
EVALMAKE_NOOP_VERIFY=1 em
assert_rc 0

try "an expected answer changed: the task is graded again, and the record kept is replayed next"
mkagent
cat >Evalfile <<'EOF2'
suites:
  s:
    tasks: tasks/*.json
    agent: {command: sh agent.sh}
    grader: {type: exact, trim: true}
EOF2
settle
rm -f calls
printf '{"input": "a2", "expected": "zz"}\n' >tasks/t2.json
sleep 1.1 # not a racy file: the record holds as it is
EVALMAKE_NOOP_DEBUG=1 em
assert_rc 0
assert_calls 0
check "it planned from the record" grep -q 'planned the tasks of 1 changed file alone' "$T/err"
check "it regraded t2" grep -qE '^s .* 1 +0 .*' "$T/out"
check "a record was kept" ! grep -q 'not kept' "$T/err"
EVALMAKE_NOOP_DEBUG=1 em
assert_rc 0
check "the next run replays it" ! grep -q 'none for this command' "$T/err"
check "the new failure is in it" grep -q 'FAIL s/t2  0.00  expected "zz", got "a2"' "$T/out"
assert_full

try "status after a task of a suite of several graders changed: its cells wait to run, their old graders' scores not shown"
mkagent
cat >Evalfile <<'EOF2'
suites:
  s:
    tasks: tasks/*.json
    iterations: 2
    agent: {command: sh agent.sh}
    graders:
      - {name: same, type: exact, trim: true, weight: 3}
      - {name: has, type: contains, weight: 1}
EOF2
printf '{"input": "b2", "expected": "a2"}\n' >tasks/t2.json
em
sleep 1.1
em status
em status
assert_rc 0
printf '{"input": "c2", "expected": "a2"}\n' >tasks/t2.json
sleep 1.1
EVALMAKE_NOOP_DEBUG=1 em status
assert_rc 0
check "it planned from the record" grep -q 'planned the tasks of 1 changed file alone' "$T/err"
check "t2 waits; the graders' scores are of the others" grep -qE '^s .* 2 +same 1\.000 +has 1\.000' "$T/out"
"$E" status --json "$T/full.json" >"$T/full.txt" 2>"$T/full.err"
check "the same table as planning everything" cmp "$T/out" "$T/full.txt"

summary
