#!/usr/bin/env bash
# End-to-end tests of evalmake's lifetime and robustness guarantees (issue
# 16): no agent or grader process outlives evalmake, however it ends (kill
# -9 of evalmake or of its process group, SIGHUP), in a run and in watch
# mode; a model call's timeout bounds its retries and Retry-After waits; a
# base_url that is not an http(s) URL is refused at load; a 200 response
# without an answer shows the server's message (without the API key); an
# Evalfile whose aliases expand without bound fails at once, while merge
# keys (`<<: *anchor`) work.
#
#   EVALMAKE=/abs/evalmake MODELSERVER=/abs/build/modelserver bash tests/e2e/life.sh
#
# Needs: bash, coreutils, curl, jq, pgrep, ps, timeout.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

need_modelserver life.sh

KEY=sk-test-LIFE-SECRET-5678
export EMKEY=$KEY

# ---------------------------------------------------------------------------
# the model server: one for the whole file, stopped by its pid

start_modelserver life.sh
URL=http://127.0.0.1:$PORT

ms() { # ms METHOD PATH [BODY]
	if [ "$1" = POST ]; then
		curl -sS --max-time 5 -X POST -H 'Content-Type: application/json' -d "${3:-{\}}" "$URL$2"
	else
		curl -sS --max-time 5 "$URL$2"
	fi
}
msreset() { ms POST /_reset >/dev/null || fail "POST /_reset failed"; }
msfaults() {
	local out
	out=$(ms POST /_faults "$1") || fail "POST /_faults failed"
	jq -e '.queued' <<<"$out" >/dev/null 2>&1 || fail "POST /_faults $1: $out"
}
nrequests() { ms GET /_stats | jq -r .requests; }
assert_requests() {
	local n
	n=$(nrequests)
	[ "$n" = "$1" ] || fail "the server got $n requests, expected $1"
}

# run evalmake, timed: $secs
tem() {
	local s=$EPOCHREALTIME
	em "$@"
	secs=$(elapsed "$s")
}
at_most() { # at_most SECS WHAT
	awk -v a="$secs" -v b="$1" 'BEGIN { exit !(a <= b) }' || fail "$2 took ${secs}s, expected at most $1 s"
}

cerror() { printf '%s | .error // "")' "$(cellsel "$@")"; }

# jqcheck FILE FILTER SHOW: FILTER holds on FILE, else fail showing SHOW
jqcheck() { jq -e "$2" "$1" >/dev/null 2>&1 || fail "$1: $2 does not hold: $(jq -c "$3" "$1" 2>&1)"; }

# the key's value is nowhere under the project
no_key_here() {
	if grep -rqF -- "$KEY" . "$T/out" "$T/err"; then
		fail "the API key is in $(grep -rlF -- "$KEY" . "$T/out" "$T/err" | head -n 3 | tr '\n' ' ')"
	fi
}

# ---------------------------------------------------------------------------
# processes

# the live (not zombie) processes whose command line holds $1; the
# container's init may leave killed orphans as zombies, which are dead
alive() {
	local p st n=0
	for p in $(pgrep -f -- "$1"); do
		st=$(ps -o stat= -p "$p" 2>/dev/null) || continue
		case $st in Z*) ;; *) n=$((n + 1)) ;; esac
	done
	echo "$n"
}

# the live processes in the process groups listed in $CELLGROUPS
alive_in_groups() {
	local g p st n=0
	for g in $CELLGROUPS; do
		for p in $(pgrep -g "$g"); do
			st=$(ps -o stat= -p "$p" 2>/dev/null) || continue
			case $st in Z*) ;; *) n=$((n + 1)) ;; esac
		done
	done
	echo "$n"
}

