#!/usr/bin/env bash
# Egress and secrets: where evalmake connects, and where its API key is not.
#
#   EVALMAKE=/abs/evalmake MODELSERVER=/abs/build/modelserver bash tests/stress/egress.sh
#
# Under `strace -f -e trace=connect` (agents included: -f follows them):
#   - the bundled example (command agents that connect nowhere) connects to
#     no internet address at all;
#   - a model suite (answers, errors and a judge) connects only to the
#     model server's 127.0.0.1:PORT.
# The API key is then grepped for in the whole cache, every report format
# (--json, --junit, --markdown, report --html), -v output, `log` of every
# cell and the error messages (the server's 200 error bodies quote the key
# on purpose, as careless proxies do).
# Needs strace (Debian: strace); skipped loudly without it.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
TREE=$(cd "$HERE/../.." && pwd)
. "$HERE/../e2e/lib.sh"

need_modelserver egress.sh
STRACE=1
if ! command -v strace >/dev/null || ! strace -f -e trace=connect -o /dev/null true 2>/dev/null; then
	echo "egress.sh: SKIPPING the connect checks: strace is missing or cannot trace here (apt-get install strace)" >&2
	STRACE=""
fi

KEY=sk-egress-SECRET-9abc
export EMKEY=$KEY

start_modelserver egress.sh

# traced ARGS...: evalmake ARGS under strace; the connect lines in $T/connects
traced() {
	last="strace evalmake $*"
	if [ -n "$STRACE" ]; then
		# LeakSanitizer cannot run under ptrace: off for the traced runs
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
			strace -f -qq -e trace=connect -o "$T/strace" "$E" "$@" >"$T/out" 2>"$T/err"
		rc=$?
		grep -h 'connect(' "$T/strace" >>"$T/connects" || true
	else
		"$E" "$@" >"$T/out" 2>"$T/err"
		rc=$?
	fi
	sancheck "$T/err"
	cat "$T/out" "$T/err" >>"$T/all"
}

# the internet addresses connected to, "ADDR:PORT" one a line
inetconnects() {
	[ -e "$T/connects" ] || return 0
	grep -E 'AF_INET6?' "$T/connects" |
		sed -E 's/.*sin6?_port=htons\(([0-9]+)\).*(inet_addr|inet_pton\(AF_INET6?, )\("?([^")]+)"?\).*/\3:\1/' | sort -u
}

try "the bundled example connects to no internet address"
cp -r "$TREE/agents" "$TREE/prompts" "$TREE/tasks" .
cp "$TREE/evalfile.example" Evalfile
: >"$T/connects"
traced -s -k --json r.json
check "the example runs (rc $rc: $(head -c 300 "$T/err"))" [ "$rc" = 0 ] || [ "$rc" = 1 ]
got=$(inetconnects)
check "no internet connect, got: $got" [ -z "$got" ]

try "a model suite connects only to its server; its key is nowhere"
mkdir -p tasks
for i in 1 2 3 4; do
	printf '{"id": "a%d", "input": "REPLY: yes %d", "expected": "yes %d"}\n' "$i" "$i" "$i"
done >tasks/ok.jsonl
printf '{"id": "e1", "input": "FAULT:error200 please", "expected": "x"}\n{"id": "e3", "input": "FAULT:400", "expected": "x"}\n' >tasks/bad.jsonl
printf 'Grade this answer: {{output}}\nREPLY: 1\n' >rubric.md
cat >Evalfile <<EOF
defaults: {iterations: 1, timeout: 20}
suites:
  ok:
    tasks: tasks/ok.jsonl
    agent: {provider: openai, model: fake, base_url: "http://127.0.0.1:$PORT/v1", api_key_env: EMKEY}
    grader: {type: exact}
  judged:
    tasks: tasks/ok.jsonl
    agent: {provider: anthropic, model: fake, base_url: "http://127.0.0.1:$PORT", api_key_env: EMKEY}
    grader:
      type: judge
      provider: openai
      model: judge
      base_url: "http://127.0.0.1:$PORT/v1"
      api_key_env: EMKEY
      rubric: rubric.md
  bad:
    tasks: tasks/bad.jsonl
    agent: {provider: openai, model: fake, base_url: "http://127.0.0.1:$PORT/v1", api_key_env: EMKEY}
    grader: {type: exact}
EOF
: >"$T/connects"
traced -v -k --json r.json
check "errors reported (rc $rc: $(head -c 300 "$T/err"))" [ "$rc" = 1 ]
check "some cells scored" [ "$(jq '.suites[] | select(.name == "ok") | .score' r.json)" = 1 ]
traced check -k --junit j.xml --markdown m.md --json c.json
traced report --html r.html
traced status --json s.json
for cell in ok/a1#1 judged/a1#1 bad/e1#1 bad/e3#1; do
	traced log "$cell"
done
traced -v -B -k
got=$(inetconnects | grep -v "^127.0.0.1:$PORT\$")
check "connects only to 127.0.0.1:$PORT, also got: $got" [ -z "$got" ]
if [ -n "$STRACE" ]; then
	n=$(inetconnects | grep -c "^127.0.0.1:$PORT\$")
	check "the server was connected to (seen by strace)" [ "$n" = 1 ]
fi
check "the 200 error body quoting the key was seen (the test's premise)" \
	[ "$(curl -s "http://127.0.0.1:$PORT/_stats" | jq '.by_fault.error200 // 0')" -ge 1 ]
for f in r.json c.json s.json j.xml m.md r.html "$T/all"; do
	check "the key is not in $f" ! grep -qF -- "$KEY" "$f"
done
check "the key is not in the cache" ! grep -rqaF -- "$KEY" cache
check "the cache is there" [ -d cache ]

finish
stopserver
summary
