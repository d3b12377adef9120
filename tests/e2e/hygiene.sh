#!/usr/bin/env bash
# End-to-end tests of evalmake's hygiene with hostile inputs: API keys an
# agent prints (every form, every place evalmake stores or prints), task
# ids and fields that would break the lock or the reports, special files
# matched by a task glob, and the caps on iterations and cells.
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/hygiene.sh
#
# Needs: bash, coreutils, jq, python3.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

if ! command -v python3 >/dev/null; then
	echo "hygiene.sh: needs python3 (bash .ci/deps installs it)" >&2
	exit 2
fi

# ---------------------------------------------------------------------------
# helpers

# the JSON embedded in a report page, to stdout
pagejson() {
	python3 -c '
import json, re, sys
page = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r"<script type=\"application/json\" id=\"data\">(.*?)</script>", page, re.S)
json.dump(json.loads(m.group(1)), sys.stdout)' "$1"
}

# a JSON file parses with jq and with python3 (strict UTF-8)
valid_json() {
	jq -e . "$1" >/dev/null 2>&1 && python3 -c 'import json, sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$1"
}

# ---------------------------------------------------------------------------
# keys an agent prints

# keys of every shape: a quote, a backslash, a slash and a space (escaped
# differently in JSON and in URLs), and a plain long one
export HYKEY_A='sk-"quo\te/d key-0123456789'
export HYKEY_B='plain-judge-key-abcdefghijklmnop'
export HYKEY_C='sk-ant-0123456789abcdef'
export HYKEY_SHORT='abc12'

# every form of a key that must not appear: raw, JSON-escaped, URL-encoded
keyforms() {
	python3 -c '
import json, os, urllib.parse
for name in ("HYKEY_A", "HYKEY_B", "HYKEY_C"):
    k = os.environ[name]
    for f in (k, json.dumps(k)[1:-1], urllib.parse.quote(k, safe=""), urllib.parse.quote(k, safe="").lower()):
        print(f)' | sort -u
}

# no form of any key in the files given (folders searched whole)
no_key_in() {
	local forms hits
	forms=$(mktemp "$TOP/forms.XXXXXX")
	keyforms >"$forms"
	hits=$(grep -rlaF -f "$forms" -- "$@" 2>/dev/null)
	# the cache's compressed entries, decompressed
	for f in "$@"; do
		for c in "$f/cache" "$f"; do
			[ -f "$c/index.db" ] && entrytext "$c" | grep -qaF -f "$forms" && hits="$hits $c/index.db"
		done
	done
	[ -z "$hits" ] || {
		fail "a key is stored or printed in: $hits"
		return 1
	}
}

mkkeyproject() {
	mkdir -p tasks agents
	printf '{"id": "t1", "input": "one", "expected": "one"}\n{"id": "t2", "input": "two", "expected": "zwei"}\n' >tasks/qa.jsonl
	# prints its environment every way an agent might: as text, as JSON,
	# URL-encoded; on stdout, stderr and in an artifact; then fails for t2
	cat >agents/leaky.sh <<'EOF'
#!/bin/sh
env >&2
python3 - <<'PY'
import json, os, sys, urllib.parse
env = {k: v for k, v in os.environ.items() if k.startswith("HYKEY")}
print(json.dumps(env))
for v in env.values():
    print(urllib.parse.quote(v, safe=""), urllib.parse.quote(v, safe="").lower())
with open(os.path.join(os.environ["EVAL_OUT_DIR"], "env.json"), "w") as f:
    json.dump(env, f)
PY
cat >/dev/null
if [ "$EVAL_TASK" = t2 ]; then printf 'failing with %s and %s\n' "$HYKEY_A" "$HYKEY_C" >&2; exit 3; fi
EOF
	chmod +x agents/leaky.sh
	cat >agents/grade.sh <<'EOF'
#!/bin/sh
cat >/dev/null
printf '0.5 reason: %s %s\n' "$HYKEY_B" "$HYKEY_A"
EOF
	chmod +x agents/grade.sh
	cat >Evalfile <<'EOF'
suites:
  leak:
    tasks: tasks/qa.jsonl
    agent: {command: ./agents/leaky.sh}
    grader: {type: command, command: ./agents/grade.sh}
  # never run here: these suites only declare the keys (an agent's and a
  # judge's api_key_env, and a default provider variable)
  model:
    tasks: tasks/qa.jsonl
    agent: {provider: openai, model: m, base_url: "http://127.0.0.1:9", api_key_env: HYKEY_A}
  judged:
    tasks: tasks/qa.jsonl
    agent: {command: ./agents/leaky.sh}
    grader: {type: judge, provider: openai, model: j, base_url: "http://127.0.0.1:9", api_key_env: HYKEY_B, rubric: agents/grade.sh}
  claude:
    tasks: tasks/qa.jsonl
    agent: {provider: anthropic, model: m, base_url: "http://127.0.0.1:9"}
EOF
}