# 4 tasks; the agent (or, with "grader", a command grader) runs two
# sleeps, so each cell is a shell, a subshell, two sleeps, and evalmake's
# supervisor: mkkillproject [grader]
mkkillproject() {
	local sl i
	sl=$(sleeper life)
	for i in 1 2 3 4; do
		mkdir -p "tasks/t$i"
		echo "x$i" >"tasks/t$i/input.txt"
		echo "x$i" >"tasks/t$i/expected.txt"
	done
	cat >slow.sh <<EOF
#!/bin/sh
cat >/dev/null
sh -c '"$sl" 30 & "$sl" 30; wait'
EOF
	chmod +x slow.sh
	if [ "${1:-}" = grader ]; then
		printf 'cat\n' >agent.sh
		cat >Evalfile <<'EOF'
jobs: 4
suites:
  s:
    tasks: tasks/*
    iterations: 1
    agent: {command: sh agent.sh}
    grader: {type: command, command: ./slow.sh}
EOF
	else
		cat >Evalfile <<'EOF'
jobs: 4
suites:
  s:
    tasks: tasks/*
    iterations: 1
    agent: {command: ./slow.sh}
    grader: {type: exact}
EOF
	fi
}

# start evalmake ARGS in the background and wait for its 8 sleeps; sets
# CELLGROUPS to their process groups
start_sleepers() {
	local sl
	sl=$(sleeper life)
	bg_em "$@"
	if ! waitfor 15 "[ \"\$(alive '$sl')\" -ge 8 ]"; then
		fail "8 sleeps did not start (got $(alive "$sl"))"
	fi
	CELLGROUPS=$(for p in $(pgrep -f -- "$sl"); do ps -o pgid= -p "$p"; done | sort -u | tr -d ' ' | tr '\n' ' ')
	[ "$(echo $CELLGROUPS | wc -w)" = 4 ] || fail "expected 4 process groups, got [$CELLGROUPS]"
	[ "$(alive_in_groups)" -ge 16 ] || fail "expected at least 16 processes in the cells' groups, got $(alive_in_groups)"
}

# after the kill (just done): within a second nothing of the cells is
# alive (polled; the kernel signals the supervisors at once). The deadline
# is bash arithmetic in microseconds (mawk's printf "%d" stops at 2^31-1,
# which made it already past: one sample taken at once, a flaky failure
# when a supervisor had not yet run). The verdict rests on a sample begun
# after the second is up: on a loaded machine one sample (a pgrep and a ps
# per process) can itself take a second.
none_alive_after_1s() {
	local sl n m end late
	sl=$(sleeper life)
	end=$((${EPOCHREALTIME/./} + 1000000))
	while :; do
		late=0
		[ "${EPOCHREALTIME/./}" -ge "$end" ] && late=1
		n=$(alive "$sl")
		m=$(alive_in_groups)
		[ "$n" = 0 ] && [ "$m" = 0 ] && break
		[ "$late" = 1 ] && break
		sleep 0.05
	done
	[ "$n" = 0 ] || fail "$n sleeps alive 1 s after $1: $(pgrep -a -f -- "$sl" | tr '\n' ';')"
	[ "$m" = 0 ] || fail "$m processes alive in the cells' groups 1 s after $1"
	killmarked "$sl"
}

try "kill -9 of evalmake: its agents die with it"
mkkillproject
start_sleepers
{
	kill -9 "$bgpid"
	none_alive_after_1s "kill -9"
	bg_wait 10
} 2>/dev/null # no "Killed" notice from bash
check "killed (got $rc)" [ "$rc" = 137 ]

try "kill -9 of evalmake's process group: its agents (in their own groups) die too"
mkkillproject
start_sleepers
{
	kill -9 -- "-$bgpid" # bg_em runs it as a job: its own group
	none_alive_after_1s "kill -9 of the group"
	bg_wait 10
} 2>/dev/null # no "Killed" notice from bash

try "SIGHUP: handled like SIGTERM: agents killed, exit 129 (128 + SIGHUP), nothing stored"
mkkillproject
start_sleepers
kill -HUP "$bgpid"
none_alive_after_1s "SIGHUP"
bg_wait 10
assert_rc 129
check "no run entry stored" [ "$(nruns)" = 0 ]
check "cache/tmp is empty" [ -z "$(ls -A cache/tmp 2>/dev/null)" ]

try "under nohup (SIGHUP ignored), SIGHUP does not stop the run"
mkdir -p tasks/t1
echo x >tasks/t1/input.txt
echo x >tasks/t1/expected.txt
sl=$(sleeper life)
cat >agent.sh <<EOF
#!/bin/sh
echo started >>calls
"$sl" 2
cat
EOF
cat >Evalfile <<'EOF'
suites:
  s:
    tasks: tasks/*
    iterations: 1
    agent: {command: sh agent.sh}
EOF
(
	trap '' HUP
	exec "$E" >"$T/out" 2>"$T/err"
) &
bgpid=$!
BGPIDS+=("$bgpid")
check "the agent started" waitfor 10 '[ "$(ncalls)" = 1 ]'
kill -HUP "$bgpid"
bg_wait 30
assert_rc 0

try "SIGTERM: agents killed, exit 143 (128 + SIGTERM)"
mkkillproject
start_sleepers
kill -TERM "$bgpid"
none_alive_after_1s "SIGTERM"
bg_wait 10
assert_rc 143

try "kill -9 of evalmake: a command grader's processes die with it"
mkkillproject grader
start_sleepers
{
	kill -9 "$bgpid"
	none_alive_after_1s "kill -9"
	bg_wait 10
} 2>/dev/null # no "Killed" notice from bash

try "watch: kill -9 of evalmake watch kills its agents"
mkkillproject
start_sleepers watch
{
	kill -9 "$bgpid"
	none_alive_after_1s "kill -9 of watch"
	bg_wait 10
} 2>/dev/null # no "Killed" notice from bash

try "watch: SIGHUP stops watch, its agents killed"
mkkillproject
start_sleepers watch
kill -HUP "$bgpid"
none_alive_after_1s "SIGHUP to watch"
bg_wait 10
assert_rc 129

try "exit statuses pass through the supervisor: exit 7, and a signal"
mkdir -p tasks/t1 tasks/t2
echo x >tasks/t1/input.txt
echo y >tasks/t2/input.txt
echo x >tasks/t1/expected.txt; echo y >tasks/t2/expected.txt
cat >Evalfile <<'EOF'
suites:
  s:
    tasks: tasks/*
    iterations: 1
    agent: {command: "read -r x; [ \"$x\" = x ] && exit 7; kill -TERM $$"}
    grader: {type: exact}
EOF
em -k --json r.json
assert_rc 1
assert_json r.json "$(cerror s t1 1)" '"exit status 7"'
assert_json r.json "$(cerror s t2 1)" '"killed by signal 15"'

try "an agent that signals its own group (kill -TERM 0) and survives it ends as it chooses"
mkdir -p tasks/t1
echo hi >tasks/t1/input.txt
echo hi >tasks/t1/expected.txt
sl=$(sleeper life)
cat >agent.sh <<EOF
#!/bin/sh
# stop the helpers in my group, but not me
trap 'echo "caught TERM" >&2' TERM
"$sl" 30 &
i=0 # until the helper is the sleep (before its exec it has my trap)
while ! grep -q sleep /proc/\$!/cmdline 2>/dev/null && [ \$i -lt 500 ]; do sleep 0.01; i=\$((i + 1)); done
kill -TERM 0
wait
cat
EOF
cat >Evalfile <<'EOF'
suites:
  s:
    tasks: tasks/*
    iterations: 1
    agent: {command: exec sh agent.sh} # no shell around it to take the signal
EOF
em --json r.json
assert_rc 0
assert_json r.json "$(cellstatus s t1 1)" '"ran"'
assert_json r.json "$(cellscore s t1 1)" 1

# ---------------------------------------------------------------------------
# model calls

# one task asking the server for INPUT; mkhttp INPUT TIMEOUT [RETRIES] [PROVIDER]
mkhttp() {
	local prov=${4:-openai} base=$URL/v1
	[ "$prov" = anthropic ] && base=$URL
	printf '{"id": "t1", "input": "%s", "expected": "ok"}\n' "$1" >tasks.jsonl
	cat >Evalfile <<EOF
suites:
  qa:
    tasks: tasks.jsonl
    timeout: $2
    agent:
      provider: $prov
      model: m1
      base_url: $base
      api_key_env: EMKEY
      retries: ${3:-5}
    grader: {type: exact}
EOF
}

try "Retry-After: 999999999 with timeout: 2: the cell is an error at once, saying so"
msreset
mkhttp "REPLY: ok" 2
msfaults '{"faults": [{"type": "429", "count": 20, "retry_after": "999999999"}]}'
tem --json r.json
assert_rc 1
at_most 30 "a Retry-After past the timeout"
assert_requests 1
jqcheck r.json "$(cerror qa t1 1) | test(\"timed out after 2s\") and test(\"Retry-After\") and test(\"429\")" "$(cerror qa t1 1)"
check "nothing cached" [ "$(nruns)" = 0 ]

try "Retry-After: 1 within the timeout is still honoured"
msreset
mkhttp "REPLY: ok" 20
msfaults '{"faults": [{"type": "429", "count": 1, "retry_after": "1"}]}'
em --json r.json
assert_rc 0
assert_requests 2

try "the timeout bounds all attempts: a hung server with timeout: 2 and 5 retries gets 1 request"
msreset
mkhttp "FAULT:hang" 2
tem --json r.json
assert_rc 1
at_most 30 "a hung server with timeout: 2"
assert_requests 1
jqcheck r.json "$(cerror qa t1 1) | test(\"timed out\")" "$(cerror qa t1 1)"

try "the timeout bounds a judge's call too"
msreset
printf '{"id": "t1", "input": "x", "expected": "ok"}\n' >tasks.jsonl
printf 'Grade: {{output}}\n' >rubric.md
cat >Evalfile <<EOF
suites:
  qa:
    tasks: tasks.jsonl
    timeout: 2
    agent: {command: cat}
    grader: {type: judge, rubric: rubric.md, provider: openai, model: j, base_url: $URL/v1, api_key_env: EMKEY}
EOF
msfaults '{"faults": [{"type": "429", "count": 20, "retry_after": "999999999"}]}'
tem --json r.json
assert_rc 1
at_most 30 "a judge told to wait past the timeout"
assert_requests 1

try "a 200 with an error body: the cell error is the server's message, the key scrubbed"
msreset
mkhttp "FAULT:error200" 20
em --json r.json
assert_rc 1
assert_requests 1 # an error the server chose to send: not retried
jqcheck r.json "$(cerror qa t1 1) | test(\"upstream overloaded: injected\") and test(\"redacted\")" "$(cerror qa t1 1)"
no_key_here

try "anthropic: a 200 with an error body shows the server's message"
msreset
mkhttp "FAULT:error200" 20 5 anthropic
em --json r.json
assert_rc 1
jqcheck r.json "$(cerror qa t1 1) | test(\"upstream overloaded: injected\")" "$(cerror qa t1 1)"
no_key_here

try "a 200 without choices: the error says what is missing and shows the body"
msreset
mkhttp "FAULT:empty200" 20
em --json r.json
assert_rc 1
jqcheck r.json "$(cerror qa t1 1) | test(\"without an answer\") and test(\"chatcmpl-empty\")" "$(cerror qa t1 1)"

# ---------------------------------------------------------------------------
# base_url

for u in "not a url" "ftp://127.0.0.1:$PORT/v1" "file:///etc/passwd" "http:///v1"; do
	try "base_url '$u' is refused at load: exit 2, file:line:col, no request"
	msreset
	mkhttp "REPLY: ok" 20
	sed -i "s#base_url: .*#base_url: '$u'#" Evalfile
	tem
	assert_rc 2
	at_most 10 "loading a bad base_url"
	checks "the message names Evalfile:LINE:COL and base_url" "grep -qE 'Evalfile:8:[0-9]+: suites.qa.agent.base_url: expected' '$T/err'"
	assert_requests 0
	[ ! -e cache ] || fail "a cache folder was created"
	em check
	assert_rc 2
done

try "a judge's base_url is checked too"
printf '{"id": "t1", "input": "x", "expected": "ok"}\n' >tasks.jsonl
printf 'Grade: {{output}}\n' >rubric.md
cat >Evalfile <<'EOF'
suites:
  qa:
    tasks: tasks.jsonl
    agent: {command: cat}
    grader: {type: judge, rubric: rubric.md, provider: openai, model: j, base_url: "file:///etc/passwd"}
EOF
bad_input 'Evalfile:5:[0-9]+: suites.qa.grader.base_url: expected a URL starting with http:// or https://'

# ---------------------------------------------------------------------------
# YAML aliases

try "an alias bomb (9 levels of 9) fails at once with file:line:col, in run and check"
{
	echo 'l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]'
	for i in 1 2 3 4 5 6 7 8 9; do
		j=$((i - 1))
		echo "l$i: &l$i [*l$j, *l$j, *l$j, *l$j, *l$j, *l$j, *l$j, *l$j, *l$j]"
	done
	echo 'suites: {}'
} >Evalfile
tem
assert_rc 2
at_most 10 "loading an alias bomb"
checks "the message names the place and the cap" "grep -qE 'Evalfile:[0-9]+:[0-9]+: aliases of this anchor expand to more than 100000 nodes' '$T/err'"
tem check
assert_rc 2
at_most 10 "check of an alias bomb"

try "merge keys: defaults: &d merged with <<: *d into a suite run as written"
mkdir -p tasks/t1
echo hi >tasks/t1/input.txt
echo hi >tasks/t1/expected.txt
cat >Evalfile <<'EOF'
defaults: &d
  iterations: 2
  agent: &agent {command: cat}
suites:
  s:
    <<: *d
    tasks: tasks/*
    grader: {type: exact}
  t:
    <<: *d
    tasks: tasks/*
    iterations: 1
    agent: {<<: *agent}
    grader: {type: exact}
EOF
em --json r.json
assert_rc 0
assert_json r.json '[.suites[] | {name, n: ([.tasks[].cells[]] | length)}]' '[{"name":"s","n":2},{"name":"t","n":1}]'

finish
stopserver
summary
