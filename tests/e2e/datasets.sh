#!/usr/bin/env bash
# End-to-end tests of public eval sets read as they are published: the
# formats (.json arrays, .csv, .tsv, .gz, .zst), a suite's `fields` mapping
# and `expected_pattern`, and the checks that run before any agent does.
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/datasets.sh
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
EXAMPLES=$(cd "$HERE/../../examples/datasets" && pwd)

# an agent that logs each call to ./calls and answers with the prompt's
# last line
mkagent() {
	cat >agent.sh <<'A'
#!/bin/sh
echo "$EVAL_SUITE $EVAL_TASK" >>calls
tail -n 1
A
	chmod +x agent.sh
}

# an agent that logs each call to ./calls and prints its whole prompt
mkcatagent() {
	cat >agent.sh <<'A'
#!/bin/sh
echo "$EVAL_SUITE $EVAL_TASK" >>calls
cat
A
	chmod +x agent.sh
}

# exit 2, no agent called, no result written, and stderr holds each of the
# given strings
assert_refused() {
	assert_rc 2
	assert_calls 0
	checks "nothing written to the cache" '[ ! -d cache/runs ] || [ -z "$(ls cache/runs)" ]'
	local s
	for s in "$@"; do
		grep -qF -- "$s" "$T/err" || fail "stderr lacks: $s"
	done
}

# ---------------------------------------------------------------------------
# the examples: GSM8K, MMLU (two layouts) and HumanEval in their own formats

try "the examples run as published: GSM8K .jsonl, MMLU .csv, HumanEval .jsonl.gz"
cp -r "$EXAMPLES"/. .
rm -rf cache
em --json r.json
assert_rc 0
assert_json r.json '[.suites[] | {(.name): .score}] | add | map_values(. * 1000 | round)' \
	'{"gsm8k":750,"mmlu":750,"mmlu_columns":1000,"humaneval":667}'
assert_json r.json '[.suites[] | {(.name): [.tasks[].id]}] | add' \
	'{"gsm8k":["1","2","3","4"],"mmlu":["1","2","3","4"],"mmlu_columns":["1","2","3"],"humaneval":["HumanEval/0","HumanEval/1","HumanEval/2"]}'
em log gsm8k/2#1
checks "the answer after #### (2,125) is the expected one" 'grep -qx 1 "$T/out"'
checks "a literal {{ in a prompt" 'grep -qxF "{{Show your work.}}" "$T/out"'
em log mmlu/3#1
checks "a quoted newline stays in the question" 'grep -qx "(1) 2 is prime. (2) 9 is prime." "$T/out"'
checks "a list literal's item with a comma is one choice" 'grep -qx "0. True, True" "$T/out"'
em log mmlu_columns/1#1
checks "choices from columns A-D" 'grep -qx "D. 120" "$T/out"'
checks "a missing field takes the default" 'grep -qx "Subject: general knowledge" "$T/out"'
em log humaneval/HumanEval/2#1
checks "the HumanEval test ran and failed" 'grep -q "AssertionError" "$T/out"'
em --json r2.json
assert_rc 0
assert_json r2.json '.ran' 0
assert_json r2.json '.cached' 14

# ---------------------------------------------------------------------------
# formats

try "a .json array, a .tsv and a .csv.zst: one task a record"
mkagent
printf '[\n {"id": "a", "input": "x\\nA"},\n {"id": "b", "input": "B", "expected": "B"}\n]\n' >arr.json
printf 'id\tinput\texpected\nt1\t"say\tT"\t"say\tT"\n' >t.tsv
printf 'q,answer\nZ,Z\nW,V\n' | zstd -q -o c.csv.zst
printf 'A\n' >a.expected # not a task: no glob matches it
cat >Evalfile <<'Y'
defaults:
  agent: {command: ./agent.sh}
  grader: {type: exact}
suites:
  arr: {tasks: arr.json}
  tsv: {tasks: t.tsv}
  zst: {tasks: c.csv.zst, fields: {input: q}}
Y
sed -i 's/"x\\nA"}/"x\\nA", "answer": "A"}/' arr.json
em --json r.json
assert_rc 0
assert_json r.json '[.suites[] | {(.name): [.tasks[] | {(.id): .score}] | add}] | add' \
	'{"arr":{"a":1,"b":1},"tsv":{"t1":1},"zst":{"1":1,"2":0}}'

