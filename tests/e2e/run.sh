#!/usr/bin/env bash
# End-to-end tests of evalmake: what a user sees from the command line.
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/run.sh
#
# Each `try "description"` case runs in a fresh folder under one mktemp -d
# (removed by the trap at the end); `check`/`assert_*` print the failing
# check and the last command's output, and the case goes on. The test agent
# (tests/e2e/lib.sh, mkproject) appends "$EVAL_SUITE $EVAL_TASK
# $EVAL_ITERATION" to the project's file `calls`, so a case counts agent
# calls exactly. Needs: bash, coreutils, jq, pgrep, timeout.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# ---------------------------------------------------------------------------
# incremental behaviour

try "first run runs every cell once; a second run calls the agent zero times"
mkproject
em --json r.json
assert_rc 0
assert_calls_are "$(allcells)"
rm -f calls
em --json r.json
assert_rc 0
assert_calls 0
assert_json r.json '.ran' 0
assert_json r.json '.cached' 12
assert_json r.json '.errors' 0
assert_json r.json '[.suites[].tasks[].cells[].status] | unique' '["cached"]'
assert_json r.json '[.suites[].cells_total] | add' 12

try "editing one task file runs exactly that task's cells; undoing it runs nothing"
mkproject
em
assert_rc 0
rm -f calls
printf 'TWO\n' >tasks/calc/t2/input.txt # same size, same second as the run
em
assert_rc 0
assert_calls_are "calc t2 1
calc t2 2"
rm -f calls
printf 'two\n' >tasks/calc/t2/input.txt
em
assert_rc 0
assert_calls 0

try "adding a file to a task directory reruns that task only"
mkproject
em
rm -f calls
echo "extra" >tasks/calc/t3/notes.txt
em
assert_rc 0
assert_calls_are "calc t3 1
calc t3 2"

try "editing one .jsonl line runs exactly that task's cells"
mkproject
em
rm -f calls
sed -i 's/"gamma ray"/"gamma rays"/' tasks/quiz.jsonl
em
assert_rc 0
assert_calls_are "quiz q3 1
quiz q3 2"

