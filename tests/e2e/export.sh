#!/usr/bin/env bash
# End-to-end tests of `evalmake export`: each format's lines validate
# against its schema (python3's json and explicit checks of the OpenAI
# fine-tuning, preference and RL reward shapes), --min-score 1 keeps only
# passing cells, only cached and graded cells are exported (never an
# error, never a cell that would run; nothing runs), the order is fixed
# (suite, task, iteration), a model agent's system prompt and turns are
# the messages, and a declared key never reaches the file.
#
#   EVALMAKE=/abs/path/to/evalmake MODELSERVER=/abs/path/to/modelserver bash tests/e2e/export.sh
#
# Needs: bash, coreutils, jq, python3, pgrep, timeout.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

need_modelserver export.sh
command -v python3 >/dev/null || { echo "export.sh: needs python3" >&2; exit 2; }
KEY=sk-test-EXPORTSECRET-99
unset EMKEY

start_modelserver export.sh
OPENAI_URL=http://127.0.0.1:$PORT/v1

# a suite of 4 tasks x 5 iterations: t1 passes 3 times, t2 once, t3
# always, t4 never (the agent also prints $LEAK, a key once declared)
mkfixture() {
	cat >agent.sh <<'EOF'
#!/bin/sh
echo "$EVAL_TASK#$EVAL_ITERATION" >>calls
[ -f fail ] && [ "$(cat fail)" = "$EVAL_TASK#$EVAL_ITERATION" ] && exit 3
case "$EVAL_TASK:$EVAL_ITERATION" in t1:[123]|t2:1|t3:*) echo right ;; *) echo "wrong ${LEAK:-}" ;; esac
EOF
	chmod +x agent.sh
	for t in 1 2 3 4; do echo "{\"id\":\"t$t\",\"input\":\"question $t\",\"expected\":\"right\"}"; done >tasks.jsonl
	cat >Evalfile <<'EOF'
suites:
  s:
    tasks: tasks.jsonl
    iterations: 5
    agent: {command: ./agent.sh}
    grader: {type: exact}
EOF
}

# schema FORMAT FILE: every line of FILE is valid JSON of FORMAT's shape
schema() {
	python3 - "$1" "$2" >"$T/schema" 2>&1 <<'EOF' || fail "$2 is not valid $1 JSONL: $(head -c 400 "$T/schema")"
import json, sys
fmt, path = sys.argv[1], sys.argv[2]
def msgs(m, final_assistant):
    assert isinstance(m, list) and m, "messages: a non-empty list"
    for x in m:
        assert set(x) == {"role", "content"}, x
        assert x["role"] in ("system", "user", "assistant"), x
        assert isinstance(x["content"], str), x
    roles = [x["role"] for x in m]
    if final_assistant:
        assert roles[-1] == "assistant" and roles[-2] == "user", roles
    else:
        assert roles[-1] == "user", roles
lines = open(path).read().split("\n")
assert lines[-1] == "", "ends with a newline"
for l in lines[:-1]:
    o = json.loads(l)
    if fmt == "chat":
        assert set(o) == {"messages"}, o.keys()
        msgs(o["messages"], True)
    elif fmt == "preference":
        assert set(o) == {"input", "preferred_output", "non_preferred_output"}, o.keys()
        assert set(o["input"]) == {"messages"}
        msgs(o["input"]["messages"], False)
        for k in ("preferred_output", "non_preferred_output"):
            assert len(o[k]) == 1 and o[k][0]["role"] == "assistant" and isinstance(o[k][0]["content"], str), o[k]
        assert o["preferred_output"] != o["non_preferred_output"]
    else:
        assert set(o) == {"prompt", "completion", "reward", "cell", "key"}, o.keys()
        assert isinstance(o["prompt"], str) and isinstance(o["completion"], str) and isinstance(o["cell"], str)
        assert isinstance(o["reward"], (int, float)) and 0 <= o["reward"] <= 1
        assert len(o["key"]) == 32 and all(c in "0123456789abcdef" for c in o["key"])
print(len(lines) - 1)
EOF
}

try "export: each format validates against its schema"
mkfixture
em
assert_rc 0
for f in chat preference rewards; do
	em export --format $f -o $f.jsonl
	assert_rc 0
	schema $f $f.jsonl