try "keys an agent prints are stored and printed nowhere, in no form"
mkkeyproject
export ANTHROPIC_API_KEY=$HYKEY_C
em -k leak --json r.json
assert_rc 1
grep -q '\[redacted\]' "$T/err" || fail "the failing cell's message is not redacted"
cp "$T/out" "$T/err" .
em -k leak --json r2.json # cached now: the table's FAIL lines
cp "$T/out" out2
em check -k leak --junit j.xml --markdown m.md --json r3.json
cp "$T/out" out3
cp "$T/err" err3
em log leak/t1#1
cp "$T/out" log1
grep -q '\[redacted\]' log1 || fail "log shows no redaction marker"
grep -q 'reason: \[redacted\]' log1 || fail "the grade's reason is not redacted"
em log leak/t2#1
cp "$T/out" log2
em report --html page.html leak
cp "$T/out" out4
em status --json st.json leak
no_key_in . "$T"
for f in r.json r2.json r3.json st.json; do
	valid_json "$f" || fail "$f is not valid JSON"
done
checks "the page's data parses" "pagejson page.html >/dev/null"
grep -q '\[redacted\]' cache/runs/*/*/artifacts/env.json || fail "the artifact is not redacted"
unset ANTHROPIC_API_KEY

try "the output graded is the output stored: a re-grade finds the same score"
mkkeyproject
export ANTHROPIC_API_KEY=$HYKEY_C
cat >agents/echo.sh <<'EOF'
#!/bin/sh
cat >/dev/null
printf '%s\n' "$HYKEY_A"
EOF
chmod +x agents/echo.sh
printf '{"id": "k", "input": "x", "expected": "[redacted]"}\n' >tasks/k.jsonl
cat >>Evalfile <<'EOF'
  echo:
    tasks: tasks/k.jsonl
    agent: {command: ./agents/echo.sh}
    grader: {type: exact}
EOF
em echo --json r.json
assert_rc 0
assert_json r.json '.suites[0].score' 1
no_key_in .
unset ANTHROPIC_API_KEY

try "a key too short to redact is reported once, and not redacted"
mkkeyproject
sed -i 's/api_key_env: HYKEY_A/api_key_env: HYKEY_SHORT/' Evalfile
em -n leak
assert_rc 0
checks "one warning naming the variable" '[ "$(grep -c "HYKEY_SHORT" "$T/err")" = 1 ]'
grep -q "NOT redacted" "$T/err" || fail "the warning does not say the key is not redacted"

# ---------------------------------------------------------------------------
# ids and fields that would break the lock and the reports

try "an id with a line break is refused at load, naming the file and line"
mkdir tasks
printf '{"id": "ok", "input": "x"}\n{"id": "a\\nb", "input": "x"}\n' >tasks/q.jsonl
printf 'suites:\n  s:\n    tasks: tasks/q.jsonl\n    agent: {command: cat}\n' >Evalfile
bad_input 'tasks/q.jsonl:2: task id .* control character'