try "touching files without changing them runs nothing"
mkproject
em
rm -f calls
sleep 0.05
touch tasks/calc/*/* tasks/quiz.jsonl prompts/* agent.sh data/calc.txt Evalfile
em
assert_rc 0
assert_calls 0

try "editing the prompt runs exactly that suite's cells"
mkproject
em
rm -f calls
printf 'Please answer.\nQ: {{input}}\n' >prompts/calc.md
em --json r.json
assert_rc 0
assert_calls_are "$(allcells calc)"
assert_json r.json '.ran' 6
assert_json r.json '.cached' 6

try "editing the grader (exact -> contains) re-grades without calling the agent"
mkproject
em --json r1.json
assert_json r1.json "$(cellscore quiz q2 1)" 0
assert_json r1.json "$(cellscore quiz q3 1)" 0
assert_json r1.json '(.suites[] | select(.name == "quiz") | .score * 1000 | round)' 333
rm -f calls
sed -i 's/grader: {type: exact} # quiz/grader: {type: contains, ignore_case: true}/' Evalfile
em --json r2.json
assert_rc 0
assert_calls 0
assert_json r2.json "$(cellscore quiz q2 1)" 1
assert_json r2.json "$(cellscore quiz q3 2)" 1
assert_json r2.json '(.suites[] | select(.name == "quiz") | .score)' 1
assert_json r2.json '(.suites[] | select(.name == "calc") | .score * 1000 | round)' 667

try "editing a command grader's script re-grades without calling the agent"
mkproject
cat >grade.sh <<'EOF'
#!/bin/sh
out=$(cat)
want=$(printf '%s' "$EVAL_EXPECTED") # without trailing newlines
if [ "$out" = "$want" ]; then echo "1 same"; else echo "0.5 partial"; fi
EOF
chmod +x grade.sh
sed -i 's/grader: {type: exact} # calc/grader: {type: command, command: .\/grade.sh}/' Evalfile
em --json r1.json
assert_rc 0
assert_json r1.json "$(cellscore calc t1 1)" 1
assert_json r1.json "$(cellscore calc t3 1)" 0.5
rm -f calls
printf '#!/bin/sh\ncat >/dev/null\necho "0.25 changed my mind"\n' >grade.sh
em --json r2.json
assert_rc 0
assert_calls 0
assert_json r2.json "$(cellscore calc t1 1)" 0.25
assert_json r2.json "$(cellscore calc t3 2)" 0.25
assert_json r2.json "$(cellscore quiz q1 1)" 1

try "raising iterations in the Evalfile runs only the new iteration"
mkproject
em
rm -f calls
sed -i 's/^  iterations: 2/  iterations: 3/' Evalfile
em --json r.json
assert_rc 0
assert_calls_are "$(allcells "calc quiz" 3)"
assert_json r.json '.ran' 6
assert_json r.json '.cached' 12

try "--iterations 3 on the command line runs only the new iteration"
mkproject
em
rm -f calls
em --iterations 3
assert_rc 0
assert_calls_are "$(allcells "calc quiz" 3)"
rm -f calls
em --iterations 3
assert_calls 0
em
assert_calls 0

try "-B runs every cell again"
mkproject
em
rm -f calls
em -B
assert_rc 0
assert_calls_are "$(allcells)"

try "-n runs nothing and lists each cell that would run with its reason"
mkproject
em
rm -f calls
printf 'Q:  {{input}}\n' >prompts/calc.md
em -n
assert_rc 0
assert_calls 0
for t in t1 t2 t3; do
	for k in 1 2; do
		check "one line for calc/$t#$k" [ "$(grep -c "calc/$t#$k\b" "$T/out")" = 1 ]
		check "calc/$t#$k's line says the prompt changed" grep -q "calc/$t#$k.*prompt" "$T/out"
	done
done
check "no quiz cell listed" ! grep -q 'quiz/' "$T/out"
em -n
assert_calls 0
em
assert_calls 6

try "-n on a fresh project lists every cell and runs nothing"
mkproject
em -n
assert_rc 0
assert_calls 0
check "12 cells listed" [ "$(grep -cE '(calc|quiz)/[a-z0-9]+#[0-9]' "$T/out")" = 12 ]

try "-q exits 0 when up to date, 1 when not, and runs nothing"
mkproject
em -q
assert_rc 1
assert_calls 0
em
rm -f calls
em -q
assert_rc 0
assert_calls 0
echo "changed" >data/calc.txt
em -q
assert_rc 1
assert_calls 0
em -q quiz
assert_rc 0
em -q calc/t1#1
assert_rc 1
assert_calls 0

try "editing an agent deps file reruns exactly that suite"
mkproject
em
rm -f calls
echo "new knowledge" >>data/calc.txt
em
assert_rc 0
assert_calls_are "$(allcells calc)"

try "editing a suite's agent env reruns exactly that suite"
mkproject
em
rm -f calls
sed -i 's/MODE: plain/MODE: fancy/' Evalfile
em
assert_rc 0
assert_calls_are "$(allcells quiz)"

try "what is not in the run key (timeout, threshold, jobs, comments) runs nothing"
mkproject
em
rm -f calls
sed -i 's/^  timeout: 60/  timeout: 90/; s/^jobs: 4/jobs: 3/' Evalfile
sed -i 's/^    grader: {type: exact} # quiz/    threshold: 0.5\n&/' Evalfile
printf '# a comment\n' >>Evalfile
em
assert_rc 0
assert_calls 0

try "cells run iteration-major: every iteration 1 before any iteration 2 (-j 1)"
mkproject
em -j 1
assert_rc 0
assert_calls 12
check "iterations in order 1x6 then 2x6" [ "$(awk '{print $3}' calls | tr -d '\n')" = 111111222222 ]

# ---------------------------------------------------------------------------
# errors

try "a failing agent: error naming the cell, exit 1, not cached, stops without -k"
mkproject
echo 't2' >fail
em -j 1 calc --json r.json
assert_rc 1
assert_calls_are "calc t1 1
calc t2 1"
check "message names the failing cell" grep -q 'calc/t2#1' "$T/err"
assert_json r.json "$(cellstatus calc t2 1)" '"error"'
assert_json r.json "$(cellstatus calc t1 1)" '"ran"'
assert_json r.json "$(cellstatus calc t3 1)" '"pending"'
assert_json r.json '.errors' 1
assert_json r.json "$(cellscore calc t2 1)" null
rm -f calls
em -j 1 calc
assert_rc 1
assert_calls_are "calc t2 1"

try "an agent failing on every cell: -j 1 starts one cell only, -k runs them all"
mkproject
echo all >fail
em -j 1 calc
assert_rc 1
assert_calls 1
rm -f calls
em -k -j 1 calc --json r.json
assert_rc 1
assert_calls_are "$(allcells calc)"
assert_json r.json '.errors' 6
assert_json r.json '[.suites[].tasks[].cells[].status] | unique' '["error"]'

try "-k: errors are not cached and do not count as scores"
mkproject
echo t3 >fail
em -k --json r.json
assert_rc 1
assert_calls 12
assert_json r.json '.errors' 2
assert_json r.json '(.suites[] | select(.name == "calc") | .score)' 1 # t1 1, t2 1, t3 no score (not 0)
assert_json r.json '(.suites[] | select(.name == "calc") | .tasks[] | select(.id == "t3") | .score)' null
rm -f calls
em -k
assert_rc 1
assert_calls_are "calc t3 1
calc t3 2"
rm -f calls fail
em
assert_rc 0
assert_calls_are "calc t3 1
calc t3 2"
rm -f calls
em
assert_calls 0

try "a timeout is an error, returns quickly, and kills the agent's grandchildren"
mkproject
sl=$(sleeper timeout)
cat >slow.sh <<EOF
#!/bin/sh
echo "\$EVAL_TASK" >>calls
"$sl" 31 &
"$sl" 30
EOF
chmod +x slow.sh
cat >Evalfile <<'EOF'
suites:
  slow:
    tasks: tasks/quiz.jsonl
    timeout: 1
    agent: {command: ./slow.sh}
EOF
t0=$EPOCHREALTIME
em slow/q1#1 --json r.json
el=$(elapsed "$t0")
assert_rc 1
check "returned within 8 s (took ${el}s)" awk "BEGIN{exit !($el < 8)}"
check "message says it timed out" grep -q 'timed out' "$T/err"
check "message names the cell" grep -q 'slow/q1#1' "$T/err"
assert_json r.json "$(cellstatus slow q1 1)" '"error"'
check "no process with the marker survives" noproc "$sl"

try "an agent printing 50 MB: evalmake survives and the stored output is cut"
mkproject
cat >big.sh <<'EOF'
#!/bin/sh
cat >/dev/null
echo "$EVAL_TASK" >>calls
yes 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' | head -c 52428800
echo "big transcript" >&2
EOF
chmod +x big.sh
cat >Evalfile <<'EOF'
suites:
  big:
    tasks: tasks/quiz.jsonl
    agent: {command: ./big.sh}
    grader: {type: contains}
EOF
em big/q1#1 --json r.json
assert_rc 0
assert_json r.json "$(cellstatus big q1 1)" '"ran"'
em log 'big/q1#1'
assert_rc 0
check "log says the output was cut off" grep -q 'cut off' "$T/out"
check "log shows the transcript" grep -q 'big transcript' "$T/out"
check "log is well under 50 MB" [ "$(wc -c <"$T/out")" -lt 20000000 ]
rm -f calls
em big/q1#1
assert_calls 0

try "SIGINT: exit 130 quickly, agents killed, nothing partial stored, cell runs next time"
mkproject
sl=$(sleeper sigint)
cat >slow.sh <<EOF
#!/bin/sh
echo "\$EVAL_SUITE \$EVAL_TASK \$EVAL_ITERATION" >>calls
cat >/dev/null
[ -f slow ] && "$sl" 30
echo "\$EVAL_TASK"
EOF
chmod +x slow.sh
set_calc_agent slow.sh
touch slow
bg_em -j 2 calc/t1 # its two iterations at once
check "both agents started" waitfor 10 '[ "$(ncalls)" = 2 ]'
kill -INT "$bgpid"
t0=$EPOCHREALTIME
bg_wait 10
el=$(elapsed "$t0")
check "exit status 130 (got $rc)" [ "$rc" = 130 ]
check "exited within 5 s of SIGINT (took ${el}s)" awk "BEGIN{exit !($el < 5)}"
check "no agent survives" noproc "$sl"
check "no run entry stored" [ "$(nruns)" = 0 ]
check "cache/tmp is empty" [ -z "$(ls -A cache/tmp 2>/dev/null)" ]
rm -f slow calls
em calc/t1
assert_rc 0
assert_calls_are "calc t1 1
calc t1 2"

try "kill -9 mid-run: the next run succeeds and the one after runs nothing"
mkproject
sl=$(sleeper kill9)
cat >slow.sh <<EOF
#!/bin/sh
echo "\$EVAL_SUITE \$EVAL_TASK \$EVAL_ITERATION" >>calls
in=\$(cat)
"$sl" 2
printf '%s\n' "\$in" | sed -n 's/^Q: //p'
EOF
chmod +x slow.sh
set_calc_agent slow.sh
em quiz # some cells done before the kill
bg_em -j 2 calc
check "agents started" waitfor 10 '[ "$(ncalls)" -ge 8 ]'
{
	kill -9 "$bgpid"
	bg_wait 10
} 2>/dev/null # no "Killed" notice from bash
check "killed by SIGKILL (got $rc)" [ "$rc" = 137 ]
killmarked "$sl" # a safety net only: the agents die with evalmake (see tests/e2e/life.sh)
check "every run entry is whole (output and meta.json)" entries_whole
em
assert_rc 0
check "no cell is an error" ! grep -q 'error' "$T/err"
rm -f calls
em --json r.json
assert_rc 0
assert_calls 0
assert_json r.json '.cached' 12

try "two evalmake processes at once on one project: both succeed, then nothing to run"
mkproject
sl=$(sleeper both)
printf '#!/bin/sh\n"%s" 0.2\nexec ./agent.sh\n' "$sl" >slowish.sh
chmod +x slowish.sh
sed -i 's#^jobs: 4#jobs: 2#; s#command: ./agent.sh#command: ./slowish.sh#' Evalfile
bg_em
p1=$bgpid
bg_em
p2=$bgpid
bgpid=$p1 bg_wait 60
rc1=$rc
bgpid=$p2 bg_wait 60
check "first exits 0 (got $rc1)" [ "$rc1" = 0 ]
check "second exits 0 (got $rc)" [ "$rc" = 0 ]
check "every run entry is whole" entries_whole
rm -f calls
em --json r.json
assert_rc 0
assert_calls 0
assert_json r.json '.cached' 12

# ---------------------------------------------------------------------------
# bad input: exit 2, FILE:LINE, nothing run, no cache folder

try "unknown key: exit 2, Evalfile:LINE:COL, did-you-mean, nothing run"
mkproject
sed -i 's/^  iterations: 2/  iteratons: 3/' Evalfile
bad_input "Evalfile:$(lineof iteratons Evalfile):3:" "iterations"

try "wrong type: exit 2, Evalfile:LINE:COL, nothing run"
mkproject
sed -i 's/^  iterations: 2/  iterations: many/' Evalfile
bad_input "Evalfile:$(lineof 'iterations: many' Evalfile):[0-9]" "many"

try "missing prompt file: exit 2, Evalfile:LINE, names the file"
mkproject
sed -i 's#prompt: prompts/quiz.md#prompt: prompts/nothere.md#' Evalfile
bad_input "Evalfile:$(lineof nothere Evalfile):[0-9]" "prompts/nothere.md"

try "a task glob matching nothing: exit 2, Evalfile:LINE, names the glob"
mkproject
sed -i 's#tasks: tasks/calc/\*#tasks: tasks/nope/*#' Evalfile
bad_input "Evalfile:$(lineof tasks/nope Evalfile):[0-9]" "tasks/nope/"

try "invalid YAML: exit 2, Evalfile:LINE"
mkproject
sed -i 's#^    grader: {type: exact} \# calc#    grader: {type: exact#' Evalfile
l=$(lineof 'grader: {type: exact$' Evalfile)
bad_input "Evalfile:($l|$((l + 1))):[0-9]" "YAML" # where the brace opens, or where it is missed

try "bad indentation: exit 2, Evalfile:LINE"
mkproject
sed -i 's#^  iterations: 2#&\n x: [#' Evalfile
bad_input "Evalfile:$(lineof ' x: \[' Evalfile):[0-9]"

try "a bad .jsonl line: exit 2, names the .jsonl file and line, no cache folder"
mkproject
sed -i '2s/.*/{"id": "q2", "input": /' tasks/quiz.jsonl
bad_input "tasks/quiz.jsonl:2\b"

try "a template with an unknown variable: exit 2, names the file and variable, no cache folder"
mkproject
printf 'Hello.\nQ: {{nope}}\n' >prompts/calc.md
bad_input "prompts/calc.md:2\b" "nope"

try "a -f Evalfile in another folder: errors name it as given"
mkproject
sed -i 's/^  iterations: 2/  iteratons: 3/' Evalfile
cd "$T"
em -f p/Evalfile
assert_rc 2
check "message names p/Evalfile:LINE" grep -q "p/Evalfile:$(lineof iteratons p/Evalfile):" "$T/err"
cd "$P"
assert_calls 0
check "no cache folder" [ ! -e cache ]

try "an unknown target suite: exit 2, did-you-mean, nothing run"
mkproject
em calcc
assert_rc 2
check "names the target" grep -q "calcc" "$T/err"
check "suggests calc" grep -q "did you mean 'calc'" "$T/err"
assert_calls 0
em calc/t9
assert_rc 2
check "names the task t9" grep -q "t9" "$T/err"
em 'calc/t1#3'
assert_rc 2
assert_calls 0

try "no Evalfile: exit 2 with a message"
em
assert_rc 2
check "says there is no Evalfile" grep -qi 'evalfile' "$T/err"

# ---------------------------------------------------------------------------
# safety and the agent's contract

try "task data never reaches a shell"
mkproject
mkdir -p 'tasks/calc/t`touch PWNED4`' 'tasks/calc/$(touch PWNED5)'
printf '$(touch PWNED1); touch PWNED2\n' >'tasks/calc/t`touch PWNED4`/input.txt'
printf '`touch PWNED3`\n' >'tasks/calc/t`touch PWNED4`/expected.txt'
printf '"; touch PWNED6; echo "\n' >'tasks/calc/$(touch PWNED5)/input.txt'
printf "'; touch PWNED7; '\n" >'tasks/calc/$(touch PWNED5)/expected.txt'
cat >>tasks/quiz.jsonl <<'EOF'
{"id": "`touch PWNED8`", "input": "$(touch PWNED9)", "expected": "`touch PWNED10`", "topic": "$(touch PWNED11)"}
EOF
cat >grade.sh <<'EOF'
#!/bin/sh
out=$(cat)
if [ "$out" = "$EVAL_EXPECTED" ]; then echo 1; else echo "0 differs"; fi
EOF
chmod +x grade.sh
sed -i 's/grader: {type: exact} # quiz/grader: {type: command, command: .\/grade.sh}/' Evalfile
printf 'Q: {{input}}\nTopic: {{task.topic}}\nWant: {{expected}}\n' >prompts/quiz.md
sed -i 's/"input": "alpha"/"topic": "greek", &/; s/"input": "Beta"/"topic": "greek", &/; s/"input": "gamma ray"/"topic": "physics", &/' tasks/quiz.jsonl
em -k
check "the run completed (exit 0 or 1, got $rc)" [ "$rc" = 0 -o "$rc" = 1 ]
assert_calls 18
checks "no PWNED file anywhere" '[ -z "$(find "$T" -name "PWNED*")" ] && ! ls /tmp/PWNED* ~/PWNED* /PWNED*'
em log 'quiz/`touch PWNED8`#1'
check "log of the odd cell works" grep -q 'touch PWNED9' "$T/out"
em status
check "status works" [ "$rc" = 0 -o "$rc" = 1 ]
check "still no PWNED file" [ -z "$(find "$T" -name 'PWNED*')" ]

try "the agent's environment, working folder, artifacts and transcript"
mkproject
cat >envagent.sh <<'EOF'
#!/bin/sh
echo "$EVAL_SUITE $EVAL_TASK $EVAL_ITERATION" >>calls
d=seen/$EVAL_SUITE-$EVAL_TASK-$EVAL_ITERATION
mkdir -p "$d"
env | grep -E '^(EVAL_|MODE=)' | sort >"$d/env"
pwd -P >"$d/pwd"
[ -r "$EVAL_TASK_JSON" ] && cp "$EVAL_TASK_JSON" "$d/task.json"
[ -d "$EVAL_OUT_DIR" ] && echo yes >"$d/outdir"
[ -e "$EVAL_TASK_PATH" ] && echo yes >"$d/taskpath"
echo "artifact of $EVAL_TASK $EVAL_ITERATION" >"$EVAL_OUT_DIR/artifact.txt"
echo "TRANSCRIPT-LINE for $EVAL_TASK" >&2
in=$(cat)
printf '%s\n' "$in" | sed -n 's/^Q: //p'
EOF
chmod +x envagent.sh
sed -i 's#command: ./agent.sh#command: ./envagent.sh#' Evalfile
mkdir elsewhere
cd elsewhere
em -f ../Evalfile
cd "$P"
assert_rc 0
assert_calls 12
checks "cache is beside the Evalfile" '[ -d "$P/cache" ] && [ ! -e elsewhere/cache ]'
e=seen/calc-t2-2/env
check "EVAL_SUITE" grep -qx 'EVAL_SUITE=calc' $e
check "EVAL_TASK" grep -qx 'EVAL_TASK=t2' $e
check "EVAL_ITERATION" grep -qx 'EVAL_ITERATION=2' $e
check "EVAL_SEED set" grep -qE '^EVAL_SEED=.+' $e
check "EVAL_SEED differs between iterations" [ "$(grep ^EVAL_SEED= seen/calc-t2-1/env)" != "$(grep ^EVAL_SEED= $e)" ]
check "EVAL_TASK_PATH names a copy of the task" grep -qE '^EVAL_TASK_PATH=/.*/t2$' $e
check "EVAL_TASK_PATH exists from the agent's folder" [ -f seen/calc-t2-2/taskpath ]
check "EVAL_OUT_DIR is a folder" [ -f seen/calc-t2-2/outdir ]
check "EVAL_TASK_JSON is readable and has the id" jq -e '.id == "t2"' seen/calc-t2-2/task.json
check "EVAL_TASK_JSON of a .jsonl task has its fields but the answer" jq -e '.id == "q3" and .input == "gamma ray" and (has("target") | not)' seen/quiz-q3-1/task.json
check "the suite's env reaches the agent" grep -qx 'MODE=plain' seen/quiz-q1-1/env
check "the agent runs in the Evalfile's folder" [ "$(cat seen/calc-t1-1/pwd)" = "$(pwd -P)" ]
art=$(grep -rlx 'artifact of t2 2' cache 2>/dev/null | head -1)
check "the artifact is kept in the cache" [ -n "$art" ]
checks "... and not in cache/tmp" '[ -n "$art" ] && ! echo "$art" | grep -q "^cache/tmp/"'
em log 'calc/t2#2'
assert_rc 0
check "log shows the prompt" grep -q '^Q: two' "$T/out"
check "log shows the output" grep -qx 'two' "$T/out"
check "log shows the transcript" grep -q 'TRANSCRIPT-LINE for t2' "$T/out"
check "log shows the grade" grep -qi 'grade' "$T/out"
check "log points at the artifacts" grep -q 'artifacts' "$T/out"

# ---------------------------------------------------------------------------
# graders

try "graders: one project with one suite per grader"
GR=$P GRT=$T
cat >echo.sh <<'EOF'
#!/bin/sh
echo "$EVAL_SUITE $EVAL_TASK $EVAL_ITERATION" >>calls
cat
EOF
cat >grade.sh <<'EOF'
#!/bin/sh
out=$(cat)
case $out in
boom) echo "grader exploded" >&2; exit 4 ;;
"$EVAL_EXPECTED") echo 1 ;;
*) echo "0.5 partial" ;;
esac
EOF
chmod +x echo.sh grade.sh
mkdir tasks
printf '{"id":"spaced","input":"42\\n","expected":"42"}\n{"id":"inner","input":"4 2","expected":"42"}\n' >tasks/exact.jsonl
printf '{"id":"padded","input":"  42  ","expected":"42"}\n' >tasks/notrim.jsonl
printf '{"id":"yes","input":"The answer is PARIS.","expected":"paris"}\n{"id":"no","input":"London","expected":"paris"}\n' >tasks/contains.jsonl
printf '{"id":"digits","input":"123"}\n{"id":"mixed","input":"12a"}\n' >tasks/regex.jsonl
printf '{"id":"close","input":"about 3.14","expected":"3.1"}\n{"id":"far","input":"3.5","expected":"3.1"}\n{"id":"none","input":"pi","expected":"3.1"}\n' >tasks/numeric.jsonl
printf '{"id":"same","input":"abc","expected":"abc"}\n{"id":"other","input":"abd","expected":"abc"}\n{"id":"boom","input":"boom","expected":"abc"}\n' >tasks/command.jsonl
cat >tasks/fields.jsonl <<'EOF'
{"id": "ideal", "input": "x", "ideal": "x"}
{"id": "target", "input": "y", "target": "y"}
{"id": "answer", "input": "z", "answer": "z"}
{"id": "list", "input": "w", "expected": ["v", "w"]}
{"id": "ideallist", "input": "w", "ideal": ["v", "w"]}
{"id": "nolist", "input": "u", "ideal": ["v", "w"]}
EOF
cat >Evalfile <<'EOF'
defaults:
  iterations: 1
  agent: {command: ./echo.sh}