try "editing one CSV row runs that row's cell only"
mkagent
printf 'id,input,answer\nr1,one,one\nr2,two,two\nr3,three,three\n' >d.csv
printf 'suites:\n  s: {tasks: d.csv, agent: {command: ./agent.sh}}\n' >Evalfile
em
assert_rc 0
assert_calls 3
rm -f calls
printf 'id,input,answer\nr1,one,one\nr2,TWO,two\nr3,three,three\n' >d.csv
em
assert_rc 0
assert_calls_are "s r2"

try "a .json file of one object stays one task named by the file, read only when it changed"
mkagent
mkdir t
printf '{"input": "hi", "expected": "hi"}' >t/one.json
sleep 1.1 # a file changed within a second of a run is "racy" and rehashed by the next: not this one
printf 'suites:\n  s: {tasks: t/*.json, agent: {command: ./agent.sh}}\n' >Evalfile
em --json r.json
assert_rc 0
assert_json r.json '[.suites[0].tasks[].id]' '["one"]'
# a no-op run must not open it: watch the folder for opens meanwhile
inotifywait -m -e open --format %f t >opens 2>inw.err &
inw=$!
waitfor 5 'grep -qs established inw.err' || fail "inotifywait did not start"
em --json r.json
kill "$inw"
wait "$inw" 2>/dev/null
assert_rc 0
assert_json r.json '.cached' 1
checks "the .json task was not opened" '! grep -q one.json opens'
printf '[{"id": "x", "input": "hi", "expected": "hi"}]' >t/one.json
em --json r.json
assert_rc 0
assert_json r.json '[.suites[0].tasks[].id]' '["x"]'

try "a bad CSV row, a bad gzip file and a broken JSON array are refused naming FILE:LINE"
mkagent
printf 'input,answer\n"a",1\n"b",2,3\n' >d.csv
printf 'suites:\n  s: {tasks: d.csv, agent: {command: ./agent.sh}}\n' >Evalfile
em
assert_refused "d.csv:3: 3 fields, but the header (line 1) has 2 columns"
printf 'not gzip' >d.csv.gz
printf 'suites:\n  s: {tasks: d.csv.gz, agent: {command: ./agent.sh}}\n' >Evalfile
em
assert_refused "d.csv.gz: not a valid gzip file"
printf '[{"input": "a"},\n "b"]' >d.json
printf 'suites:\n  s: {tasks: d.json, agent: {command: ./agent.sh}}\n' >Evalfile
em
assert_refused "d.json:2: expected a JSON object"

try "duplicate ids in a file name both lines; numbers are ids"
mkagent
printf '{"task_id": 17, "q": "a", "answer": "a"}\n{"task_id": 18, "q": "b", "answer": "b"}\n{"task_id": 17, "q": "c", "answer": "c"}\n' >d.jsonl
printf 'suites:\n  s: {tasks: d.jsonl, fields: {id: task_id, input: q}, agent: {command: ./agent.sh}}\n' >Evalfile
em
assert_refused "d.jsonl:3: suite 's': duplicate task id '17' (also d.jsonl:1)"
sed -i '3d' d.jsonl
em --json r.json
assert_rc 0
assert_json r.json '[.suites[0].tasks[].id]' '["17","18"]'

# ---------------------------------------------------------------------------
# checked before any agent runs

try "a task without an input is refused before any call (GSM8K without a mapping)"
mkagent
head -n 2 "$EXAMPLES/data/gsm8k.jsonl" >g.jsonl
printf 'suites:\n  s: {tasks: g.jsonl, agent: {command: ./agent.sh}, grader: {type: contains}}\n' >Evalfile
em
assert_refused "g.jsonl:1: task '1' has no input (field 'input')"
printf 'suites:\n  s: {tasks: g.jsonl, fields: {input: question}, agent: {command: ./agent.sh}, grader: {type: contains}}\n' >Evalfile
em
assert_rc 0
assert_calls 2

try "a prompt template that uses other fields needs no input"
mkagent
printf '{"q": "x", "answer": "x"}\n' >d.jsonl
printf 'Q: {{task.q}}\n' >p.md
printf 'suites:\n  s: {tasks: d.jsonl, prompt: p.md, agent: {command: ./agent.sh}}\n' >Evalfile
em
assert_rc 0
assert_calls 1

