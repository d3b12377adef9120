#!/usr/bin/env bash
# End-to-end tests of grading real datasets: GSM8K-style numbers with
# thousands separators, output_pattern, multiple choice ({{choices}}, the
# choice grader, index/letter/text answers, shuffle_choices), command
# graders that read the task (EVAL_TASK_JSON) and keep their stderr, and
# OpenAI-evals few-shot input sent to the Anthropic API (through the local
# model server of tests/modelserver, started once on a free port).
#
#   EVALMAKE=/abs/evalmake MODELSERVER=/abs/build/modelserver bash tests/e2e/grading.sh
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

MS=${MODELSERVER:-}
case $MS in "" | /*) ;; *) MS=$PWD/$MS ;; esac
if [ -z "$MS" ] || [ ! -x "$MS" ] || ! command -v curl >/dev/null || ! command -v perl >/dev/null; then
	echo "grading.sh: needs MODELSERVER (make build/modelserver), curl and perl" >&2
	exit 2
fi
export EMKEY=sk-test-grading-5678

start_modelserver grading.sh
URL=http://127.0.0.1:$PORT

entry() { # entry REPORT SUITE TASK K: the cell's run entry
	local k
	k=$(jq -r "$(cellsel "$2" "$3" "$4") | .key)" "$1" 2>/dev/null)
	printf 'cache/runs/%s/%s\n' "${k:0:2}" "$k"
}
# jqis FILE FILTER WANT: the filter's value equals the JSON value WANT
jqis() {
	jq -e --argjson want "$3" "($2) == \$want" "$1" >/dev/null 2>&1 ||
		fail "$1: $2 is $(jq -c "$2" "$1" 2>&1 | head -c 300), expected $3"
}

# ---------------------------------------------------------------------------
# numbers

try "numeric: GSM8K-style answers with thousands separators, currency, emphasis"
mkdir -p tasks
cat >tasks/gsm.jsonl <<'EOF'
{"id": "g1", "input": "q1", "answer": "2,125"}
{"id": "g2", "input": "q2", "answer": "70000"}
{"id": "g3", "input": "q3", "answer": "18"}
{"id": "g4", "input": "q4", "answer": "0.75"}
{"id": "g5", "input": "q5", "answer": "1,000,000"}
{"id": "g6", "input": "q6", "answer": "5"}
EOF
cat >agent.sh <<'EOF'
#!/bin/sh
echo "$EVAL_TASK" >>calls
case $(cat) in
q1) echo "Step 1: 2000 + 125. The answer is 2,125." ;;
q2) echo "She earns \$70,000 a year." ;;
q3) echo "So she makes **18** dollars." ;;
q4) echo "That is 3/4" ;;
q5) echo "One million: 1,000,000" ;;
q6) echo "between 3 and 4" ;;
esac
EOF
chmod +x agent.sh
cat >Evalfile <<'EOF'
suites:
  gsm:
    tasks: tasks/gsm.jsonl
    agent: {command: ./agent.sh}
    grader: {type: numeric}
EOF
em --json r.json
assert_rc 0
for t in g1 g2 g3 g4 g5; do jqis r.json "$(cellscore gsm $t 1)" 1; done
jqis r.json "$(cellscore gsm g6 1)" 0
em log 'gsm/g6#1'
check "log: the number read and the one expected" grep -q 'got 4, expected 5' "$T/out"

try "numeric: an expected answer that is no number is an error before any agent call (file:line, value)"
mkdir -p tasks
printf '{"id": "a", "input": "q", "answer": "12"}\n{"id": "b", "input": "q", "answer": "twelve"}\n' >tasks/t.jsonl
printf '#!/bin/sh\necho x >>calls\necho 12\n' >agent.sh
chmod +x agent.sh
cat >Evalfile <<'EOF'
suites:
  s:
    tasks: tasks/t.jsonl
    agent: {command: ./agent.sh}
    grader: {type: numeric}
EOF
em
assert_rc 2
check "names the task's file and line" grep -q 'tasks/t.jsonl:2' "$T/err"
check "names the value" grep -q "'twelve'" "$T/err"
assert_calls 0

# ---------------------------------------------------------------------------
# output_pattern

try "output_pattern: its group is the answer; no match scores 0, 'no answer found'"
printf '{"id": "a", "input": "1", "answer": "42"}\n{"id": "b", "input": "2", "answer": "42"}\n{"id": "c", "input": "3", "answer": "7"}\n' >t.jsonl
cat >agent.sh <<'EOF'
#!/bin/sh
case $(cat) in
1) printf 'I considered 41 and 43.\nANSWER: 42\n' ;;
2) printf 'It is 42, I think.\n' ;;
3) printf 'answer:   7\nand 9 more\n' ;;
esac
EOF
chmod +x agent.sh
cat >Evalfile <<'EOF'
suites:
  ex:
    tasks: t.jsonl
    agent: {command: ./agent.sh}
    grader: {type: exact, output_pattern: 'ANSWER:\s*(\d+)', ignore_case: true}
  num:
    tasks: t.jsonl
    agent: {command: ./agent.sh}
    grader: {type: numeric, output_pattern: 'ANSWER:\s*(\S+)', ignore_case: true}
EOF
em --json r.json
assert_rc 0
jqis r.json "$(cellscore ex a 1)" 1
jqis r.json "$(cellscore ex b 1)" 0
jqis r.json "$(cellscore ex c 1)" 1
jqis r.json "$(cellscore num c 1)" 1
em log 'ex/b#1'
check "log: no answer found" grep -q 'no answer found' "$T/out"
# an invalid pattern is an Evalfile error
sed -i 's/(\\d+)/(\\d+/' Evalfile
em
assert_rc 2
check "invalid output_pattern: file:line:col" grep -qE 'Evalfile:[0-9]+:[0-9]+: .*output_pattern: invalid regular expression' "$T/err"

# ---------------------------------------------------------------------------
# multiple choice

# tasks with 3, 4 and 5 choices; the right one is always "right ..."; the
# expected answer given as an index, a letter and the text
mkmc() {
	mkdir -p tasks
	cat >tasks/mc.jsonl <<'EOF'
{"id": "i", "question": "Q1?", "choices": ["wrong a", "right b", "wrong c"], "answer": 1}
{"id": "l", "question": "Q2?", "choices": ["wrong a", "wrong b", "right c", "wrong d"], "answer": "C"}
{"id": "t", "question": "Q3?", "choices": ["wrong a", "wrong b", "wrong c", "wrong d", "right e"], "answer": "right e"}
EOF
	printf '{{task.question}}\n\n{{choices}}\n\nEnd with ANSWER: LETTER.\n' >prompt.md
	# a chatty agent: starts with a word that holds A, answers (X)
	cat >agent.sh <<'EOF'
#!/bin/sh
p=$(cat)
echo "$EVAL_TASK $EVAL_ITERATION" >>calls
printf '%s\n' "$p" >"prompt-$EVAL_TASK-$EVAL_ITERATION"
l=$(printf '%s\n' "$p" | grep -E '^[A-Z]\) right' | cut -c1)
printf 'After thinking about it, A seems close, but the answer is (%s).\n' "$l"
EOF
	chmod +x agent.sh
}

try "choice: {{choices}} lists A) lines; chatty answers; index, letter and text expected"
mkmc
cat >Evalfile <<'EOF'
suites:
  mc:
    tasks: tasks/mc.jsonl
    prompt: prompt.md
    agent: {command: ./agent.sh}
    grader: {type: choice}
EOF
em --json r.json
assert_rc 0
for t in i l t; do jqis r.json "$(cellscore mc $t 1)" 1; done
check "the prompt lists the choices as A) lines" grep -qx 'E) right e' prompt-t-1
check "... in the list's order" grep -qx 'A) wrong a' prompt-t-1
# a wrong answer: the grader says what was answered and expected
sed -i 's/"answer": "C"}/"answer": "D"}/' tasks/mc.jsonl
em --json r.json
assert_rc 0
jqis r.json "$(cellscore mc l 1)" 0
em log 'mc/l#1'
check "log: answered C, expected D" grep -q 'answered C, expected D' "$T/out"

try "choice: an expected answer that names no choice is an error before any agent call"
mkmc
sed -i 's/"answer": "C"}/"answer": "G"}/' tasks/mc.jsonl
cat >Evalfile <<'EOF'
suites:
  mc:
    tasks: tasks/mc.jsonl
    prompt: prompt.md
    agent: {command: ./agent.sh}
    grader: {type: choice}
EOF
em
assert_rc 2
check "names file:line and value" grep -qE "tasks/mc.jsonl:2: .*'G'.*names no choice" "$T/err"
assert_calls 0

try "shuffle_choices: the prompt differs by iteration, the expected letter follows, keys cover it"
mkmc
cat >Evalfile <<'EOF'
suites:
  mc:
    tasks: tasks/mc.jsonl
    prompt: prompt.md
    iterations: 4
    shuffle_choices: true
    agent: {command: ./agent.sh}
    grader: {type: choice}
EOF
em --json r.json
assert_rc 0
assert_calls 12
jqis r.json '[.suites[0].tasks[].cells[].score] | unique' '[1]'
checks "the shown order differs between iterations" \
	'[ $(for k in 1 2 3 4; do grep -E "^[A-Z]\) right" prompt-t-$k; done | sort -u | wc -l) -gt 1 ]'
checks "a shuffled list still holds every choice" '[ $(grep -cE "^[A-E]\) " prompt-t-3) = 5 ]'
cp prompt-t-2 first-t-2
em --json r.json
assert_rc 0
assert_calls 12
jqis r.json .ran 0
# the same seed gives the same order: -B runs again with the same prompts
em -B
assert_rc 0
check "the same order for the same task and iteration" cmp -s first-t-2 prompt-t-2
: >calls
# without the shuffle, the prompts change: every cell runs again
sed -i '/shuffle_choices/d' Evalfile
em --json r.json
assert_rc 0
checks "cells whose shown order changes run again" '[ $(wc -l <calls) -ge 6 ]'
jqis r.json '[.suites[0].tasks[].cells[].score] | unique' '[1]'

try "shuffle_choices without {{choices}} in the prompt is an error"
mkmc
printf '{{task.question}}\n' >prompt.md
cat >Evalfile <<'EOF'
suites:
  mc:
    tasks: tasks/mc.jsonl
    prompt: prompt.md
    shuffle_choices: true
    agent: {command: ./agent.sh}
    grader: {type: choice}
EOF
em
assert_rc 2
check "says the prompt shows no {{choices}}" grep -q 'shows no {{choices}}' "$T/err"
assert_calls 0

try "shuffle_choices in watch mode: editing one task reruns its iterations, each in its own order"
mkmc
mkdir -p tasks/w
printf '{"question": "W1?", "choices": ["wrong a", "wrong b", "right c", "wrong d"], "answer": 2}\n' >tasks/w/w1.json
printf '{"question": "W2?", "choices": ["right a", "wrong b", "wrong c"], "answer": "A"}\n' >tasks/w/w2.json
cat >Evalfile <<'EOF'
suites:
  mc:
    tasks: tasks/w/*.json
    prompt: prompt.md
    iterations: 3
    shuffle_choices: true
    agent: {command: ./agent.sh}
    grader: {type: choice}
EOF
"$E" watch --jsonl >"$T/out" 2>"$T/err" &
wpid=$!
BGPIDS+=("$wpid")
lines() { wc -l <"$T/out" | tr -d ' '; }
for ((i = 0; i < 400; i++)); do [ "$(lines)" -ge 1 ] && break; sleep 0.05; done
[ "$(lines)" = 1 ] || fail "no first report line"
sleep 0.3
: >calls
printf '{"question": "W1?", "choices": ["wrong a", "wrong b", "right c", "wrong d", "wrong e"], "answer": 2}\n' >tasks/w/w1.json.tmp
mv tasks/w/w1.json.tmp tasks/w/w1.json
for ((i = 0; i < 400; i++)); do [ "$(lines)" -ge 2 ] && break; sleep 0.05; done
[ "$(lines)" = 2 ] || fail "no report line after the edit"
kill -INT "$wpid" 2>/dev/null
for ((i = 0; i < 200; i++)); do kill -0 "$wpid" 2>/dev/null || break; sleep 0.05; done
wait "$wpid" 2>/dev/null
sancheck "$T/err"
tail -n 1 "$T/out" >line.json
checks "only the edited task ran, every iteration" '[ "$(sort calls | tr "\n" " ")" = "w1 1 w1 2 w1 3 " ]'
jqis line.json '[.suites[0].tasks[].cells[].score] | unique' '[1]'
checks "the new choice is shown in every iteration" '[ $(cat prompt-w1-1 prompt-w1-2 prompt-w1-3 | grep -c "wrong e") = 3 ]'
checks "orders differ between iterations" '[ $(cksum prompt-w1-1 prompt-w1-2 prompt-w1-3 | cut -d" " -f1 | sort -u | wc -l) -gt 1 ]'

# ---------------------------------------------------------------------------
# command graders see the task

try "command grader: reads test and entry_point from EVAL_TASK_JSON; its stderr in log; task edits regrade"
cat >t.jsonl <<'EOF'
{"id": "h1", "prompt": "def add(a, b):", "entry_point": "add", "test": "assert add(1, 2) == 3", "canonical_solution": "return a + b", "input": "write add"}
EOF
printf '#!/bin/sh\necho "$EVAL_TASK" >>calls\necho "def add(a, b): return a + b"\n' >agent.sh
cat >grader.sh <<'EOF'
#!/bin/sh
echo run >>grades
out=$(cat)
t=$(jq -r .test "$EVAL_TASK_JSON")
ep=$(jq -r .entry_point "$EVAL_TASK_JSON")
sol=$(jq -r .canonical_solution "$EVAL_TASK_JSON")
echo "running: $t" >&2
echo "entry point: $ep" >&2
case $out in *"def $ep"*) ;; *) echo "0 no $ep"; exit 0 ;; esac
case $t in *"== 3"*) echo "1 passed" ;; *) echo "0 failed: $t" ;; esac
EOF
chmod +x agent.sh grader.sh
cat >Evalfile <<'EOF'
suites:
  he:
    tasks: t.jsonl
    agent: {command: ./agent.sh}
    grader: {type: command, command: ./grader.sh}
EOF
em --json r.json
assert_rc 0
jqis r.json "$(cellscore he h1 1)" 1
em log 'he/h1#1'
assert_rc 0
check "log shows the grader's stderr" grep -q 'running: assert add(1, 2) == 3' "$T/out"
check "... all of it" grep -q 'entry point: add' "$T/out"
check "... under its own heading" grep -q '^== grader stderr' "$T/out"
checks "graded once" '[ $(wc -l <grades) = 1 ]'
# the test changes (the agent's output does not): the grade is redone
sed -i 's/== 3/== 4/' t.jsonl
em --json r.json
assert_rc 0
jqis r.json "$(cellscore he h1 1)" 0
checks "graded again" '[ $(wc -l <grades) = 2 ]'
em
checks "and not a third time" '[ $(wc -l <grades) = 2 ]'

# ---------------------------------------------------------------------------
# Anthropic and OpenAI-evals few-shot input

try "anthropic: few-shot system messages named example_user/example_assistant become turns; none dropped"
cat >t.jsonl <<'EOF'
{"id": "f1", "input": [{"role": "system", "content": "Answer with the word."}, {"role": "system", "name": "example_user", "content": "REPLY: one"}, {"role": "system", "name": "example_assistant", "content": "one"}, {"role": "system", "content": "Be exact."}, {"role": "system", "name": "example_user", "content": "Next one."}, {"role": "user", "content": "REPLY: two"}], "ideal": "two"}
EOF
cat >Evalfile <<EOF
suites:
  an:
    tasks: t.jsonl
    agent: {provider: anthropic, model: m1, base_url: "$URL", api_key_env: EMKEY, retries: 1, system: "You are terse."}
  oa:
    tasks: t.jsonl
    agent: {provider: openai, model: m1, base_url: "$URL/v1", api_key_env: EMKEY, retries: 1}
EOF
em --json r.json
assert_rc 0
jqis r.json "$(cellscore an f1 1)" 1
part "$(entry r.json an f1 1)" request.json >req.json
jqis req.json .system '"You are terse.\n\nAnswer with the word.\n\nBe exact."'
jqis req.json '[.messages[].role]' '["user", "assistant", "user"]'
jqis req.json '.messages[0].content' '"REPLY: one"'
jqis req.json '.messages[2].content' '"Next one.\n\nREPLY: two"'
jqis req.json '[.messages[] | has("name")] | any' false
# OpenAI keeps the messages as they are
part "$(entry r.json oa f1 1)" request.json >req.json
jqis req.json '[.messages[].role]' '["system", "system", "system", "system", "system", "user"]'
jqis req.json '.messages[1].name' '"example_user"'

try "params the tool cannot honour (stream: true, n: 3) are refused at load time"
printf '{"id": "a", "input": "x", "ideal": "x"}\n' >t.jsonl
cat >Evalfile <<EOF
suites:
  an:
    tasks: t.jsonl
    agent:
      provider: anthropic
      model: m1
      base_url: "$URL"
      api_key_env: EMKEY
      params: {max_tokens: 10, stream: true}
EOF
em
assert_rc 2
check "stream: file:line:col" grep -qE 'Evalfile:9:[0-9]+: .*stream' "$T/err"
sed -i 's/stream: true/n: 3/' Evalfile
em
assert_rc 2
check "n: file:line:col" grep -qE 'Evalfile:9:[0-9]+: .*\.n: ' "$T/err"
sed -i 's/n: 3/n: 1, stream: false/' Evalfile
em
assert_rc 0

finish
summary