suites:
  exact:
    tasks: tasks/exact.jsonl
    grader: {type: exact}
  notrim:
    tasks: tasks/notrim.jsonl
    grader: {type: exact, trim: false}
  contains:
    tasks: tasks/contains.jsonl
    grader: {type: contains, ignore_case: true}
  regex:
    tasks: tasks/regex.jsonl
    grader: {type: regex, pattern: "^[0-9]+$"}
  numeric:
    tasks: tasks/numeric.jsonl
    grader: {type: numeric, tolerance: 0.1}
  command:
    tasks: tasks/command.jsonl
    grader: {type: command, command: ./grade.sh}
  fields:
    tasks: tasks/fields.jsonl
    grader: {type: exact}
EOF
em -k --json r.json
cp "$T/out" "$GRT/out.run"
cp "$T/err" "$T/err.run"
assert_rc 1 # the exploding grader
assert_calls 19
GRJSON=$GR/r.json
check "the JSON report is valid" jq -e . "$GRJSON" >/dev/null

try "graders: exact trims by default (\"42\\n\" matches \"42\"), trim: false does not"
cd "$GR"
assert_json "$GRJSON" "$(cellscore exact spaced 1)" 1
assert_json "$GRJSON" "$(cellscore exact inner 1)" 0
assert_json "$GRJSON" "$(cellscore notrim padded 1)" 0

