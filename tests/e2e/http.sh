#!/usr/bin/env bash
# End-to-end tests of evalmake's model agents and judge grader over HTTP.
#
#   EVALMAKE=/abs/evalmake MODELSERVER=/abs/build/modelserver bash tests/e2e/http.sh
#
# One fake model server (tests/modelserver) runs for the whole file on a
# free port of 127.0.0.1; it is stopped by its pid when the file ends. Each
# case resets the server's counters (POST /_reset) and checks them (GET
# /_stats: "requests", by path, by fault) as well as evalmake's exit status
# and JSON report. The server answers "x" when the last user message holds a
# line "REPLY: x", and fails on purpose when it holds "FAULT:<type>".
# Needs: bash, coreutils, curl, jq, pgrep, timeout.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

need_modelserver http.sh
if ! command -v curl >/dev/null; then
	echo "http.sh: needs curl" >&2
	exit 2
fi

# the API key: its value must never be stored, reported or logged
KEY=sk-test-SECRET-1234
export EMKEY=$KEY
unset JUDGEKEY

# ---------------------------------------------------------------------------
# the model server: one for the whole file

start_modelserver http.sh
URL=http://127.0.0.1:$PORT
OPENAI_URL=$URL/v1   # + /chat/completions
ANTHROPIC_URL=$URL   # + /v1/messages

ms() { # ms METHOD PATH [BODY]: the server's answer on stdout
	if [ "$1" = POST ]; then
		curl -sS --max-time 5 -X POST -H 'Content-Type: application/json' -d "${3:-{\}}" "$URL$2"
	else
		curl -sS --max-time 5 "$URL$2"
	fi
}
msreset() {
	ms POST /_reset >/dev/null || fail "POST /_reset failed"
}
msfaults() {
	local out
	out=$(ms POST /_faults "$1") || fail "POST /_faults failed"
	jq -e '.queued' <<<"$out" >/dev/null 2>&1 || fail "POST /_faults $1: $out"
}
stats() { ms GET /_stats; }

