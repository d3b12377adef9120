#!/usr/bin/env bash
# End-to-end tests: the agent never sees the expected answer (so fixing one
# re-grades without calling the agent), and a result is stored only under
# the key of the inputs that were executed (a file edited while cells run
# never poisons the cache).
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/answers.sh
#
# Cases that edit files mid-run wait on marker files the agent or grader
# writes, never on timing. Needs: bash, coreutils, jq, pgrep, timeout.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# a project whose agent dumps everything it is given into seen.TASK:
# EVAL_TASK_JSON, a listing of EVAL_TASK_PATH and every file under it
mkviewproject() {
	mkdir -p tasks/dir/t1/data tasks/dir/t1/sub tasks/json
	printf 'one\n' >tasks/dir/t1/input.txt
	printf 'ANSWER-DIR-FILE\n' >tasks/dir/t1/expected.txt
	printf 'ANSWER-DIR-FILE-2\n' >tasks/dir/t1/expected_alt.md
	printf '{"level": 3, "answer": "ANSWER-DIR-FIELD"}\n' >tasks/dir/t1/task.json
	printf 'a,b\n1,2\n' >tasks/dir/t1/data/table.csv
	printf 'nested\n' >tasks/dir/t1/sub/notes.txt
	{
		echo '{"id": "q1", "input": "hi", "expected": "ANSWER-JSONL-1"}'
		echo '{"id": "q2", "input": "ho", "ideal": ["ANSWER-JSONL-2", "ANSWER-JSONL-3"]}'
		echo '{"id": "q3", "input": "hu", "target": "ANSWER-JSONL-4", "answer": "ANSWER-JSONL-5"}'
	} >tasks/q.jsonl
	printf '{"input": "hey", "answer": "ANSWER-JSON", "meta": {"k": 1}}\n' >tasks/json/j1.json
	cat >agent.sh <<'EOF'
#!/bin/sh
echo "$EVAL_TASK" >>calls
{
	echo "path: $EVAL_TASK_PATH"
	cat "$EVAL_TASK_JSON"
	echo
	ls -R "$EVAL_TASK_PATH"
	find "$EVAL_TASK_PATH" -type f -exec cat {} +
} >"seen.$EVAL_TASK"
echo "$EVAL_TASK_PATH" >"path.$EVAL_TASK"
# an agent that writes into its copy of the task changes nothing outside
[ -d "$EVAL_TASK_PATH" ] && echo scribble >>"$EVAL_TASK_PATH/input.txt"
echo ok
EOF
	chmod +x agent.sh
	cat >Evalfile <<'EOF'
suites:
  v:
    tasks: [tasks/dir/*, tasks/q.jsonl, tasks/json/*.json]
    agent: {command: ./agent.sh, deps: [agent.sh]}
EOF
}

# ---------------------------------------------------------------------------
# the agent's view of a task

try "an agent that lists and cats everything it is given sees no expected answer"
mkviewproject
em -k
assert_rc 0
assert_calls_are "t1
q1
q2
q3
j1"
check "the agent saw its task" grep -q '"level":3' seen.t1
checks "the folder copy holds the task's other files" 'grep -q "^table.csv$" seen.t1 && grep -q "^input.txt$" seen.t1 && grep -q "^nested$" seen.t1'
checks "no answer in what any agent saw" '! grep -l ANSWER seen.*'
checks "no expected file listed" '! grep -q "^expected" seen.t1'
check "the .jsonl task's fields are there" grep -q '"input":"hu"' seen.q3
check "the .json task's fields are there" grep -q '"meta":{"k":1}' seen.j1
check "a .json task's EVAL_TASK_PATH is its EVAL_TASK_JSON" grep -q 'path: .*/task.json$' seen.j1
checks "the folder copy is removed afterwards" '[ ! -e "$(cat path.t1)" ]'
check "an agent writing into its copy leaves the task alone" ! grep -q scribble tasks/dir/t1/input.txt
checks "no answer in the stored entries" '! grep -r ANSWER cache/runs && ! entrytext | grep -qa ANSWER'

try "the agent's copy of a folder task is a real copy, not hard links"
mkviewproject
cat >agent.sh <<'EOF'
#!/bin/sh
stat -c %i "$EVAL_TASK_PATH/input.txt" >inode 2>/dev/null
echo ok
EOF
em v/t1
assert_rc 0
checks "another inode" '[ "$(cat inode)" != "$(stat -c %i tasks/dir/t1/input.txt)" ]'

# ---------------------------------------------------------------------------
# fixing an expected answer re-grades without calling the agent

try "fixing a task folder's expected.txt calls no agent and moves the score"
mkproject
em --json r.json
assert_rc 0
assert_json r.json "$(cellscore calc t3 1)" 0
rm -f calls
printf 'three\n' >tasks/calc/t3/expected.txt
em --json r.json
assert_rc 0
assert_calls 0
assert_json r.json "$(cellscore calc t3 1)" 1
assert_json r.json "$(cellscore calc t3 2)" 1
assert_json r.json '.ran' 0

try "fixing a .jsonl line's answer calls no agent and moves the score"
mkproject
em --json r.json
assert_json r.json "$(cellscore quiz q3 1)" 0
rm -f calls
sed -i 's/"target": "gamma"/"target": "gamma ray"/' tasks/quiz.jsonl
em --json r.json
assert_rc 0
assert_calls 0
assert_json r.json "$(cellscore quiz q3 1)" 1
assert_json r.json "$(cellscore quiz q3 2)" 1
rm -f calls
# renaming the field the answer is read from is no input of the agent either
sed -i 's/"ideal": "beta"/"answer": "beta"/' tasks/quiz.jsonl
em
assert_rc 0
assert_calls 0

try "a field the suite maps as the answer (fields: {expected: test}) is hidden from the agent and out of its key, in every format"
mkdir -p tasks
printf '{"task_id": "H/0", "prompt": "p0", "test": "SECRET-TEST-0"}\n{"task_id": "H/1", "prompt": "p1", "test": "SECRET-TEST-1"}\n' >tasks/h.jsonl
printf 'task_id,prompt,test\nC0,c0,SECRET-CSV-0\n' >tasks/c.csv
printf '{"prompt": "j0", "test": "SECRET-JSON-0"}\n' >tasks/j.json
cat >agent.sh <<'EOF'
#!/bin/sh
echo "$EVAL_TASK" >>calls
f="seen.$(echo "$EVAL_TASK" | tr / _)"
cat "$EVAL_TASK_JSON" >"$f"
cat "$EVAL_TASK_PATH" >>"$f" 2>/dev/null
echo ok
EOF
chmod +x agent.sh
cat >grade.sh <<'EOF'
#!/bin/sh
# the grader sees the test: it scores 1 when the task's test says PASS
if grep -q PASS "$EVAL_TASK_JSON"; then echo 1; else echo 0; fi
EOF
chmod +x grade.sh
cat >Evalfile <<'EOF'
suites:
  h:
    tasks: [tasks/h.jsonl, tasks/c.csv, tasks/j.json]
    fields: {id: task_id, input: prompt, expected: test}
    agent: {command: ./agent.sh}
    grader: {type: command, command: ./grade.sh}
EOF
em --json r.json
assert_rc 0
assert_calls 4
checks "the agent saw no mapped answer" '! grep -l SECRET seen.*'
assert_json r.json '[.suites[].tasks[].score]' '[0,0,0,0]'
rm -f calls
sed -i 's/SECRET-TEST-1/SECRET-TEST-1 PASS/' tasks/h.jsonl
sed -i 's/SECRET-CSV-0/SECRET-CSV-0 PASS/' tasks/c.csv
sed -i 's/SECRET-JSON-0/SECRET-JSON-0 PASS/' tasks/j.json
em --json r.json
assert_rc 0
assert_calls 0
assert_json r.json '.ran' 0
assert_json r.json '[.suites[].tasks[] | select(.score == 1) | .id] | sort' '["C0","H/1","j"]'

try "fixing a .json task's answer calls no agent and moves the score"
mkproject
mkdir -p tasks/js
printf '{"input": "Q: left", "answer": "right"}\n' >tasks/js/a.json
cat >>Evalfile <<'EOF'
  js:
    tasks: tasks/js/*.json
    agent: {command: ./agent.sh}
    iterations: 1
EOF
em --json r.json js
assert_json r.json "$(cellscore js a 1)" 0
rm -f calls
printf '{"input": "Q: left",\n "answer": "left"}\n' >tasks/js/a.json
em --json r.json js
assert_rc 0
assert_calls 0
assert_json r.json "$(cellscore js a 1)" 1
# the input is what the agent sees: changing it runs the agent
printf '{"input": "Q: middle", "answer": "left"}\n' >tasks/js/a.json
em js
assert_calls_are "js a 1"

try "fixing an answer in a folder task's task.json calls no agent"
mkproject
rm tasks/calc/t2/expected.txt
printf '{"expected": "TWO"}\n' >tasks/calc/t2/task.json
em --json r.json calc
assert_json r.json "$(cellscore calc t2 1)" 0
rm -f calls
printf '{"expected": "two"}\n' >tasks/calc/t2/task.json
em --json r.json calc
assert_rc 0
assert_calls 0
assert_json r.json "$(cellscore calc t2 1)" 1
# another field of task.json is seen by the agent
printf '{"expected": "two", "hint": "x"}\n' >tasks/calc/t2/task.json
em calc
assert_calls_are "calc t2 1
calc t2 2"

try "a prompt that shows {{expected}} makes the answer an input of the agent"
mkproject
printf 'Q: {{input}}\nHint: {{expected}}\n' >prompts/calc.md
em calc
rm -f calls
printf 'three\n' >tasks/calc/t3/expected.txt
em calc
assert_rc 0
assert_calls_are "calc t3 1
calc t3 2"

# ---------------------------------------------------------------------------
# results are stored only under the key of the inputs that were executed

# a project of 4 folder tasks, one iteration, jobs 1, whose deps'd agent
# script prints its version; the cell of task $1 waits for the file "go"
# (marking "started.TASK" first)
mkversionproject() {
	local i
	for i in 1 2 3 4; do
		mkdir -p "tasks/t$i"
		printf 'task %s\n' "$i" >"tasks/t$i/input.txt"
		printf 'v0\n' >"tasks/t$i/expected.txt"
	done
	cat >agent.sh <<EOF
#!/bin/sh
echo "\$EVAL_TASK" >>calls
: >"started.\$EVAL_TASK"
if [ "\$EVAL_TASK" = "$1" ]; then
	i=0
	while [ ! -e go ] && [ \$i -lt 1200 ]; do $(sleeper wait) 0.05; i=\$((i + 1)); done
fi
echo v0
EOF
	chmod +x agent.sh
	cat >Evalfile <<'EOF'
jobs: 1
suites:
  s:
    tasks: tasks/*
    agent: {command: ./agent.sh, deps: [agent.sh]}
    grader: {type: exact}
EOF
}

try "an agent script edited while cells run: nothing stored under the old key (the reproducer)"
mkversionproject t2
bg_em -k --json r.json
check "t2 started" waitfor 30 '[ -e started.t2 ]'
sed -i 's/^echo v0$/echo v1/' agent.sh # t2 runs, t3 and t4 are planned with v0
: >go
bg_wait 60
assert_rc 1
check "t2's result is not stored" grep -q 's/t2#1: agent.sh changed while the cell ran; result not stored' "$T/err"
check "t3 does not run the new script under the old key" grep -q 's/t3#1: agent.sh changed since the cell was planned; not run' "$T/err"
assert_json r.json "$(cellstatus s t1 1)" '"ran"'
assert_json r.json "$(cellstatus s t3 1)" '"error"'
assert_json r.json "$(cellstatus s t4 1)" '"error"'
check "t3 and t4 never ran" ! grep -qE 't3|t4' calls
# undo the edit, as git checkout would: every result is v0's
sed -i 's/^echo v1$/echo v0/' agent.sh
rm -f calls
em --json r.json
assert_rc 0
assert_calls_are "t2
t3
t4"
check "no v1 result served" ! grep -q v1 "$T/out"
assert_json r.json '[.suites[].tasks[].score]' '[1,1,1,1]'
# and with v1 for real, every cell runs v1
sed -i 's/^echo v0$/echo v1/' agent.sh
rm -f calls
: >go
em --json r.json
assert_rc 0
assert_calls 4
assert_json r.json '[.suites[].tasks[].score]' '[0,0,0,0]'

try "touching the agent script while cells run: the waiting cells run, the running one is not stored"
mkversionproject t2
bg_em -k --json r.json
check "t2 started" waitfor 30 '[ -e started.t2 ]'
touch -d '1 minute ago' agent.sh # new stat data, the same content
: >go
bg_wait 60
assert_rc 1
check "t2 ran while agent.sh was touched: not stored" grep -q 's/t2#1: agent.sh changed while the cell ran; result not stored' "$T/err"
assert_json r.json "[$(cellstatus s t3 1), $(cellstatus s t4 1)]" '["ran", "ran"]'
rm -f calls
em
assert_rc 0
assert_calls_are "t2"

try "a task folder edited while its cell runs: the agent works on its own copy, stored under the old key"
mkversionproject t2
cat >agent.sh <<EOF
#!/bin/sh
echo "\$EVAL_TASK" >>calls
: >"started.\$EVAL_TASK"
if [ "\$EVAL_TASK" = t2 ]; then
	i=0
	while [ ! -e go ] && [ \$i -lt 1200 ]; do $(sleeper wait) 0.05; i=\$((i + 1)); done
fi
cat "\$EVAL_TASK_PATH/input.txt"
EOF
for i in 1 2 3 4; do printf 'task %s\n' "$i" >"tasks/t$i/expected.txt"; done
bg_em -k --json r.json
check "t2 started" waitfor 30 '[ -e started.t2 ]'
printf 'edited\n' >tasks/t2/input.txt # t2's copy is taken; t3's input is next
printf 'edited 3\n' >tasks/t3/input.txt
: >go
bg_wait 60
assert_rc 1
assert_json r.json "$(cellstatus s t2 1)" '"ran"'
assert_json r.json "$(cellscore s t2 1)" 1
check "t3's edit since it was planned is caught" grep -q 's/t3#1: tasks/t3 changed since the cell was planned' "$T/err"
rm -f calls
em --json r.json
assert_rc 0
assert_calls_are "t2
t3"
printf 'task 2\n' >tasks/t2/input.txt
printf 'task 3\n' >tasks/t3/input.txt
rm -f calls
em --json r.json
assert_rc 0
assert_calls_are "t3" # t2's run with its first input was stored; t3's never ran
assert_json r.json '[.suites[].tasks[].score]' '[1,1,1,1]'

try "a command grader's script edited while grading: no grade stored under the old key"
mkversionproject t3 # t3's agent waits for "go": its grade starts after the edit
cat >grade.sh <<EOF
#!/bin/sh
read -r out
: >"graded.\$EVAL_EXPECTED"
if [ "\$EVAL_EXPECTED" = "task 2" ]; then
	i=0
	while [ ! -e go ] && [ \$i -lt 1200 ]; do $(sleeper wait) 0.05; i=\$((i + 1)); done
fi
echo 1 right
EOF
chmod +x grade.sh
for i in 1 2 3 4; do printf 'task %s\n' "$i" >"tasks/t$i/expected.txt"; done
sed -i 's/grader: {type: exact}/grader: {type: command, command: .\/grade.sh}/' Evalfile
bg_em -k --json r.json
check "t2's grade started" waitfor 30 '[ -e "graded.task 2" ] && [ -e started.t3 ]'
sed -i 's/^echo 1 right$/echo 0 wrong/' grade.sh
: >go
bg_wait 60
assert_rc 1
check "t2's grade is not stored" grep -q 's/t2#1: ./grade.sh changed while the grader ran; result not stored' "$T/err"
check "t3 is not graded by the new script under the old key" grep -q 's/t3#1: ./grade.sh changed since the cell was planned; not graded' "$T/err"
sed -i 's/^echo 0 wrong$/echo 1 right/' grade.sh
rm -f calls
em --json r.json
assert_rc 0
assert_calls 0
assert_json r.json '[.suites[].tasks[].score]' '[1,1,1,1]'

try "a stored output that is not the one its grade key names is not graded"
mkproject
em calc
assert_rc 0
for f in cache/runs/*/*/output; do [ -f "$f" ] && printf 'tampered\n' >"$f"; done
# the small entries are rows of index.db: their output part rewritten
python3 - <<'PY'
import re, sqlite3, subprocess
db = sqlite3.connect("cache/index.db")
for key, z, body in db.execute("SELECT key, zstd, body FROM entries").fetchall():
    if z:
        body = subprocess.run(["zstd", "-dcq"], input=body, capture_output=True, check=True).stdout
    parts, pos = [], len(b"evalmake-entry 1\n")
    while pos < len(body):
        m = re.compile(rb"(\S+) (\d+)\n").match(body, pos)
        n, l = m.group(1), int(m.group(2))
        parts.append((n, b"tampered\n" if n == b"output" else body[m.end():m.end() + l]))
        pos = m.end() + l
    new = b"evalmake-entry 1\n" + b"".join(n + b" %d\n" % len(d) + d for n, d in parts)
    db.execute("UPDATE entries SET zstd = 0, size = ?, body = ? WHERE key = ?", (len(new), new, key))
db.commit()
PY
sed -i 's/grader: {type: exact} # calc/grader: {type: contains} # calc/' Evalfile
em -k --json r.json calc
assert_rc 1
check "the cells are errors" grep -q "is not the one its grade key names; not graded" "$T/err"
assert_json r.json '.errors' 6

try "watch: an agent script edited while a cell runs: the reports and the cache hold only what each key's inputs produced"
mkversionproject t2
bg_em watch --jsonl
wout=$T/bg$nbg.out
check "t2 started" waitfor 30 '[ -e started.t2 ]'
sed -i 's/^echo v0$/echo v1/' agent.sh
: >go
# (jq -e of no input at all succeeds: wait for a line first)
check "an update where every cell is v1's" waitfor 30 "[ -s '$wout' ] && tail -n 1 '$wout' | jq -e '[.suites[].tasks[].score] == [0, 0, 0, 0] and .errors == 0'"
sed -i 's/^echo v1$/echo v0/' agent.sh
check "an update back at v0" waitfor 30 "[ -s '$wout' ] && tail -n 1 '$wout' | jq -e '[.suites[].tasks[].score] == [1, 1, 1, 1] and .errors == 0'"
checks "no report mixed v0's and v1's results" '! jq -c "[.suites[].tasks[].score | select(. != null)] | unique | length <= 1" "$wout" | grep -q false'
kill -INT "$bgpid"
bg_wait 10
assert_rc 130
rm -f calls
em --json r.json
assert_rc 0
assert_calls 0
check "no v1 result served" ! grep -q v1 "$T/out"
assert_json r.json '[.suites[].tasks[].score]' '[1,1,1,1]'

finish
summary