try "graders: contains with ignore_case"
cd "$GR"
assert_json "$GRJSON" "$(cellscore contains yes 1)" 1
assert_json "$GRJSON" "$(cellscore contains no 1)" 0

try "graders: regex with a pattern"
cd "$GR"
assert_json "$GRJSON" "$(cellscore regex digits 1)" 1
assert_json "$GRJSON" "$(cellscore regex mixed 1)" 0

try "graders: numeric with a tolerance"
cd "$GR"
assert_json "$GRJSON" "$(cellscore numeric close 1)" 1
assert_json "$GRJSON" "$(cellscore numeric far 1)" 0
assert_json "$GRJSON" "$(cellscore numeric none 1)" 0

try "graders: a command grader's score, and a failing grader is an error, not a score"
cd "$GR"
assert_json "$GRJSON" "$(cellscore command same 1)" 1
assert_json "$GRJSON" "$(cellscore command other 1)" 0.5
assert_json "$GRJSON" "$(cellstatus command boom 1)" '"error"'
assert_json "$GRJSON" "$(cellscore command boom 1)" null
assert_json "$GRJSON" '(.suites[] | select(.name == "command") | .score)' 0.75
check "the grader error names the cell" grep -q 'command/boom#1' "$GRT/err.run"
rm -f calls
em -k command --json r2.json
assert_rc 1
assert_calls 0
assert_json r2.json "$(cellstatus command boom 1)" '"error"'
assert_json r2.json "$(cellstatus command other 1)" '"cached"'