done
checks "chat: one line per graded cell" '[ "$(wc -l <chat.jsonl)" = 20 ]'
checks "rewards: one line per graded cell" '[ "$(wc -l <rewards.jsonl)" = 20 ]'
checks "chat: the prompt is the user turn, the output the assistant's" \
	'[ "$(head -n1 chat.jsonl | jq -c "[.messages[].role, .messages[0].content, .messages[1].content]")" = "[\"user\",\"assistant\",\"question 1\",\"right\\n\"]" ]'
# preference: the tasks whose outputs differ (t1, t2); t3, t4 agree
checks "preference: a pair per task whose outputs differ" '[ "$(wc -l <preference.jsonl)" = 2 ]'
checks "preference: preferred is the passing output" \
	'[ "$(jq -r ".preferred_output[0].content | rtrimstr(\"\\n\")" preference.jsonl | sort -u)" = right ]'
checks "preference: of the same prompt" \
	'[ "$(jq -r ".input.messages[0].content" preference.jsonl | tr "\n" ,)" = "question 1,question 2," ]'
check "the summary goes to stderr" grep -q "exported 20 lines from 20 graded cells" "$T/err"

try "export: --min-score 1 exports only passing cells; rewards are the scores"
mkfixture
em -s
em export --format chat --min-score 1 -o -
assert_rc 0
cp "$T/out" pass.jsonl
schema chat pass.jsonl
checks "9 passing cells (3 + 1 + 5)" '[ "$(wc -l <pass.jsonl)" = 9 ]'
checks "only passing outputs" '[ "$(jq -r ".messages[-1].content | rtrimstr(\"\\n\")" pass.jsonl | sort -u)" = right ]'
em export --format rewards --min-score 1 -o r.jsonl
checks "rewards: every reward 1" '[ "$(jq -r .reward r.jsonl | sort -u)" = 1 ]'
em export --format rewards -o all.jsonl
checks "rewards: the cell's score" '[ "$(jq -r "select(.cell == \"s/t1#4\") | .reward" all.jsonl)" = 0 ]'
checks "rewards: key is the cell's run key in the JSON report" \
	'em -s --json rep.json; [ "$(jq -r "select(.cell == \"s/t2#1\") | .key" all.jsonl)" = "$(jq -r ".suites[0].tasks[1].cells[0].key" rep.json)" ]'

try "export: deterministic order (suite, task, iteration), the same bytes twice"
mkfixture
cat >>Evalfile <<'EOF'
  a:
    tasks: tasks.jsonl
    iterations: 2
    agent: {command: ./agent.sh}
    grader: {type: exact}
EOF
em -s -j 4
em export --format rewards -o one.jsonl
em export --format rewards -o two.jsonl
check "the same bytes" cmp one.jsonl two.jsonl
jq -r .cell one.jsonl >cells
{
	for t in 1 2 3 4; do for i in 1 2 3 4 5; do echo "s/t$t#$i"; done; done
	for t in 1 2 3 4; do for i in 1 2; do echo "a/t$t#$i"; done; done
} >want
check "suites in Evalfile order, tasks, iterations" cmp cells want
em export --format chat -o t.jsonl a/t2
checks "targets select cells" '[ "$(wc -l <t.jsonl)" = 2 ]'

try "export: never an error, never a cell that would run; runs nothing"
mkfixture
echo 't2#1' >fail
em -s -k
rm fail
n=$(ncalls)
printf 'question 5\n' >/dev/null
echo '{"id":"t5","input":"question 5","expected":"right"}' >>tasks.jsonl
em export --format rewards -o r.jsonl
assert_rc 0
assert_calls "$n"
checks "19 cells: not the errored one, not the new task's" '[ "$(wc -l <r.jsonl)" = 19 ]'
check "no errored cell" ! grep -q 's/t2#1' r.jsonl
check "no cell that has not run" ! grep -q 's/t5' r.jsonl
check "says what it left out" grep -q "6 cells left out" "$T/err"
# a grader changed: cached outputs not graded for it are left out too
sed -i 's/type: exact}/type: contains}/' Evalfile
em export --format rewards -o g.jsonl
checks "nothing graded for the new grader" '[ ! -s g.jsonl ]'
assert_calls "$n"