try "an id that is not valid UTF-8 is refused at load"
mkdir tasks
printf '{"id": "caf\xe9", "input": "x"}\n' >tasks/q.jsonl
printf 'suites:\n  s:\n    tasks: tasks/q.jsonl\n    agent: {command: cat}\n' >Evalfile
bad_input 'tasks/q.jsonl:1: task id .* not valid UTF-8'

try "ids with '#' (it ends a cell's task part) are refused; '/' (HumanEval/0) is a task id like any other"
mkdir tasks
printf 'suites:\n  s:\n    tasks: tasks/q.jsonl\n    agent: {command: cat}\n' >Evalfile
printf '{"id": "a#2", "input": "x", "expected": "x"}\n' >tasks/q.jsonl
bad_input "tasks/q.jsonl:1: task id 'a#2'"
printf '{"id": "HumanEval/0", "input": "x", "expected": "x"}\n{"id": "b", "input": "y", "expected": "y"}\n' >tasks/q.jsonl
em 's/HumanEval/0#1' --json r.json
assert_rc 0
check "the target SUITE/TASK#K with a '/' in the task runs that cell alone" jq -e '.ran == 1 and .suites[0].tasks[0].id == "HumanEval/0"' r.json
em log 's/HumanEval/0#1'
assert_rc 0

try "wrong-typed task fields are refused with file:line and the field"
mkdir tasks
printf 'suites:\n  s:\n    tasks: tasks/q.jsonl\n    agent: {command: cat}\n' >Evalfile
while IFS='|' read -r line want; do
	printf '{"id": "ok", "input": "x"}\n%s\n' "$line" >tasks/q.jsonl
	bad_input "tasks/q.jsonl:2: $want"
done <<'EOF'
{"id": "t", "input": [1, 2]}|field 'input': expected a string or a list of chat messages
{"id": "t", "input": {"role": "user"}}|field 'input'
{"id": "t", "input": [{"role": "user", "content": 3}]}|field 'input'
{"id": "t", "input": "x", "expected": 1e999}|field 'expected'
{"id": "t", "input": "x", "expected": {"a": 1}}|field 'expected'
{"id": "t", "input": "x", "ideal": [true]}|field 'ideal'
{"id": {}, "input": "x"}|field 'id': expected a non-empty string or an integer
{"id": 1.5, "input": "x"}|field 'id'
{"id": "", "input": "x"}|field 'id'
{"id": "t", "input": "x", "input": "y"}|key 'input' appears twice
{"id": "t", "input": {"a": 1, "a": 2}}|key 'a' appears twice
{"id": "t", "input": "cut\u0000here"}|a string holds \\u0000
EOF

try "a .json task's bad field names the line it is on"
mkdir tasks
printf '{\n  "input": "x",\n  "expected": [1, {"no": 1}]\n}\n' >tasks/a.json
printf 'suites:\n  s:\n    tasks: tasks/*.json\n    agent: {command: cat}\n' >Evalfile
bad_input "tasks/a.json:3: field 'expected'"

try "good fields still load: strings, integers, chat messages, lists of answers"
mkdir tasks
{
	printf '{"id": 7, "input": "x", "expected": ["x", 2]}\n'
	printf '{"id": "chat one", "input": [{"role": "user", "content": "x"}], "ideal": "x"}\n'
} >tasks/q.jsonl
printf 'suites:\n  s:\n    tasks: tasks/q.jsonl\n    agent: {command: cat}\n    grader: {type: contains}\n' >Evalfile
em --json r.json
assert_rc 0
assert_json r.json '.suites[0].score' 1
em lock
assert_rc 0
em check --locked
assert_rc 0