# assert_stats NAME=VALUE...: one GET /_stats; each NAME is a key of its
# (flat enough) JSON: requests, ok, faulted, rejected, auth_headers, a path
# (/v1/chat/completions, /v1/messages), a fault (429, 500, drop, hang...),
# with_seed, with_temperature, last_temperature
assert_stats() {
	local s item name want got
	s=$(stats) || {
		fail "GET /_stats failed"
		return
	}
	for item; do
		name=${item%%=*} want=${item#*=} got=missing
		[[ $s =~ \"$name\":([^,\}]*) ]] && got=${BASH_REMATCH[1]}
		[ "$got" = "$want" ] || fail "server stats: $name is $got, expected $want"
	done
}
assert_requests() { assert_stats "requests=$1"; }
nrequests() {
	local s
	s=$(stats 2>/dev/null) && [[ $s =~ \"requests\":([0-9]+) ]] && echo "${BASH_REMATCH[1]}"
}

# jqcheck FILE FILTER WANT [FILTER WANT]...: each FILTER of the JSON in FILE
# equals the JSON value WANT; one jq run for all of them
jqcheck() {
	local f=$1 prog="" i=0 out line
	local -a what=()
	shift
	while [ $# -ge 2 ]; do
		what+=("$1, expected $2")
		prog+="${prog:+, }((try (($1) == ($2)) catch false) as \$ok | if \$ok then empty else \"$i \\(try ([$1] | if length == 1 then .[0] else . end) catch \"(error)\" | tojson)\" end)"
		i=$((i + 1))
		shift 2
	done
	if ! out=$(jq -r "$prog" "$f" 2>&1); then
		fail "jq on $f: $out"
		return
	fi
	while IFS= read -r line; do
		[ -n "$line" ] && fail "$f: ${what[${line%% *}]}, got ${line#* }"
	done <<<"$out"
}
cs() { cellsel "$@"; }                    # the filter of one cell (open paren!)
cscore() { printf '%s | .score)' "$(cellsel "$@")"; }
cstatus() { printf '%s | .status)' "$(cellsel "$@")"; }
cerror() { printf '%s | .error // "")' "$(cellsel "$@")"; }

# run evalmake, timed: $secs
tem() {
	local s=$EPOCHREALTIME
	em "$@"
	secs=$(awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
}
at_least() { # at_least SECS WHAT
	awk -v a="$secs" -v b="$1" 'BEGIN { exit !(a >= b) }' || fail "$2 took ${secs}s, expected at least $1 s"
}
at_most() {
	awk -v a="$secs" -v b="$1" 'BEGIN { exit !(a <= b) }' || fail "$2 took ${secs}s, expected at most $1 s"
}

# jqpart ENTRY NAME EXPR EXPECTED...: jqcheck on one part of an entry
jqpart() {
	local e=$1 n=$2
	shift 2
	part "$e" "$n" >part.json
	jqcheck part.json "$@"
}

# parts NAME: that part of every run entry, as a JSON array
parts() {
	local e
	allparts "$1" | jq -s .
}

entry() { # entry REPORT SUITE TASK K
	local k
	k=$(jq -r "$(cellsel "$2" "$3" "$4") | .key)" "$1" 2>/dev/null)
	printf 'cache/runs/%s/%s\n' "${k:0:2}" "$k"
}

# the key's value is nowhere in FILE... (or under a folder)
no_key_in() {
	local f
	for f in "$@"; do
		[ -e "$f" ] || continue
		if grep -rqF -- "$KEY" "$f"; then
			fail "the API key is in $f: $(grep -rlF -- "$KEY" "$f" | head -n 3 | tr '\n' ' ')"
		fi
		if [ -f "$f/index.db" ] && entrytext "$f" | grep -qaF -- "$KEY"; then
			fail "the API key is in an entry of $f/index.db"
		fi
	done
}

# tasks.jsonl with tasks t1..tN: input aI, expected aI
mktasks() {
	local i
	for ((i = 1; i <= $1; i++)); do
		printf '{"id": "t%d", "input": "a%d", "expected": "a%d"}\n' "$i" "$i" "$i"
	done >tasks.jsonl
}

# an Evalfile with one suite over tasks.jsonl and a prompt that makes the
# server echo each task's input:
#   mkevalfile PROVIDER [ITERATIONS] [RETRIES] [TIMEOUT] [SUITE]
mkevalfile() {
	local prov=$1 it=${2:-1} retries=${3:-1} timeout=${4:-20} suite=${5:-qa} base
	base=$OPENAI_URL
	[ "$prov" = anthropic ] && base=$ANTHROPIC_URL
	printf 'Answer with the word below.\nREPLY: {{input}}\n' >prompt.md
	cat >Evalfile <<EOF
cache: cache
suites:
  $suite:
    tasks: tasks.jsonl
    prompt: prompt.md
    iterations: $it
    timeout: $timeout
    agent:
      provider: $prov
      model: m1
      base_url: $base
      api_key_env: EMKEY
      retries: $retries
    grader: {type: exact}
EOF
}

# a project whose tasks ask for faults, without a prompt template: the
# input is sent as it is. mkfaulty RETRIES TIMEOUT 'INPUT'...: tasks f1, f2...
mkfaulty() {
	local retries=$1 timeout=$2 i=0 in
	shift 2
	: >tasks.jsonl
	for in in "$@"; do
		i=$((i + 1))
		printf '{"id": "f%d", "input": "%s", "expected": "ok"}\n' "$i" "$in" >>tasks.jsonl
	done
	cat >Evalfile <<EOF
suites:
  qa:
    tasks: tasks.jsonl
    timeout: $timeout
    agent:
      provider: openai
      model: m1
      base_url: $OPENAI_URL
      api_key_env: EMKEY
      retries: $retries
    grader: {type: exact}
EOF
}

# ---------------------------------------------------------------------------
# 1. incremental: requests only for cells whose inputs changed

try "openai: N cells make N requests; a rerun makes none"
msreset
mktasks 4
mkevalfile openai 2
em --json r.json
assert_rc 0
assert_stats requests=8 /v1/chat/completions=8 ok=8 with_seed=8
jqcheck r.json .ran 8 .errors 0 .cached 0 '[.suites[].tasks[].cells[].score] | unique' '[1]' \
	'.suites[0].score' 1 '.suites[0].cells_total' 8
check "8 entries in the cache" test "$(nruns)" = 8
msreset
em --json r.json
assert_rc 0
assert_requests 0
jqcheck r.json .ran 0 .cached 8 '[.suites[].tasks[].cells[].status] | unique' '["cached"]' '.suites[0].score' 1
em -q
assert_rc 0
assert_requests 0

try "openai: changing model reruns every cell; changing a param reruns every cell"
mktasks 4
mkevalfile openai 2
em
assert_rc 0
msreset
sed -i 's/model: m1$/model: m2/' Evalfile
em --json r.json
assert_rc 0
assert_requests 8
jqcheck r.json .ran 8 .cached 0
msreset
sed -i 's/^      retries: 1$/      retries: 1\n      params: {temperature: 0.2}/' Evalfile
em --json r.json
assert_rc 0
assert_stats requests=8 with_temperature=8 last_temperature=0.2
jqcheck r.json .ran 8
msreset
sed -i 's/temperature: 0.2/temperature: 0.7/' Evalfile
em --json r.json
assert_rc 0
assert_stats requests=8 last_temperature=0.7
msreset
sed -i 's/temperature: 0.7/temperature: 0.2/' Evalfile
em --json r.json
assert_rc 0
assert_requests 0 # back to a configuration already in the cache
jqcheck r.json .cached 8

try "openai: renaming the suite, retries or max_connections reruns nothing"
mktasks 4
mkevalfile openai 2
em
assert_rc 0
msreset
sed -i 's/^  qa:$/  renamed:/' Evalfile
em --json r.json
assert_rc 0
assert_requests 0
jqcheck r.json .cached 8 '.suites[0].name' '"renamed"' '.suites[0].score' 1
sed -i 's/^      retries: 1$/      retries: 2\n      max_connections: 3/' Evalfile
em --json r.json
assert_rc 0
assert_requests 0
jqcheck r.json .cached 8

try "openai: editing or adding a task runs that task's cells only"
mktasks 4
mkevalfile openai 2
em
msreset
sed -i 's/"input": "a3", "expected": "a3"/"input": "b3", "expected": "b3"/' tasks.jsonl
em --json r.json
assert_rc 0
assert_requests 2
jqcheck r.json .ran 2 "$(cstatus qa t3 1)" '"ran"' "$(cscore qa t3 2)" 1 "$(cstatus qa t2 1)" '"cached"'
msreset
printf '{"id": "t5", "input": "a1", "expected": "a1"}\n' >>tasks.jsonl
em --json r.json
assert_rc 0
assert_requests 2
jqcheck r.json "$(cscore qa t5 1)" 1 .errors 0 .ran 2 .cached 8

# ---------------------------------------------------------------------------
# 2. anthropic

try "anthropic: Messages API with x-api-key, anthropic-version and a default max_tokens"
msreset
mktasks 3
mkevalfile anthropic 2
em --json r.json
assert_rc 0
# the server answers 401 to a request without both headers
assert_stats requests=6 /v1/messages=6 ok=6 rejected=0
jqcheck r.json .ran 6 '[.suites[].tasks[].cells[].score] | unique' '[1]'
d=$(entry r.json qa t2 1)
jqpart "$d" request.json .max_tokens 1024 .model '"m1"' 'has("seed")' false \
	'.messages' '[{"role": "user", "content": "Answer with the word below.\nREPLY: a2\n"}]'
checks "the answer" "part '$d' output | grep -qx a2"
msreset
em --json r.json
assert_rc 0
assert_requests 0
jqcheck r.json .cached 6
msreset
sed -i 's/model: m1$/model: claude-x/' Evalfile
em --json r.json
assert_rc 0
assert_requests 6
jqpart "$(entry r.json qa t1 1)" meta.json .model '"claude-x-served"'

try "anthropic: system is a top-level field; params.max_tokens wins over the default"
msreset
mktasks 1
mkevalfile anthropic 1
sed -i 's/^      retries: 1$/      retries: 1\n      system: "You are terse."\n      params: {max_tokens: 77}/' Evalfile
em --json r.json
assert_rc 0
assert_requests 1
jqpart "$(entry r.json qa t1 1)" request.json .system '"You are terse."' '[.messages[].role]' '["user"]' .max_tokens 77
jqcheck r.json "$(cscore qa t1 1)" 1

try "a system prompt file: its content is sent, and editing it reruns the cells"
msreset
mktasks 2
mkevalfile openai 1
printf 'You answer in one word.\n' >system.md
sed -i 's/^      retries: 1$/      retries: 1\n      system: system.md/' Evalfile
em --json r.json
assert_rc 0
assert_requests 2
jqpart "$(entry r.json qa t1 1)" request.json '.messages[0]' '{"role": "system", "content": "You answer in one word.\n"}'
msreset
printf 'You answer in two words.\n' >system.md
em --json r.json
assert_rc 0
assert_requests 2
jqcheck r.json .ran 2

# ---------------------------------------------------------------------------
# 3. a task's own chat messages

try "a task whose input is a list of chat messages is sent as messages (openai and anthropic)"
msreset
cat >tasks.jsonl <<'EOF'
{"id": "c1", "input": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "REPLY: first"}, {"role": "assistant", "content": "first"}, {"role": "user", "content": "REPLY: second"}], "expected": "second"}
{"id": "c2", "input": [{"role": "user", "content": "REPLY: only"}], "expected": "only"}
EOF
cat >Evalfile <<EOF
suites:
  oa:
    tasks: tasks.jsonl
    agent: {provider: openai, model: m1, base_url: "$OPENAI_URL", api_key_env: EMKEY, retries: 1}
  an:
    tasks: tasks.jsonl
    agent: {provider: anthropic, model: m1, base_url: "$ANTHROPIC_URL", api_key_env: EMKEY, retries: 1}
EOF
em --json r.json
assert_rc 0
assert_stats requests=4 /v1/chat/completions=2 /v1/messages=2
jqcheck r.json "$(cscore oa c1 1)" 1 "$(cscore oa c2 1)" 1 "$(cscore an c1 1)" 1 "$(cscore an c2 1)" 1
jqpart "$(entry r.json oa c1 1)" request.json '[.messages[] | .role]' '["system", "user", "assistant", "user"]' \
	'.messages[3].content' '"REPLY: second"'
jqpart "$(entry r.json an c1 1)" request.json .system '"Be brief."' '[.messages[] | .role]' '["user", "assistant", "user"]'
msreset
em
assert_rc 0
assert_requests 0

# ---------------------------------------------------------------------------
# 4. retries

try "two 429s with Retry-After: 1, then a 500: retried, the run succeeds"
msreset
mktasks 1
mkevalfile openai 1 3
msfaults '{"faults": [{"type": 429, "count": 2, "retry_after": 1}, {"type": 500}]}'
tem --json r.json
assert_rc 0
assert_stats requests=4 429=2 500=1 ok=1
at_least 1.95 "two waits of Retry-After: 1"
jqcheck r.json "$(cstatus qa t1 1)" '"ran"' "$(cscore qa t1 1)" 1
jqpart "$(entry r.json qa t1 1)" meta.json .attempts 4
em log 'qa/t1#1'
assert_rc 0
checks "log: the first attempt's 429" "grep -E 'attempt 1.*429' '$T/out'"
checks "log: the 500" "grep -E 'attempt 3.*500' '$T/out'"
checks "log: the fourth attempt" "grep -E 'attempt 4' '$T/out'"
msreset
em
assert_rc 0
assert_requests 0

try "Retry-After as an HTTP date is honoured"
msreset
mktasks 1
mkevalfile openai 1 1
when=$(date -u -d '+3 seconds' '+%a, %d %b %Y %H:%M:%S GMT')
msfaults "{\"faults\": [{\"type\": \"429\", \"retry_after\": \"$when\"}]}"
tem --json r.json
assert_rc 0
assert_stats requests=2 429=1
at_least 0.95 "a Retry-After date 2-3 s ahead" # backoff alone waits 0.25-0.75 s
jqcheck r.json "$(cscore qa t1 1)" 1
em log 'qa/t1#1'
checks "log: the wait follows the date" "grep -E 'retrying in [1-9]' '$T/out'"

try "a Retry-After date in the past retries soon"
msreset
mktasks 1
mkevalfile openai 1 1
msfaults '{"faults": [{"type": "429", "retry_after": "Wed, 21 Oct 2015 07:28:00 GMT"}]}'
em --json r.json
assert_rc 0
assert_requests 2
jqcheck r.json "$(cscore qa t1 1)" 1
em log 'qa/t1#1'
checks "log: a short wait" "grep -E 'retrying in 0\.' '$T/out'"

# ---------------------------------------------------------------------------
# 5. failures

try "a server that always fails (500): cells are errors, exit 1, nothing cached, the next run tries again"
msreset
mkfaulty 1 20 'REPLY: ok FAULT:500' 'REPLY: ok'
em -k --json r.json
assert_rc 1
assert_stats requests=3 500=2 # 2 attempts of f1, 1 of f2
jqcheck r.json .errors 1 .ran 1 "$(cstatus qa f1 1)" '"error"' "$(cscore qa f1 1)" null \
	"$(cerror qa f1 1) | test(\"500\") and test(\"internal server error\")" true \
	"$(cscore qa f2 1)" 1
check "one entry in the cache (the good cell)" test "$(nruns)" = 1
msreset
em -k --json r.json
assert_rc 1
assert_requests 2
jqcheck r.json .errors 1 .cached 1
check "still one entry in the cache" test "$(nruns)" = 1
em status --json s.json
jqcheck s.json "$(cstatus qa f1 1)" '"pending"' "$(cstatus qa f2 1)" '"cached"'

try "a 400 fails at once, without retrying, with the server's message"
msreset
mkfaulty 3 20 'FAULT:400'
em --json r.json
assert_rc 1
assert_stats requests=1 400=1
jqcheck r.json .errors 1 "$(cerror qa f1 1) | test(\"400\") and test(\"bad request: injected\")" true
checks "the server's message on stdout or stderr" "grep -q 'bad request: injected' '$T/out' '$T/err'"
check "nothing cached" test "$(nruns)" = 0

try "a refused key (401) fails at once, without retrying"
msreset
mktasks 1
mkevalfile openai 1 3
sed -i 's/api_key_env: EMKEY/api_key_env: OTHERKEY/' Evalfile
OTHERKEY=" " em --json r.json # a blank key reaches the server, which refuses it
case $rc in
1) assert_stats requests=1 rejected=1 ;;
2) assert_requests 0 ;; # refused before anything ran: as good
*) fail "exit status $rc, expected 1 (or 2)" ;;
esac

try "malformed JSON in a 200 is an error, not a crash"
msreset
mkfaulty 1 20 'FAULT:malformed'
em --json r.json
assert_rc 1
jqcheck r.json .errors 1 "$(cstatus qa f1 1)" '"error"' "$(cerror qa f1 1) | test(\"malformed|json|parse\"; \"i\")" true
checks "1 or 2 requests (retries: 1)" "n=\$(nrequests); [ \"\$n\" -ge 1 ] && [ \"\$n\" -le 2 ]"
check "nothing cached" test "$(nruns)" = 0

try "a truncated body is an error, not a crash"
msreset
mkfaulty 1 20 'FAULT:truncated'
em --json r.json
assert_rc 1
jqcheck r.json "$(cstatus qa f1 1)" '"error"' "$(cerror qa f1 1) | length > 0" true
checks "1 or 2 requests (retries: 1)" "n=\$(nrequests); [ \"\$n\" -ge 1 ] && [ \"\$n\" -le 2 ]"
check "nothing cached" test "$(nruns)" = 0

try "a dropped connection is retried, then an error"
msreset
mkfaulty 1 20 'FAULT:drop'
em --json r.json
assert_rc 1
assert_stats requests=2 drop=2
jqcheck r.json "$(cstatus qa f1 1)" '"error"' "$(cerror qa f1 1) | length > 0" true
check "nothing cached" test "$(nruns)" = 0

try "a hung server with timeout: 1 gives a timeout error (the timeout bounds all attempts)"
msreset
mkfaulty 1 1 'FAULT:hang'
tem --json r.json
assert_rc 1
assert_stats requests=1 hang=1
jqcheck r.json "$(cstatus qa f1 1)" '"error"' "$(cerror qa f1 1) | test(\"time\"; \"i\")" true
at_least 0.95 "an attempt of 1 s"
at_most 30 "an attempt of 1 s"
check "nothing cached" test "$(nruns)" = 0

try "a server that is not listening: an error after the retries, exit 1"
msreset
mktasks 1
mkevalfile openai 1 1
sed -i "s#base_url: .*#base_url: http://127.0.0.1:1/v1#" Evalfile # nobody listens on port 1
em --json r.json
assert_rc 1
jqcheck r.json "$(cstatus qa t1 1)" '"error"'
check "nothing cached" test "$(nruns)" = 0

try "a wrong path (404) fails at once with the server's message"
msreset
mktasks 1
mkevalfile openai 1 3
sed -i "s#base_url: .*#base_url: $URL/nowhere#" Evalfile
em --json r.json
assert_rc 1
assert_requests 0 # not an API path: the server does not count it
jqcheck r.json "$(cerror qa t1 1) | test(\"404\") and test(\"no such endpoint\")" true

# ---------------------------------------------------------------------------
# 6. the key stays secret

try "the API key appears nowhere: cache, reports, stdout/stderr, log, status"
# (the model server never echoes a key in an error body, so that part of the
# issue's check cannot be made here)
msreset
cat >tasks.jsonl <<'EOF'
{"id": "ok", "input": "REPLY: fine", "expected": "fine"}
{"id": "e500", "input": "FAULT:500", "expected": "x"}
{"id": "e400", "input": "FAULT:400", "expected": "x"}
{"id": "bad", "input": "FAULT:malformed", "expected": "x"}
EOF
printf 'Q: {{input}}\nA: {{output}}\nREPLY: SCORE: 1\n' >rubric.md
cat >Evalfile <<EOF
suites:
  qa:
    tasks: tasks.jsonl
    agent: {provider: openai, model: m1, base_url: "$OPENAI_URL", api_key_env: EMKEY, retries: 1}
    grader: {type: judge, provider: anthropic, model: j1, base_url: "$ANTHROPIC_URL", api_key_env: EMKEY, rubric: rubric.md, retries: 1}
  an:
    tasks: tasks.jsonl
    agent: {provider: anthropic, model: m1, base_url: "$ANTHROPIC_URL", api_key_env: EMKEY, retries: 1}
EOF
msfaults '{"faults": [{"type": 429, "retry_after": 0}]}'
em -k -v --json r.json
assert_rc 1
cp "$T/all" "$T/all1"
jqcheck r.json "$(cscore qa ok 1)" 1 "$(cscore an ok 1)" 1 .errors 6
em -k --json r2.json
em status --json s.json
em log 'qa/ok#1'
em log 'qa/e500#1'
em log 'an/e400#1'
em -n
em explain 'qa/ok#1'
check "the cache exists" test -d cache/runs
no_key_in cache r.json r2.json s.json "$T/all" "$T/all1"
assert_stats auth_headers=1 # the server did see the key (and keeps a hash)

# ---------------------------------------------------------------------------
# 7. a missing key

try "a missing API key variable: exit 2, the variable named, no request"
msreset
mktasks 2
mkevalfile openai 1
unset EMKEY
em --json r.json
assert_rc 2
checks "the message names EMKEY" "grep -q EMKEY '$T/err'"
assert_requests 0
check "no run entries" test "$(nruns)" = 0
EMKEY= em
assert_rc 2
checks "an empty key is missing too" "grep -q EMKEY '$T/err'"
assert_requests 0
export EMKEY=$KEY

try "a missing key of the judge: exit 2 naming it, no request (not even the agent's)"
msreset
mktasks 2
mkevalfile openai 1
printf 'REPLY: SCORE: 1\n{{output}}\n' >rubric.md
sed -i "s#grader: {type: exact}#grader: {type: judge, provider: openai, model: j, base_url: \"$OPENAI_URL\", api_key_env: JUDGEKEY, rubric: rubric.md}#" Evalfile
em
assert_rc 2
checks "the message names JUDGEKEY" "grep -q JUDGEKEY '$T/err'"
assert_requests 0

# ---------------------------------------------------------------------------
# 8. the judge grader

# agent over the OpenAI API, judge over the Anthropic API: the server's
# counters by path tell the agent's requests from the judge's
mkjudge() {
	cat >tasks.jsonl <<'EOF'
{"id": "j1", "input": "hello", "expected": "hello"}
{"id": "j2", "input": "world", "expected": "world"}
EOF
	printf 'REPLY: {{input}}\n' >prompt.md
	printf 'Grade the answer.\nQuestion: {{input}}\nAnswer: {{output}}\nExpected: {{expected}}\nREPLY: SCORE: 0.5\n' >rubric.md
	cat >Evalfile <<EOF
suites:
  qa:
    tasks: tasks.jsonl
    prompt: prompt.md
    agent: {provider: openai, model: m1, base_url: "$OPENAI_URL", api_key_env: EMKEY, retries: 1}
    grader:
      type: judge
      provider: anthropic
      model: judge-1
      base_url: $ANTHROPIC_URL
      api_key_env: EMKEY
      rubric: rubric.md
      retries: 1
EOF
}
AGENT=/v1/chat/completions
JUDGE=/v1/messages

try "judge: a SCORE: 0.5 line gives 0.5; a rerun asks nobody"
msreset
mkjudge
em --json r.json
assert_rc 0
assert_stats $AGENT=2 $JUDGE=2
jqcheck r.json "$(cscore qa j1 1)" 0.5 "$(cscore qa j2 1)" 0.5 '.suites[0].score' 0.5
msreset
em --json r.json
assert_rc 0
assert_requests 0
jqcheck r.json "$(cscore qa j1 1)" 0.5 .cached 2

try "judge: changing only the rubric or the judge re-grades without agent requests"
msreset
mkjudge
em
assert_rc 0
msreset
sed -i 's/REPLY: SCORE: 0.5/REPLY: SCORE: 1/' rubric.md
em --json r.json
assert_rc 0
assert_stats $AGENT=0 $JUDGE=2
jqcheck r.json "$(cscore qa j1 1)" 1 .ran 0
msreset
sed -i 's/Grade the answer./Grade the answer, strictly./; s/REPLY: SCORE: 1/REPLY: SCORE: 0.25/' rubric.md
em --json r.json
assert_rc 0
assert_stats $AGENT=0 $JUDGE=2
jqcheck r.json '.suites[0].score' 0.25
msreset
sed -i 's/model: judge-1/model: judge-2/' Evalfile
em --json r.json
assert_rc 0
assert_stats $AGENT=0 $JUDGE=2
jqcheck r.json '.suites[0].score' 0.25

try "judge: the rubric sees {{input}}, {{output}} and {{expected}}"
msreset
mkjudge
# the judge echoes what it was shown, and choices map that to a score
printf 'Question: {{input}}\nREPLY: {{output}}-{{expected}}-{{input}}\n' >rubric.md
sed -i 's/^      retries: 1$/      retries: 1\n      choices: {hello-hello-hello: 1, world-world-world: 0.5}/' Evalfile
em --json r.json
assert_rc 0
jqcheck r.json "$(cscore qa j1 1)" 1 "$(cscore qa j2 1)" 0.5

try "judge: choices {A: 1, B: 0} with a judge answering B gives 0"
msreset
mkjudge
printf 'Is it right? Answer A or B.\n{{output}}\nREPLY: B\n' >rubric.md
sed -i 's/^      retries: 1$/      retries: 1\n      choices: {A: 1, B: 0}/' Evalfile
em --json r.json
assert_rc 0
jqcheck r.json "$(cscore qa j1 1)" 0 "$(cscore qa j2 1)" 0
assert_stats $JUDGE=2
msreset
sed -i 's/REPLY: B/REPLY: A/' rubric.md
em --json r.json
assert_rc 0
jqcheck r.json "$(cscore qa j1 1)" 1
assert_stats $AGENT=0 $JUDGE=2

try "judge: an answer without a score is an error, not a score; the next run asks again"
msreset
mkjudge
printf '{{output}}\nREPLY: no idea\n' >rubric.md
em -k --json r.json
assert_rc 1
jqcheck r.json .errors 2 "$(cstatus qa j1 1)" '"error"' "$(cscore qa j1 1)" null
msreset
em -k --json r.json
assert_rc 1
assert_stats $AGENT=0 $JUDGE=2

try "judge: a failing judge (500) is an error; the next run grades again"
msreset
mkjudge
printf '{{output}}\nFAULT:500\n' >rubric.md
em -k --json r.json
assert_rc 1
jqcheck r.json .errors 2
assert_stats $JUDGE=4 # retries: 1
msreset
printf '{{output}}\nREPLY: SCORE: 1\n' >rubric.md
em --json r.json
assert_rc 0
assert_stats $AGENT=0 $JUDGE=2
jqcheck r.json '.suites[0].score' 1

# ---------------------------------------------------------------------------
# 9. what a cell stores

try "meta.json holds the served model, usage and attempts; request.json has no key"
msreset
mktasks 2
mkevalfile openai 2
sed -i 's/^      retries: 1$/      retries: 1\n      system: "Be exact."\n      params: {temperature: 0, max_tokens: 16}/' Evalfile
em --json r.json
assert_rc 0
assert_requests 4
parts meta.json >metas.json
jqcheck metas.json length 4 'map(.model) | unique' '["m1-served"]' 'map(.attempts) | unique' '[1]' \
	'map([.. | objects | (.input_tokens?, .prompt_tokens?) | numbers] | max > 0) | unique' '[true]' \
	'map([.. | objects | (.output_tokens?, .completion_tokens?) | numbers] | max > 0) | unique' '[true]'
parts request.json >requests.json
jqcheck requests.json length 4 'map(.model) | unique' '["m1"]' \
	'map(.messages[0]) | unique' '[{"role": "system", "content": "Be exact."}]' \
	'map(.messages[1].role) | unique' '["user"]' 'map(.temperature) | unique' '[0]' \
	'map(.max_tokens) | unique' '[16]' 'map(.seed | type) | unique' '["number"]'
checks "request.json: no key, no auth header" "! grep -qiE '$KEY|authorization|bearer|x-api-key' requests.json"
parts response.json >responses.json
jqcheck responses.json 'map(.choices[0].message.content | test("^a[12]$")) | unique' '[true]' \
	'map(.model) | unique' '["m1-served"]'
k1=$(entry r.json qa t1 1)
k2=$(entry r.json qa t1 2)
checks "iterations differ in their seed" "[ \"\$(part $k1 request.json | jq .seed)\" != \"\$(part $k2 request.json | jq .seed)\" ]"

# ---------------------------------------------------------------------------
# concurrency and interruption

try "max_connections bounds the requests in flight"
msreset
mktasks 6
mkevalfile openai 1
msfaults '{"latency_ms": 600}'
sed -i 's/^      retries: 1$/      retries: 1\n      max_connections: 2/' Evalfile
tem --json r.json
assert_rc 0
assert_requests 6
at_least 1.75 "6 requests of 0.6 s, 2 at a time"
two=$secs
msreset
msfaults '{"latency_ms": 600}'
sed -i 's/max_connections: 2/max_connections: 6/; s/model: m1/model: m9/' Evalfile
tem --json r.json
assert_rc 0
assert_requests 6
# 6 at a time: 0.6 s, 1.2 s faster than 2 at a time (timed relative to that
# run, as the machine may be slow)
awk -v a="$secs" -v b="$two" 'BEGIN { exit !(a + 0.3 < b) }' ||
	fail "6 requests of 0.6 s took ${secs}s 6 at a time, ${two}s 2 at a time"
msreset

try "a hung request does not hold up the others"
msreset
mkfaulty 0 2 'FAULT:hang' 'REPLY: ok'
em -k --json r.json
assert_rc 1
assert_stats hang=1 ok=1
jqcheck r.json "$(cstatus qa f1 1)" '"error"' "$(cstatus qa f2 1)" '"ran"' "$(cscore qa f2 1)" 1 \
	"$(cs qa f2 1) | .seconds < 1.5)" true

try "Ctrl-C during hung requests: exit 130, nothing cached"
msreset
mkfaulty 1 60 'FAULT:hang 1' 'FAULT:hang 2'
bg_em --json r.json
waitfor 10 '[ "$(nrequests)" -ge 1 ]' || fail "no request arrived"
kill -INT "$bgpid"
bg_wait 10
assert_rc 130
check "nothing cached" test "$(nruns)" = 0

finish
stopserver
summary