try "a task without an expected answer is refused when the grader needs one, not for a command grader"
mkagent
printf '{"input": "a", "answer": "a"}\n{"input": "b"}\n' >d.jsonl
printf 'suites:\n  s: {tasks: d.jsonl, agent: {command: ./agent.sh}, grader: {type: numeric}}\n' >Evalfile
em
assert_refused "d.jsonl:2: task '2' has no expected answer" "'answer'"
printf 'suites:\n  s: {tasks: d.jsonl, agent: {command: ./agent.sh}, fields: {expected: label}}\n' >Evalfile
em
assert_refused "d.jsonl:1: task '1' has no expected answer (field 'label')"
printf '#!/bin/sh\necho 1\n' >g.sh
chmod +x g.sh
printf 'suites:\n  s: {tasks: d.jsonl, agent: {command: ./agent.sh}, grader: {type: command, command: ./g.sh}}\n' >Evalfile
em
assert_rc 0
assert_calls 2

try "expected_pattern: no match is refused naming FILE:LINE; \\s and \\d work; changing it regrades without a call"
mkagent
printf '{"question": "q1", "answer": "so\\n#### 1,234"}\n{"question": "q2", "answer": "no marker"}\n' >d.jsonl
cat >Evalfile <<'Y'
suites:
  s:
    tasks: d.jsonl
    fields: {input: question, expected: answer}
    expected_pattern: '####\s*([\d,]+)$'
    agent: {command: ./agent.sh}
Y
em
assert_refused "d.jsonl:2: expected_pattern '####\\s*([\\d,]+)\$' does not match field 'answer' (\"no marker\")"
printf '{"question": "1,234", "answer": "so\\n#### 1,234"}\n{"question": "7", "answer": "x\\n#### 7"}\n' >d.jsonl
em --json r.json
assert_rc 0
assert_calls 2
assert_json r.json '.suites[0].score' 1
rm -f calls
sed -i "s/expected_pattern: .*/expected_pattern: '(\\\\d+)'/" Evalfile
em --json r.json
assert_rc 0
assert_calls 0
assert_json r.json '[.suites[0].tasks[] | {(.id): .score}] | add' '{"1":0,"2":1}'

try "a template field some task lacks is refused naming the task's FILE:LINE; a default fixes it"
mkagent
printf '{"input": "a", "hint": "h", "answer": "h"}\n{"input": "b", "answer": "none"}\n' >d.jsonl
printf '{{input}}\n{{task.hint}}\n' >p.md
printf 'suites:\n  s: {tasks: d.jsonl, prompt: p.md, agent: {command: ./agent.sh}}\n' >Evalfile
em
assert_refused "d.jsonl:2: task '2' has no field 'hint', which p.md:2 uses"
printf '{{input}}\n{{ task.hint | default: "none" }}\n' >p.md
em --json r.json
assert_rc 0
assert_json r.json '.suites[0].score' 1

try "bad fields and expected_pattern in the Evalfile are refused with FILE:LINE:COL"
mkagent
printf '{"input": "a", "answer": "a"}\n' >d.jsonl
printf 'suites:\n  s:\n    tasks: d.jsonl\n    fields: {inputs: q}\n    agent: {command: ./agent.sh}\n' >Evalfile
em
assert_refused "Evalfile:4:14: suites.s.fields: unknown key 'inputs' (did you mean 'input'?)"
printf 'suites:\n  s:\n    tasks: d.jsonl\n    expected_pattern: "(a"\n    agent: {command: ./agent.sh}\n' >Evalfile
em
assert_refused "Evalfile:4:23: suites.s.expected_pattern: invalid regular expression"
printf 'defaults:\n  fields: {input: q}\nsuites:\n  s:\n    tasks: d.jsonl\n    agent: {command: ./agent.sh}\n' >Evalfile
em
assert_refused "d.jsonl:1: task '1' has no input (field 'q')"

try "changing fields.input reruns; the prompt is the mapped field"
mkagent
printf '{"a": "A", "b": "B", "answer": "B"}\n' >d.jsonl
printf 'suites:\n  s: {tasks: d.jsonl, fields: {input: a}, agent: {command: ./agent.sh}}\n' >Evalfile
em --json r.json
assert_json r.json '.suites[0].score' 0
rm -f calls
sed -i 's/input: a/input: b/' Evalfile
em --json r.json
assert_calls 1
assert_json r.json '.suites[0].score' 1

try "one CSV per subject: row-number ids are prefixed with the file's stem, so they stay unique; one file keeps them bare"
mkagent
mkdir -p per
printf 'question,answer\nq1,q1\nq2,x\n' >per/law.csv
printf 'question,answer\nq3,q3\n' | gzip >per/math.csv.gz
printf '{"id": "named", "question": "q4", "answer": "q4"}\n' >per/named.jsonl
printf 'suites:\n  s: {tasks: "per/*", fields: {input: question, expected: answer}, agent: {command: ./agent.sh}}\n' >Evalfile
em --json r.json
assert_rc 0
assert_json r.json '[.suites[0].tasks[] | {(.id): .score}] | add' '{"law/1":1,"law/2":0,"math/1":1,"named":1}'
em log s/law/2
check "log shows the prefixed cell" grep -q "^s/law/2#1: stored result" "$T/out"
rm -f calls
rm per/math.csv.gz per/named.jsonl
em --json r.json
assert_calls 0
assert_json r.json '[.suites[0].tasks[].id]' '["1","2"]'