try "graders: .jsonl expected from ideal, target or answer; a list means any"
cd "$GR"
for t in ideal target answer list ideallist; do
	assert_json "$GRJSON" "$(cellscore fields $t 1)" 1
done
assert_json "$GRJSON" "$(cellscore fields nolist 1)" 0

try "graders: a command grader gets EVAL_EXPECTED trimmed (trim is on by default)"
mkproject
cat >grade.sh <<'EOF'
#!/bin/sh
out=$(cat)
if [ "$out" = "$EVAL_EXPECTED" ]; then echo 1; else echo "0 differs"; fi
EOF
chmod +x grade.sh
sed -i 's/grader: {type: exact} # calc/grader: {type: command, command: .\/grade.sh}/' Evalfile
em calc/t1#1 --json r.json
assert_rc 0
assert_json r.json "$(cellscore calc t1 1)" 1 # expected.txt is "one\n", the output "one\n"

try "graders: the table names failing tasks with expected and got"
cd "$GR"
check "a FAIL line for contains/no" grep -q 'contains/no.*paris.*London' "$GRT/out.run"

# ---------------------------------------------------------------------------
# targets and sampling

try "targets: SUITE/TASK#K, SUITE/TASK, SUITE"
mkproject
em 'calc/t2#2'
assert_rc 0
assert_calls_are "calc t2 2"
rm -f calls
em calc/t1 --json r.json
assert_rc 0
assert_calls_are "calc t1 1
calc t1 2"
assert_json r.json '[.suites[].cells_total] | add' 2
rm -f calls
em quiz
assert_rc 0
assert_calls_are "$(allcells quiz)"
rm -f calls
em
assert_rc 0
assert_calls_are "calc t2 1
calc t3 1
calc t3 2"