try "invalid UTF-8 in an output and an expected answer: every report is valid"
mkdir tasks
printf '{"id": "t1", "input": "x", "expected": "caf\xe9"}\n' >tasks/q.jsonl
printf '#!/bin/sh\nprintf "bad \\377\\376 bytes\\n"\n' >bad.sh
chmod +x bad.sh
printf 'suites:\n  s:\n    tasks: tasks/q.jsonl\n    agent: {command: ./bad.sh}\n' >Evalfile
em --json r.json
assert_rc 0
allparts output | grep -qa "bad" || fail "the output was not stored"
valid_json r.json || fail "--json is not valid JSON"
em report --html page.html
assert_rc 0
checks "the page's data parses as UTF-8 JSON" "pagejson page.html >/dev/null"
checks "the page shows U+FFFD for the bad bytes" "pagejson page.html | python3 -c 'import json, sys; assert \"bad \\ufffd\\ufffd bytes\" in json.dumps(json.load(sys.stdin), ensure_ascii=False)'"
em check --junit j.xml --markdown m.md --json r2.json
valid_json r2.json || fail "check --json is not valid JSON"
checks "the JUnit file parses" "python3 -c 'import xml.dom.minidom, sys; xml.dom.minidom.parse(sys.argv[1])' j.xml"
checks "the Markdown is valid UTF-8" "python3 -c 'import sys; open(sys.argv[1], encoding=\"utf-8\").read()' m.md"

try "an output holding a NUL byte is graded whole (the NUL stored as U+FFFD), not cut short there"
mkdir tasks
printf '{"id": "t1", "input": "x", "expected": "ab"}\n{"id": "t2", "input": "y", "expected": "cd"}\n' >tasks/q.jsonl
printf '#!/bin/sh\ncat >/dev/null\nprintf "ab\\000cd"\n' >nul.sh
chmod +x nul.sh
printf 'suites:\n  s:\n    tasks: tasks/q.jsonl\n    agent: {command: ./nul.sh}\n  c:\n    tasks: tasks/q.jsonl\n    agent: {command: ./nul.sh}\n    grader: {type: contains}\n' >Evalfile
em --json r.json
assert_rc 0
assert_json r.json '[.suites[] | {(.name): .score}] | add' '{"s":0,"c":1}'
checks "the table shows the whole output" 'grep -qF "got \"ab$(printf "\xef\xbf\xbd")cd\"" "$T/out"'
em log s/t1#1
checks "log shows the whole output" 'grep -qxF "ab$(printf "\xef\xbf\xbd")cd" "$T/out"'
em --json r.json
assert_json r.json '.ran' 0

# ---------------------------------------------------------------------------
# numbers and strings from a model server

# a one-file server on 127.0.0.1: token counts past any integer, and an
# answer holding \u0000 when the prompt says "nul"
cat >"$TOP/oddserver.py" <<'EOF'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        content = "a\\u0000b" if "nul" in body else "fine"
        out = ('{"model": "m", "choices": [{"message": {"role": "assistant", "content": "%s"}}], '
               '"usage": {"prompt_tokens": 1e300, "completion_tokens": -1e300}}' % content).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_port))
s.serve_forever()
EOF
python3 "$TOP/oddserver.py" "$TOP/odd.port" &
ODDPID=$!
stopodd() {
	[ -n "$ODDPID" ] || return 0
	kill -TERM "$ODDPID" 2>/dev/null
	wait "$ODDPID" 2>/dev/null
	ODDPID=""
}
trap 'stopodd; cleanup' EXIT
waitfor 10 "[ -s '$TOP/odd.port' ]" || echo "hygiene.sh: the test server did not start" >&2
ODDPORT=$(cat "$TOP/odd.port" 2>/dev/null)
export ODDKEY=odd-server-key-0123

# a suite of one task asking the server
oddproject() {
	mkdir tasks
	printf '{"id": "t1", "input": "%s", "expected": "fine"}\n' "$1" >tasks/q.jsonl
	printf 'suites:\n  m:\n    tasks: tasks/q.jsonl\n    agent: {provider: openai, model: m, base_url: "http://127.0.0.1:%s/v1", api_key_env: ODDKEY, retries: 0}\n' "$ODDPORT" >Evalfile
}