# ---------------------------------------------------------------------------
# pandas writes a choice holding a character Python does not print (a
# no-break space, a C1 control of mojibake: MMLU's professional_law has
# "dismiss \x80\x93 the plaintiff") as \xNN, \uNNNN or \UNNNNNNNN in the
# list literal

try "a list literal's \\x, \\u and \\U escapes are the characters they name"
mkcatagent
cat >mc.csv <<'C'
question,choices,answer
Pick one.,"['a\xa0b', 'dismiss \x80\x93 the', 'it\u2019s', 'smile \U0001f600', 'f\\x41']",0
C
printf '{{choices}}\n' >mc.md
cat >Evalfile <<'Y'
suites:
  mc:
    tasks: mc.csv
    fields: {choices: choices, expected: answer}
    prompt: mc.md
    agent: {command: ./agent.sh}
    grader: {type: choice}
Y
em --json r.json
assert_rc 0
assert_calls 1
em log mc/1#1
checks "\\xa0 is a no-break space" 'grep -qxF "A) a$(printf "\xc2\xa0")b" "$T/out"'
checks "\\x80\\x93 are U+0080 U+0093" 'grep -qxF "B) dismiss $(printf "\xc2\x80\xc2\x93") the" "$T/out"'
checks "\\u2019 is a right single quote" 'grep -qxF "C) it$(printf "\xe2\x80\x99")s" "$T/out"'
checks "\\U0001f600 is one emoji" 'grep -qxF "D) smile $(printf "\xf0\x9f\x98\x80")" "$T/out"'
checks "an escaped backslash stays one" 'grep -qxF "E) f\\x41" "$T/out"'

try "a list literal escaping a NUL or half a surrogate pair is refused, naming file:line"
mkcatagent
cat >mc.csv <<'C'
question,choices,answer
Fine.,"['a', 'b']",0
Pick one.,"['a\x00b', 'c']",0
C
printf '{{choices}}\n' >mc.md
cat >Evalfile <<'Y'
suites:
  mc:
    tasks: mc.csv
    fields: {choices: choices, expected: answer}
    prompt: mc.md
    agent: {command: ./agent.sh}
    grader: {type: choice}
Y
em
assert_refused "mc.csv:3:" "'choices'"
sed -i 's/a\\x00b/a\\ud83db/' mc.csv
grep -qF 'a\ud83db' mc.csv || fail "sed did not write the surrogate"
em
assert_refused "mc.csv:3:" "'choices'"

# ---------------------------------------------------------------------------
# a suite that maps `choices` to a field some task lacks

try "a mapped choices field a task lacks is refused before any agent runs, naming file:line and the field"
mkcatagent
cat >mc.csv <<'C'
question,options,answer
Q1,"['x', 'y']",1
Q2,,1
C
printf '{{task.question}}\n{{choices}}\n' >mc.md
cat >Evalfile <<'Y'
suites:
  mc:
    tasks: mc.csv
    fields: {choices: options, expected: answer}
    prompt: mc.md
    agent: {command: ./agent.sh}
    grader: {type: choice}
Y
em
assert_refused "mc.csv:3:" "'options'"
# the same without {{choices}} in the prompt: the grader would guess
# letters without the choices
printf '{{task.question}}\n' >mc.md
rm -rf calls cache
em
assert_refused "mc.csv:3:" "'options'"
# and when the file still has a column named choices, it is not taken
# instead of the mapped one
sed -i '1s/.*/question,options,answer,choices/; 2,3s/$/,"[1, 2]"/' mc.csv
rm -rf calls cache
em
assert_refused "mc.csv:3:" "'options'"

try "{{choices}} for a task without choices names the task's file:line"
mkcatagent
cat >q.csv <<'C'
question,answer
Q1,1
C
printf '{{task.question}}\n{{choices}}\n' >mc.md
cat >Evalfile <<'Y'
suites:
  mc:
    tasks: q.csv
    prompt: mc.md
    agent: {command: ./agent.sh}
    grader: {type: exact}
Y
em
assert_refused "q.csv:2:" "mc.md:2"

summary