try "--sample 2 runs 2 tasks per suite; --sample 3 then runs only the new task's cells"
mkproject 5
em --sample 2 --json r.json
assert_rc 0
assert_calls 8
check "2 tasks of calc" [ "$(grep '^calc' calls | awk '{print $2}' | sort -u | wc -l)" = 2 ]
check "2 tasks of quiz" [ "$(grep '^quiz' calls | awk '{print $2}' | sort -u | wc -l)" = 2 ]
check "each task with both iterations" [ "$(sort -u calls | wc -l)" = 8 ]
assert_json r.json '[.suites[].cells_total] | add' 8
cp calls calls.2
rm -f calls
em --sample 2
assert_calls 0
em --sample 3
assert_rc 0
assert_calls 4
checks "new tasks only" '[ -z "$(awk "{print \$1, \$2}" calls | sort -u | grep -xFf <(awk "{print \$1, \$2}" calls.2 | sort -u))" ]'
check "one new task per suite" [ "$(awk '{print $1}' calls | sort | uniq -c | awk '{print $1}' | tr -d '\n')" = 22 ]

# ---------------------------------------------------------------------------
# status, explain, log, gc

try "status on a never-run project: all cells pending, nothing run"
mkproject
em status --json -
assert_rc 0
assert_calls 0
echo "$(grep '^{' "$T/out")" >s.json
assert_json s.json '[.suites[].tasks[].cells[].status] | unique' '["pending"]'
assert_json s.json '[.suites[].tasks[].cells[]] | length' 12
assert_json s.json '.ran' 0

