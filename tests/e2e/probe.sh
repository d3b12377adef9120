#!/usr/bin/env bash
# Defects robustness probes found (edits during runs with a watcher
# and two runs on one cache, setsid agents, JSON-escaped keys, special
# files, base_url queries, a file that came and went in a deps folder
# mid-run, graders that see answer fields no agent sees), beyond life.sh,
# answers.sh, hygiene.sh and store.sh: each case failed before its fix.
#
#   EVALMAKE=/abs/evalmake MODELSERVER=/abs/build/modelserver bash tests/e2e/probe.sh
#
# Needs: bash, coreutils, jq, pgrep, ps, python3, setsid, timeout.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

need_modelserver probe.sh
start_modelserver probe.sh

# ---------------------------------------------------------------------------
# agents that leave their process group (setsid) die with evalmake too

# 2 tasks; the agent starts a sleep in a new session (setsid, as a
# daemonizing tool does), one more through setsid -f (its parent gone at
# once, so it is an orphan), then sleeps itself: mksetsidproject [SECS]
mksetsidproject() {
	local sl i
	sl=$(sleeper acc)
	for i in 1 2; do
		mkdir -p "tasks/t$i"
		echo "x$i" >"tasks/t$i/input.txt"
		echo "x$i" >"tasks/t$i/expected.txt"
	done
	cat >agent.sh <<EOF
#!/bin/sh
cat >/dev/null
setsid "$sl" 30 &
setsid -f "$sl" 31
echo started >>calls
"$sl" ${1:-30}
echo done
EOF
	chmod +x agent.sh
	cat >Evalfile <<'EOF'
jobs: 2
suites:
  s:
    tasks: tasks/*
    iterations: 1
    agent: {command: ./agent.sh}
    grader: {type: exact}
EOF
}

# start evalmake in the background; wait for both agents' 3 sleeps each
start_setsid() {
	local sl
	sl=$(sleeper acc)
	bg_em "$@"
	check "6 sleeps started" waitfor 15 "[ \"\$(pgrep -f -- '$sl' | wc -l)\" -ge 6 ]"
	check "in sessions of their own" [ "$(for p in $(pgrep -f -- "$sl"); do ps -o sid= -p "$p"; done | sort -u | wc -l)" -ge 3 ]
}

for how in kill9 kill9group TERM HUP INT; do
	try "an agent's setsid children die with evalmake: $how"
	mksetsidproject
	start_setsid
	{
		case $how in
		kill9) kill -9 "$bgpid" ;;
		kill9group) kill -9 -- "-$bgpid" ;;
		*) kill -"$how" "$bgpid" ;;
		esac
		check "no sleep left after $how" noproc "$(sleeper acc)"
		bg_wait 10
	} 2>/dev/null # no "Killed" notice from bash
	check "no run entry stored" [ "$(nruns)" = 0 ]
done

try "an agent's setsid children die at its timeout"
mksetsidproject
sed -i 's/iterations: 1/iterations: 1\n    timeout: 1/' Evalfile
em -k
assert_rc 1
check "no sleep left after the timeout" noproc "$(sleeper acc)"

try "an agent that exits leaving a setsid child: the child is killed when the cell ends"
mksetsidproject 0
em -k
check "the cells ran" [ "$(ncalls)" = 2 ]
check "no sleep left after the run" noproc "$(sleeper acc)"

# ---------------------------------------------------------------------------
# keys JSON-escaped as other encoders write them: "/" as "\/" (PHP,
# json-c), "&" "<" ">" as "\u0026" ... (Go's encoding/json), and "=" as
# "\u003d" too (Gson)

try "a key an agent prints JSON-escaped with \\/ or \\u0026 is redacted"
# a base64-like key, as some providers issue
export ACCKEY='Ab3/xY+9&<zq>SECRETACC-42=='
mkdir -p tasks
echo '{"id": "t1", "input": "x", "expected": "x"}' >tasks/qa.jsonl
cat >leak.sh <<'EOF'
#!/bin/sh
cat >/dev/null
printf '%s\n' "$ACCKEY" | sed 's#/#\\/#g'
printf '%s\n' "$ACCKEY" | sed 's#&#\\u0026#g; s#<#\\u003c#g; s#>#\\u003e#g' >&2
printf '%s\n' "$ACCKEY" | sed 's#&#\\u0026#g; s#<#\\u003c#g; s#>#\\u003e#g; s#=#\\u003d#g' >&2
printf '{"k": "%s"}\n' "$ACCKEY" | sed 's#/#\\/#g' >"$EVAL_OUT_DIR/env.json"
EOF
chmod +x leak.sh
cat >Evalfile <<'EOF'
suites:
  leak:
    tasks: tasks/qa.jsonl
    agent: {command: ./leak.sh}
  # never run: declares the key
  model:
    tasks: tasks/qa.jsonl
    agent: {provider: openai, model: m, base_url: "http://127.0.0.1:9", api_key_env: ACCKEY}
EOF
em -k leak
em log leak/t1#1
check "the escaped key is in no file of the cache" ! grep -r -a -q SECRETACC cache
checks "nor in a row of the index" '! entrytext | grep -a -q SECRETACC'
check "nor in log's output" ! grep -q SECRETACC "$T/out"
unset ACCKEY

# ---------------------------------------------------------------------------
# watch: files named with a leading "./" in the Evalfile are watched

try "watch: a command grader ./grade.sh and a prompt ./p.md, edited, update the scores"
mkdir -p tasks
echo '{"id": "t1", "input": "x", "expected": "x"}' >tasks/qa.jsonl
echo '{{input}}' >p.md
printf '#!/bin/sh\ncat >/dev/null\necho 1\n' >grade.sh
chmod +x grade.sh
cat >Evalfile <<'EOF'
suites:
  s:
    tasks: ./tasks/qa.jsonl
    prompt: ./p.md
    iterations: 1
    agent: {command: cat}
    grader: {type: command, command: ./grade.sh}
EOF
bg_em watch --jsonl
wj=$T/bg$nbg.out
check "the first report" waitfor 30 "[ \"\$(wc -l <'$wj')\" -ge 1 ]"
printf '#!/bin/sh\ncat >/dev/null\necho 0.25\n' >grade.sh
check "an update after the grader's edit" waitfor 10 "[ \"\$(wc -l <'$wj')\" -ge 2 ]"
checks "it names grade.sh and has the new score" "tail -n 1 '$wj' | jq -e '.trigger == [\"grade.sh\"] and .suites[0].score == 0.25'"
printf 'Q {{input}}\n' >p.md
check "an update after the prompt's edit" waitfor 10 "[ \"\$(wc -l <'$wj')\" -ge 3 ]"
checks "it names p.md" "tail -n 1 '$wj' | jq -e '.trigger == [\"p.md\"]'"
kill -INT "$bgpid"
bg_wait 10

# ---------------------------------------------------------------------------
# special files in a task folder, and a socket: refused with the true reason

for kind in fifo zero; do
	try "a folder task whose input.txt is a $kind: exit 2 saying what it is"
	mkdir -p tasks/d
	echo x >tasks/d/expected.txt
	case $kind in
	fifo) mkfifo tasks/d/input.txt; want="is a FIFO, not a regular file" ;;
	zero) ln -s /dev/zero tasks/d/input.txt; want="is a character device, not a regular file" ;;
	esac
	printf 'suites:\n  s:\n    tasks: tasks/*\n    agent: {command: cat}\n' >Evalfile
	bad_input "tasks/d/input.txt: " "$want"
done

try "a FIFO beside a folder task's input: exit 2 naming it"
mkdir -p tasks/d
echo x >tasks/d/input.txt
echo x >tasks/d/expected.txt
mkfifo tasks/d/data
printf 'suites:\n  s:\n    tasks: tasks/*\n    agent: {command: cat}\n' >Evalfile
bad_input "tasks/d/data: " "is a FIFO, not a regular file"

try "a socket matched by a task glob: exit 2 saying it is a socket"
mkdir -p tasks
echo '{"id": "a", "input": "x", "expected": "x"}' >tasks/a.jsonl
python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind("tasks/s.jsonl")'
printf 'suites:\n  s:\n    tasks: tasks/*\n    agent: {command: cat}\n' >Evalfile
bad_input "tasks/s.jsonl: " "is a socket, not a regular file"

# ---------------------------------------------------------------------------
# a base_url with a fragment or a broken %-escape is refused at load; with
# a query (Azure's ?api-version=...), the API's path goes before it (it
# was added after it: http://h/v1?x=1/chat/completions, a request to the
# wrong path)

for u in 'http://127.0.0.1:9/v1#top' 'http://127.0.0.1:9/v1%zz'; do
	try "base_url '$u': exit 2 at load"
	echo '{"id": "a", "input": "x", "expected": "x"}' >t.jsonl
	printf 'suites:\n  s:\n    tasks: t.jsonl\n    agent: {provider: openai, model: m, base_url: "%s", api_key_env: ACC_KEY}\n' "$u" >Evalfile
	ACC_KEY=sk-acc-test-0000 bad_input "Evalfile:4:.*base_url: expected" "$u"
done

try "base_url with a query: the request goes to .../chat/completions?QUERY"
echo '{"id": "a", "input": "REPLY: fine", "expected": "fine"}' >t.jsonl
printf 'suites:\n  s:\n    tasks: t.jsonl\n    iterations: 1\n    agent: {provider: openai, model: m, base_url: "http://127.0.0.1:%s/v1?api-version=2024-06-01", api_key_env: ACC_KEY}\n    grader: {type: exact}\n' "$PORT" >Evalfile
ACC_KEY=sk-acc-test-0000 em --json r.json
assert_rc 0
assert_json r.json '.suites[0].score' 1

# ---------------------------------------------------------------------------
# watch: one batch that names a suite's deps file and one of its task
# folders: the task is read again too (it was not: every later update
# failed with "tasks/t1 changed since the cell was planned")

try "watch: a deps file and a task folder saved together: the task is re-read, the cell runs"
mkdir -p tasks/t1
echo old >tasks/t1/input.txt
echo new >tasks/t1/expected.txt
echo d0 >data.txt
cat >Evalfile <<'EOF'
suites:
  s:
    tasks: tasks/*
    iterations: 1
    agent: {command: cat, deps: [data.txt]}
    grader: {type: exact}
EOF
bg_em watch --jsonl
wj=$T/bg$nbg.out
check "the first report" waitfor 30 "[ \"\$(wc -l <'$wj')\" -ge 1 ]"
echo d1 >data.txt
echo new >tasks/t1/input.txt
check "an update" waitfor 10 "[ \"\$(wc -l <'$wj')\" -ge 2 ]"
checks "both saves in one batch" "tail -n 1 '$wj' | jq -e '.trigger | index(\"data.txt\") and index(\"tasks/t1/input.txt\")'"
checks "the cell ran with the new input: score 1, no error" "tail -n 1 '$wj' | jq -e '.errors == 0 and .suites[0].score == 1'"
kill -INT "$bgpid"
bg_wait 10


# ---------------------------------------------------------------------------
# the shell ends while an orphan of the supervisor is a zombie too: the
# supervisor reaped that zombie, took it for "no child left" and exited
# without killing the setsid child (which went on running). The agent
# stops its supervisor so that both are zombies when it looks.

try "an agent's shell and an orphan end together: its setsid child is still killed"
mkdir -p tasks/t1
echo x >tasks/t1/input.txt
echo x >tasks/t1/expected.txt
sl=$(sleeper acc)
cat >agent.sh <<EOF
#!/bin/sh
cat >/dev/null
sup=\$(cut -d' ' -f5 /proc/\$\$/stat) # the supervisor leads the group
sh=\$\$
[ "\$PPID" = "\$sup" ] || sh=\$PPID # the supervisor's child
setsid "$sl" 30 &
kill -STOP "\$sup"
z=\$(sh -c '/bin/true </dev/null >/dev/null 2>&1 & echo \$!') # an orphan that ends at once
i=0
while [ "\$(cut -d' ' -f3 /proc/\$z/stat)" != Z ] && [ \$i -lt 400 ]; do sleep 0.05; i=\$((i + 1)); done
# once the shell is a zombie as well, the supervisor goes on
setsid sh -c 'i=0; while [ "\$(cut -d" " -f3 /proc/\$0/stat)" != Z ] && [ \$i -lt 400 ]; do sleep 0.05; i=\$((i + 1)); done; kill -CONT \$1' "\$sh" "\$sup" </dev/null >/dev/null 2>&1 &
echo x
EOF
chmod +x agent.sh
printf 'suites:\n  s:\n    tasks: tasks/*\n    iterations: 1\n    agent: {command: ./agent.sh}\n    grader: {type: exact}\n' >Evalfile
em
assert_rc 0
check "no sleep left after the run" noproc "$sl"


# a process whose main thread has ended (pthread_exit) while another runs
# shows as a zombie in /proc; the supervisor left such children alone,
# so one in a session of its own outlived the cell

try "an agent's setsid child whose main thread ended is killed when the cell ends"
mkdir -p tasks/t1
echo x >tasks/t1/input.txt
echo x >tasks/t1/expected.txt
cat >zl.py <<'EOF'
import ctypes, threading, time
threading.Thread(target=lambda: time.sleep(60)).start()
ctypes.CDLL(None).pthread_exit(None)
EOF
cat >agent.sh <<'EOF'
#!/bin/sh
cat >/dev/null
setsid python3 zl.py </dev/null >/dev/null 2>&1 &
echo $! >zl.pid
i=0
while [ "$(cut -d' ' -f3 /proc/$!/stat)" != Z ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
echo x
EOF
chmod +x agent.sh
printf 'suites:\n  s:\n    tasks: tasks/*\n    iterations: 1\n    agent: {command: ./agent.sh}\n    grader: {type: exact}\n' >Evalfile
em
assert_rc 0
zl=$(cat zl.pid)
checks "its threads are gone" "waitfor 3 '[ ! -d /proc/$zl/task ] || [ \$(ls /proc/$zl/task | wc -l) -lt 2 ]'"
kill -9 "$zl" 2>/dev/null

# a timeout's stop request was a SIGTERM to the supervisor: when the agent
# had sent its own group a SIGTERM too (kill 0), the two merged, the
# supervisor took the request for the agent's and ignored it, and the cell
# outlived its timeout until the agent chose to end

try "a timeout stops an agent that signalled its own group at the same moment"
mkdir -p tasks/t1
echo x >tasks/t1/input.txt
echo x >tasks/t1/expected.txt
sl=$(sleeper merged)
cat >agent.sh <<EOF
#!/bin/sh
trap '' TERM
cat >/dev/null
sup=\$(ps -o pgid= -p \$\$ | tr -d ' ')
# the supervisor stopped, a SIGTERM of the agent's own waits for it; the
# timeout's request comes while it still waits; then it goes on
kill -STOP "\$sup"
i=0
while [ "\$(cut -d' ' -f3 /proc/\$sup/stat)" != T ] && [ \$i -lt 200 ]; do sleep 0.02; i=\$((i + 1)); done
kill -TERM 0
(sleep 3; kill -CONT "\$sup") </dev/null >/dev/null 2>&1 &
exec "$sl" 40
EOF
chmod +x agent.sh
# exec: no shell between, which the agent's SIGTERM would end
printf 'suites:\n  s:\n    tasks: tasks/*\n    iterations: 1\n    timeout: 1\n    agent: {command: exec ./agent.sh}\n    grader: {type: exact}\n' >Evalfile
t0=$EPOCHREALTIME
em
took=$(elapsed "$t0")
checks "the cell timed out" 'grep -q "timed out" "$T/out" "$T/err"'
checks "evalmake ended soon after the supervisor went on (took ${took}s, the agent wanted 40 s)" "awk -v t=$took 'BEGIN { exit !(t < 20) }'"
check "no sleep left after the run" noproc "$sl"

# ---------------------------------------------------------------------------
# a file that comes and goes under a deps folder while the agent runs: the
# agent may have read it, and no walk at the end finds it (it was stored
# under the key of the folder without it, and served)

try "a file added under a deps folder and removed again while the agent runs: not stored, rerun without it"
mkdir -p kb
echo A >kb/a.txt
for t in t1 t2; do printf '{"id": "%s", "input": "%s", "expected": "A"}\n' "$t" "$t"; done >t.jsonl
cat >agent.sh <<'EOF'
echo "$EVAL_TASK" >>calls
: >"started.$EVAL_TASK"
i=0
while [ ! -e go1 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
cat kb/*
: >"read.$EVAL_TASK"
i=0
while [ ! -e go2 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
EOF
cat >Evalfile <<'EOF'
jobs: 1
suites:
  s:
    tasks: t.jsonl
    iterations: 1
    agent: {command: sh agent.sh, deps: [kb]}
    grader: {type: exact}
EOF
bg_em -k --json r.json
check "t1 started" waitfor 30 '[ -e started.t1 ]'
echo NEW >kb/new.txt
: >go1
check "t1 read kb" waitfor 30 '[ -e read.t1 ]'
rm kb/new.txt
: >go2
bg_wait 60
assert_rc 1
check "t1's result is not stored" grep -q 's/t1#1: kb/ changed while the cell ran (a file came and went' "$T/err"
assert_json r.json "$(cellstatus s t2 1)" '"ran"'
rm -f calls
em --json r.json
assert_rc 0
assert_calls_are "t1"
assert_json r.json "$(cellscore s t1 1)" 1
em log 's/t1#1'
check "t1's stored output is kb without the file" ! grep -q NEW "$T/out"

try "what an agent leaves in its deps folder where the walk does not look still costs no result"
mkdir -p kb
echo A >kb/a.txt
printf '*.log\nstate*\n' >.gitignore
for t in t1 t2 t3; do printf '{"id": "%s", "input": "%s", "expected": "A"}\n' "$t" "$t"; done >t.jsonl
# a log appended to, bytecode, and a state file saved atomically (a new
# file renamed over it: the folder changes, and so does the inode); and a
# scratch file made and deleted in the project's top folder, which the
# deps look into only to find kb
printf 'echo "$EVAL_TASK" >>calls\necho x >>kb/run.log\nmkdir -p kb/__pycache__\necho x >kb/state.new\nmv kb/state.new kb/state.json\necho x >scratch\nrm scratch\ncat kb/a.txt\n' >agent.sh
printf 'jobs: 1\nsuites:\n  s:\n    tasks: t.jsonl\n    iterations: 1\n    agent: {command: sh agent.sh, deps: [kb]}\n    grader: {type: exact}\n' >Evalfile
em --json r.json
assert_rc 0
assert_calls 3
assert_json r.json '.errors' 0

# ---------------------------------------------------------------------------
# a grader that sees more of a task than its agent does: a command grader
# gets every field (EVAL_TASK_JSON with the answers), a judge's rubric may
# show {{task.FIELD}}; an answer field that is not the expected one is in
# neither the run key nor the expected answer, and its edit re-graded
# nothing (a stale grade)

try "a command grader: editing a field only it sees (an answer column that is not the expected one) re-grades, no agent call"
printf 'id,q,sol,answer\nr1,Q1,"w #### Q1",no\nr2,Q2,"w #### Q2",no\n' >d.csv
printf 'echo "$EVAL_TASK" >>calls\ncat\n' >agent.sh
cat >grade.sh <<'EOF'
#!/bin/sh
cat >/dev/null
if jq -e '.answer == "ok"' "$EVAL_TASK_JSON" >/dev/null; then echo 1; else echo 0; fi
EOF
chmod +x grade.sh
cat >Evalfile <<'EOF'
suites:
  s:
    tasks: d.csv
    fields: {input: q, expected: sol}
    expected_pattern: '####\s*(.+)$'
    iterations: 1
    agent: {command: sh agent.sh}
    grader: {type: command, command: ./grade.sh}
EOF
em --json r.json
assert_rc 0
assert_calls 2
assert_json r.json '.suites[0].score' 0
rm -f calls
sed -i 's/Q2",no$/Q2",ok/' d.csv
em --json r.json
assert_rc 0
assert_calls 0
assert_json r.json '.regraded' 1
assert_json r.json "$(cellscore s r2 1)" 1

try "a command grader: editing a field read through expected_pattern outside its group re-grades, no agent call"
printf 'id,q,sol\nr1,Q1,"w #### Q1"\nr2,Q2,"w #### Q2"\n' >d.csv
printf 'echo "$EVAL_TASK" >>calls\ncat\n' >agent.sh
cat >grade.sh <<'EOF'
#!/bin/sh
cat >/dev/null
if jq -e '.sol | startswith("shown")' "$EVAL_TASK_JSON" >/dev/null; then echo 1; else echo 0; fi
EOF
chmod +x grade.sh
cat >Evalfile <<'EOF'
suites:
  s:
    tasks: d.csv
    fields: {input: q, expected: sol}
    expected_pattern: '####\s*(.+)$'
    iterations: 1
    agent: {command: sh agent.sh}
    grader: {type: command, command: ./grade.sh}
EOF
em --json r.json
assert_rc 0
assert_calls 2
rm -f calls
sed -i 's/"w #### Q2"/"shown #### Q2"/' d.csv
em --json r.json
assert_rc 0
assert_calls 0
assert_json r.json '.regraded' 1
assert_json r.json "$(cellscore s r2 1)" 1

try "a judge whose rubric shows {{task.answer}}: editing that field re-grades, no agent call"
printf '{"id": "t1", "input": "x", "expected": "x", "answer": "0"}\n{"id": "t2", "input": "y", "expected": "y", "answer": "0"}\n' >t.jsonl
printf 'echo "$EVAL_TASK" >>calls\ncat\n' >agent.sh
printf 'Grade {{output}}\nREPLY: SCORE: {{task.answer}}\n' >rubric.md
cat >Evalfile <<EOF
suites:
  s:
    tasks: t.jsonl
    iterations: 1
    agent: {command: sh agent.sh}
    grader: {type: judge, provider: openai, model: j, base_url: "http://127.0.0.1:$PORT/v1", api_key_env: ACC_KEY, rubric: rubric.md}
EOF
ACC_KEY=sk-acc-test-0000 em --json r.json
assert_rc 0
assert_calls 2
assert_json r.json '.suites[0].score' 0
rm -f calls
sed -i 's/"y", "answer": "0"/"y", "answer": "0.5"/' t.jsonl
ACC_KEY=sk-acc-test-0000 em --json r.json
assert_rc 0
assert_calls 0
assert_json r.json '.regraded' 1
assert_json r.json "$(cellscore s t2 1)" 0.5

finish
stopserver
summary