try "token counts past any integer are clamped, not cast as they are"
oddproject "x"
em --json r.json
assert_rc 0
assert_json r.json '.suites[0].score' 1
cat >"$T/tokens.py" <<'EOF'
import glob, re
t = open("meta.part", encoding="utf-8", errors="replace").read()
i = float(re.search(r'"input_tokens":\s*([-0-9.e+]+)', t).group(1))
o = float(re.search(r'"output_tokens":\s*([-0-9.e+]+)', t).group(1))
assert i == 1e15 and o == 0, (i, o)
EOF
allparts meta.json >meta.part
check "input tokens clamped to 1e15, output tokens to 0" python3 "$T/tokens.py"

try "an answer holding \\u0000 is an error, not a shorter answer"
oddproject "say nul"
em --json r.json
assert_rc 1
grep -q 'NUL character' "$T/err" || fail "the error does not name the NUL character"
assert_json r.json '.suites[0].tasks[0].cells[0].status' '"error"'
stopodd

# ---------------------------------------------------------------------------
# special files

try "a FIFO matched by a task glob is refused at once, not waited on"
mkdir tasks
mkfifo tasks/a.jsonl tasks/b.json
printf 'suites:\n  s:\n    tasks: tasks/a.jsonl\n    agent: {command: cat}\n' >Evalfile
bad_input "tasks/a.jsonl: cannot read: is a FIFO, not a regular file"
printf 'suites:\n  s:\n    tasks: tasks/b.json\n    agent: {command: cat}\n' >Evalfile
bad_input "tasks/b.json: cannot read: is a FIFO, not a regular file"

try "a task file linked to /dev/zero is refused, not read until memory runs out"
mkdir tasks
ln -s /dev/zero tasks/z.jsonl
ln -s /dev/zero tasks/y.json
printf 'suites:\n  s:\n    tasks: tasks/z.jsonl\n    agent: {command: cat}\n' >Evalfile
bad_input "tasks/z.jsonl: cannot read: is a character device, not a regular file"
printf 'suites:\n  s:\n    tasks: tasks/y.json\n    agent: {command: cat}\n' >Evalfile
bad_input "tasks/y.json: cannot read: is a character device, not a regular file"

try "a prompt that is a directory or a FIFO says so"
mkdir tasks prompt.md
echo '{"input": "x"}' >tasks/a.json
printf 'suites:\n  s:\n    tasks: tasks/a.json\n    prompt: prompt.md\n    agent: {command: cat}\n' >Evalfile
bad_input "Evalfile:4:[0-9]+: suites.s.prompt: 'prompt.md' is a directory, not a file"
rmdir prompt.md
mkfifo prompt.md
bad_input "suites.s.prompt: 'prompt.md' is not a regular file"

# ---------------------------------------------------------------------------
# caps

try "iterations past the cap are refused at load, naming file:line:col"
mkdir tasks
echo '{"input": "x", "expected": "x"}' >tasks/a.json
printf 'suites:\n  s:\n    tasks: tasks/a.json\n    iterations: 1000000\n    agent: {command: cat}\n' >Evalfile
bad_input "Evalfile:4:17: suites.s.iterations: expected an integer from 1 to 10000, got 1000000"
sed -i 's/1000000/10000/' Evalfile
em -n
assert_rc 0
printf 'suites:\n  s:\n    tasks: tasks/a.json\n    agent: {command: cat}\n' >Evalfile
em -n --iterations 1000000
assert_rc 2
grep -q -- "--iterations: at most 10000" "$T/err" || fail "--iterations is not capped"

try "tasks x iterations past the cap per suite is refused before planning"
mkdir tasks
seq 1 1001 | sed 's/.*/{"input": "&"}/' >tasks/q.jsonl
printf 'suites:\n  s:\n    tasks: tasks/q.jsonl\n    iterations: 10000\n    agent: {command: cat}\n' >Evalfile
bad_input "Evalfile:2:3: suite 's': 1001 tasks x 10000 iterations is 10010000 cells, past the limit of 10000000"

summary