try "status after a run shows the cached scores and runs nothing"
mkproject
em --json r.json
rm -f calls
em status --json s.json
assert_rc 0
assert_calls 0
assert_json s.json '[.suites[].tasks[].cells[].status] | unique' '["cached"]'
assert_json s.json '[.suites[] | .score * 1000 | round]' '[667,333]'
check "status prints the table" grep -q '^calc .*0.667' "$T/out"
echo changed >prompts/quiz.md
em status --json s.json
assert_calls 0
assert_json s.json "$(cellstatus quiz q1 1)" '"pending"'
assert_json s.json "$(cellstatus calc t1 1)" '"cached"'

try "explain names the changed input"
mkproject
em
rm -f calls
printf 'Q: {{input}}\nBe brief.\n' >prompts/calc.md
em explain 'calc/t1#1'
assert_rc 0
check "says the prompt changed" names_changed prompt "$T/out"
check "does not say the task input changed" ! names_changed "task input" "$T/out"
em explain 'quiz/q1#1'
check "a quiz cell is up to date" grep -qi 'up to date' "$T/out"
em
rm -f calls
printf 'another one\n' >tasks/calc/t1/input.txt
em explain 'calc/t1#2'
check "says the task input changed" names_changed "task input" "$T/out"
assert_calls 0
em explain 'calc' # a suite is not a cell (SUITE/TASK is: every iteration, tests/e2e/cli.sh)
assert_rc 2

try "gc drops the entries of a deleted task; the remaining cells stay cached"
mkproject
em
check "12 run entries before" [ "$(nruns)" = 12 ]
rm -rf tasks/calc/t3
em gc --all # (default: kept 30 days; see store.sh)
assert_rc 0
check "10 run entries after (got $(nruns))" [ "$(nruns)" = 10 ]
rm -f calls
em --json r.json
assert_rc 0
assert_calls 0
assert_json r.json '.cached' 10

try "gc keeps what the current cells refer to, and drops old versions"
mkproject
em
echo 'Q: {{input}}' >prompts/calc.md
printf 'Say it.\nQ: {{input}}\n' >prompts/calc.md
em
check "18 run entries" [ "$(nruns)" = 18 ]
em gc --keep 0
assert_rc 0
check "12 run entries after gc (got $(nruns))" [ "$(nruns)" = 12 ]
rm -f calls
em
assert_calls 0

# ---------------------------------------------------------------------------
# robustness of the cache