try "export: a model agent's system prompt and turns are the messages"
cat >tasks.jsonl <<'EOF'
{"id": "m1", "input": "REPLY: forty-two", "expected": "forty-two"}
{"id": "m2", "input": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "REPLY: hi"}], "expected": "hi"}
EOF
cat >Evalfile <<EOF
suites:
  m:
    tasks: tasks.jsonl
    agent: {provider: openai, model: m1, base_url: "$OPENAI_URL", api_key_env: EMKEY, system: "You are terse.", retries: 1}
    grader: {type: exact, trim: true}
EOF
EMKEY=$KEY em -s
assert_rc 0
EMKEY=$KEY em export --format chat -o c.jsonl
schema chat c.jsonl
checks "m1: system, user, assistant" \
	'[ "$(jq -c "[.messages[].role]" c.jsonl | head -n1)" = "[\"system\",\"user\",\"assistant\"]" ]'
checks "m1: the agent's system prompt and the answer" \
	'[ "$(jq -r "[.messages[0].content, .messages[2].content] | join(\"|\")" c.jsonl | head -n1)" = "You are terse.|forty-two" ]'
checks "m2: the task's own turns after the system prompt" \
	'[ "$(jq -c "[.messages[].role]" c.jsonl | sed -n 2p)" = "[\"system\",\"system\",\"user\",\"assistant\"]" ]'
EMKEY=$KEY em export --format rewards -o r.jsonl
schema rewards r.jsonl

try "export: a declared key never reaches the file, even from a cache written before it was declared"
mkfixture
LEAK=$KEY em -s
checks "the cache holds it (it was not declared then)" 'grep -rqF "$KEY" cache || entrytext | grep -qF "$KEY"'
cat >>Evalfile <<EOF
  m:
    tasks: tasks.jsonl
    agent: {provider: openai, model: m1, base_url: "$OPENAI_URL", api_key_env: EMKEY}
EOF
for f in chat preference rewards; do
	EMKEY=$KEY em export --format $f -o $f.jsonl s
	assert_rc 0
	check "$f: no key" ! grep -qF "$KEY" $f.jsonl
	check "$f: redacted" grep -qF "[redacted]" $f.jsonl
done

try "export: usage errors exit 2 and write nothing"
mkfixture
em -s
em export --format csv -o x.jsonl
assert_rc 2
check "names the formats" grep -q "chat, preference or rewards" "$T/err"
check "no file" test ! -e x.jsonl
em export --format chat
assert_rc 2
check "asks for -o" grep -q -- "-o FILE" "$T/err"
em export -o x.jsonl
assert_rc 2
em export --format chat -o x.jsonl --min-score 2
assert_rc 2
check "no file" test ! -e x.jsonl
em export --format chat -o x.jsonl nosuch
assert_rc 2
check "no file" test ! -e x.jsonl
em help export
check "help names the formats" grep -q "preference" "$T/out"

try "export: help, man page and bash completion know it"
mkfixture
ROOT=$(cd "$HERE/../.." && pwd)
cat >"$T/comp.sh" <<EOF
source "$ROOT/completion/evalmake.bash"
COMP_WORDS=("$E" exp); COMP_CWORD=1; _evalmake; echo "cmd: \${COMPREPLY[*]}"
COMP_WORDS=("$E" export --fo); COMP_CWORD=2; _evalmake; echo "opt: \${COMPREPLY[*]}"
COMP_WORDS=("$E" export --format p); COMP_CWORD=3; _evalmake; echo "fmt: \${COMPREPLY[*]}"
COMP_WORDS=("$E" export --format chat -o x s/t1#); COMP_CWORD=6; _evalmake; echo "tgt: \${COMPREPLY[*]}"
EOF
bash "$T/comp.sh" >"$T/out" 2>"$T/err"
check "the command" grep -qw "^cmd: .*export" "$T/out"
check "its option" grep -q '^opt: --format$' "$T/out"
check "the formats" grep -q '^fmt: preference$' "$T/out"
check "targets after -o FILE" grep -q '^tgt: s/t1#1 ' "$T/out"
check "the man page" grep -q '^\.RI "export' "$ROOT/evalmake.1"
em --help
check "the usage names it" grep -q "evalmake export --format" "$T/out"
em status --format chat
assert_rc 2
check "other commands refuse --format" grep -q "it is an option of export" "$T/err"

finish
summary
