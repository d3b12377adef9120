#!/usr/bin/env bash
# End-to-end tests from the acceptance check of issue 9 on the real public
# data sets (GSM8K, HumanEval, MMLU as a Hugging Face CSV export, OpenAI
# evals few-shot samples): each case is a defect that check found, on a
# tiny inline excerpt of what the real files hold.
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/accept9.sh
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# an agent that logs each call to ./calls and prints its prompt
mkagent() {
	cat >agent.sh <<'A'
#!/bin/sh
echo "$EVAL_SUITE $EVAL_TASK" >>calls
cat
A
	chmod +x agent.sh
}

# exit 2, no agent called, nothing written, and stderr holds each string
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
# pandas writes a choice holding a character Python does not print (a
# no-break space, a C1 control of mojibake: MMLU's professional_law has
# "dismiss \x80\x93 the plaintiff") as \xNN, \uNNNN or \UNNNNNNNN in the
# list literal

try "a list literal's \\x, \\u and \\U escapes are the characters they name"
mkagent
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
mkagent
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
mkagent
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
mkagent
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

finish
summary