try "a lost stat cache costs nothing but time; a lost index.db, the small entries it held"
mkproject
em
rm -f calls
sqlite3 cache/index.db 'DELETE FROM files; DELETE FROM memos' # the stat cache
em
assert_rc 0
assert_calls 0
# the small entries (no artifacts) are rows of index.db: they go with it
# (tests/e2e/store2.sh: entries kept in folders are found again)
rm -f cache/index.db cache/index.db-wal cache/index.db-shm
em
assert_rc 0
assert_calls 12
rm -f calls
printf 'garbage line\n\0\0\0\n' >cache/index.db
em --json r.json
assert_rc 0
assert_calls 12
assert_json r.json '.ran' 12
check "the damaged index is kept aside" ls cache/index.db.damaged.*

try "an Evalfile written as JSON works, lowercase evalfile is found"
mkproject
cat >evalfile <<'EOF'
{"defaults": {"iterations": 1},
 "suites": {"quiz": {"tasks": "tasks/quiz.jsonl", "prompt": "prompts/quiz.md",
                     "agent": {"command": "./agent.sh"}, "grader": {"type": "exact"}}}}
EOF
rm Evalfile
em
assert_rc 0
assert_calls_are "$(allcells quiz 1)"

try "templates: {{expected}}, {{task.FIELD}}; no prompt means the input alone"
mkproject
printf 'Q: {{input}} ({{task.topic}}; want {{expected}})\n' >prompts/quiz.md
sed -i 's/"input": "alpha"/"topic": "greek", &/; s/"input": "Beta"/"topic": "greek", &/; s/"input": "gamma ray"/"topic": "physics", &/' tasks/quiz.jsonl
em quiz/q3#1
assert_rc 0
em log 'quiz/q3#1'
check "prompt rendered" grep -qx 'Q: gamma ray (physics; want gamma)' "$T/out"
sed -i 's#^    prompt: prompts/calc.md##' Evalfile
em calc/t1#1
assert_rc 0
em log 'calc/t1#1'
checks "prompt is the input" 'grep -A1 "== prompt" "$T/out" | grep -qx one'

# ---------------------------------------------------------------------------
# output hygiene and the command line

try "NO_COLOR and no terminal: no escape bytes anywhere"
mkproject
echo t2 >fail
for args in "-k -v" "-k" "status" "-n" "explain calc/t1#1" "log calc/t2#1" "calcc" "--bogus"; do
	em $args
	cat "$T/out" "$T/err" >>"$T/all"
done
check "no ESC byte in any output" ! grep -q $'\033' "$T/all"
check "no CR byte in any output" ! grep -q $'\r' "$T/all"

try "-s prints nothing on stdout"
mkproject
em -s
assert_rc 0
check "stdout is empty" [ ! -s "$T/out" ]
assert_calls 12

try "-s still prints a cell's error (as make -s does), and nothing else"
mkdir -p tasks
printf '{"id": "a", "input": "x", "expected": "x"}\n' >tasks/t.jsonl
printf 'suites:\n  s:\n    tasks: tasks/t.jsonl\n    agent: {command: "echo boom >&2; exit 3"}\n' >Evalfile
em -s
assert_rc 1
check "stdout is empty" [ ! -s "$T/out" ]
check "the error names the cell and its cause" grep -q 's/a#1: exit status 3: boom' "$T/err"

try "--help, --version, unknown options, bad numbers"
em --help
assert_rc 0
for c in status explain log gc watch check diff lock report; do
	check "--help mentions $c" grep -qw "$c" "$T/out"
done
for o in -B -n -q -k -j -f --iterations --sample --json; do
	check "--help mentions $o" grep -q -- "$o" "$T/out"
done
em --version
assert_rc 0
check "--version prints a version" grep -qE '^evalmake [0-9]+\.[0-9]+' "$T/out"
mkproject
em --bogus
assert_rc 2
check "names the option" grep -q -- '--bogus' "$T/err"
em -Z
assert_rc 2
em -j 0
assert_rc 2
em --iterations many
assert_rc 2
em --sample
assert_rc 2
assert_calls 0

# command graders of cells whose output is cached (a grader edited) were
# started without -j's bound: every one at once, two pipes each, so a
# re-grade of 10,000 cells ran out of file descriptors
try "re-grading with a command grader keeps to -j"
mkdir -p t
for i in 1 2 3 4 5 6 7 8; do printf '{"input": "a%s", "expected": "a%s"}\n' $i $i >t/$i.json; done
cat >grade.sh <<'EOF'
#!/bin/sh
cat >/dev/null
mkdir -p running
: >"running/$$"
ls running | wc -l >>concurrent
sleep 0.3
rm -f "running/$$"
echo "${SCORE:-1}"
EOF
chmod +x grade.sh
printf 'suites:\n  s:\n    tasks: "t/*.json"\n    agent: {command: cat}\n    grader: {type: command, command: ./grade.sh, env_inputs: [SCORE]}\n' >Evalfile
em -j 2
assert_rc 0
rm -f concurrent
SCORE=1.0 em -j 2 --json r.json
assert_rc 0
assert_json r.json '.ran' 0
checks "8 graders ran" '[ "$(wc -l <concurrent)" = 8 ]'
checks "at most 2 at once (saw $(sort -n concurrent | tail -1))" '[ "$(sort -n concurrent | tail -1)" -le 2 ]'

finish
summary
