#!/usr/bin/env bash
# Self-test for the fake model server (modelserver.c).
#
# Builds the server into a temporary folder (or runs $MODELSERVER if set),
# starts it on a free 127.0.0.1 port and checks both APIs, auth and
# validation errors, queued and prompt-injected faults, latency and /_stats
# with curl.  Needs only bash, cc, pkg-config and curl.  Ends with the line
# "N passed, M failed" and exits non-zero if anything failed.
#
# Conditions are passed to check as single-quoted strings for eval, so they
# expand when checked; shellcheck cannot see that use of the variables.
# shellcheck disable=SC2016,SC2034
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
pid=

cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${MODELSERVER:-}" ]; then
    bin=$MODELSERVER
else
    bin=$work/modelserver
    # shellcheck disable=SC2046 # pkg-config output must split into words
    cc -std=c11 -Wall -Wextra -Werror -O2 -o "$bin" "$here/modelserver.c" \
        $(pkg-config --cflags --libs libmicrohttpd libcjson libxxhash) -lpthread
fi

"$bin" --port-file "$work/port" >"$work/server.out" 2>"$work/server.err" &
pid=$!
for _ in $(seq 50); do # at most 5 s
    [ -s "$work/port" ] && break
    sleep 0.1
done
if [ ! -s "$work/port" ]; then
    echo "modelserver did not write its port file within 5 s" >&2
    cat "$work/server.err" >&2
    exit 1
fi
base=http://127.0.0.1:$(cat "$work/port")

passed=0
failed=0
api_posts=0 # API requests sent, to compare with /_stats

ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() {
    failed=$((failed + 1))
    echo "not ok - $1"
    echo "  status: $status"
    echo "  body: $(cat "$work/body")"
}
# check NAME COMMAND...: passes when COMMAND succeeds.
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}
has() { grep -qF -- "$1" "$work/body"; }
status_is() { [ "$status" = "$1" ]; }

# request METHOD PATH [BODY] [curl args...]: sets $status, $rc (curl's exit
# code) and $ms (curl's total time in ms); body in $work/body, headers in
# $work/headers.  Never fails, so faults can be checked.
request() {
    local method=$1 path=$2 data=${3:-}
    shift 3 || shift $#
    : >"$work/body"
    : >"$work/headers"
    local out
    rc=0
    out=$(curl -s -m 5 -X "$method" -o "$work/body" -D "$work/headers" \
        -w '%{http_code} %{time_total}' ${data:+--data-binary "$data"} "$@" "$base$path") || rc=$?
    status=${out%% *}
    ms=$(awk -v t="${out#* }" 'BEGIN { printf "%d", t * 1000 }')
    case $path in /v1/* | /chat/*) [ "$method" = POST ] && api_posts=$((api_posts + 1)) ;; esac
    return 0
}
openai() { # openai PROMPT [extra JSON members]
    request POST /v1/chat/completions \
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"$1\"}]${2:+,$2}}" \
        -H 'Authorization: Bearer test-key' -H 'Content-Type: application/json'
}
anthropic_headers=(-H 'x-api-key: test-key' -H 'anthropic-version: 2023-06-01')

# --- answers ---------------------------------------------------------------
openai 'hello\nREPLY:  42 \nbye' '"seed":7,"temperature":0'
check "openai REPLY: 42 answers 42" eval 'status_is 200 && has "\"content\":\"42\""'
check "openai reply names the served model and usage" \
    eval 'has "\"model\":\"m-served\"" && has "\"total_tokens\":" && has "\"id\":\"cmpl-"'

openai 'what is the answer'
first=$(grep -o '"content":"hash:[0-9a-f]\{16\}"' "$work/body" || true)
openai 'what is the answer'
second=$(grep -o '"content":"hash:[0-9a-f]\{16\}"' "$work/body" || true)
check "hash answer is stable across calls" eval '[ -n "$first" ] && [ "$first" = "$second" ]'

openai ''
check "empty prompt hashes to XXH64 seed 0 of nothing" has '"content":"hash:ef46db3751d8e999"'

request POST /chat/completions \
    '{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"REPLY: parts"}]}]}' \
    -H 'Authorization: Bearer test-key'
check "/chat/completions with content parts" eval 'status_is 200 && has "\"content\":\"parts\""'

request POST /v1/messages \
    '{"model":"c","max_tokens":16,"system":"be brief","messages":[{"role":"user","content":"REPLY: yo"}]}' \
    "${anthropic_headers[@]}"
check "anthropic REPLY answers" \
    eval 'status_is 200 && has "\"text\":\"yo\"" && has "\"model\":\"c-served\"" && has "\"stop_reason\":\"end_turn\""'

# --- auth and validation ---------------------------------------------------
request POST /v1/messages '{"model":"c","messages":[{"role":"user","content":"hi"}]}' \
    "${anthropic_headers[@]}"
check "anthropic without max_tokens is 400" \
    eval 'status_is 400 && has "\"invalid_request_error\""'

request POST /v1/messages '{"model":"c","max_tokens":5,"messages":[]}' \
    -H 'anthropic-version: 2023-06-01'
check "anthropic without x-api-key is 401" \
    eval 'status_is 401 && has "\"authentication_error\""'

request POST /v1/chat/completions '{"model":"m","messages":[]}'
check "openai without bearer token is 401" status_is 401

request POST /v1/chat/completions '{not json' -H 'Authorization: Bearer test-key'
check "invalid JSON is 400" eval 'status_is 400 && has "\"error\""'

request GET /no/such/path
check "unknown path is 404" status_is 404

# --- faults ------------------------------------------------------------------
request POST /_faults '{"faults":[{"type":"429","count":1,"retry_after":"1"}]}'
check "queue a 429" status_is 200
openai 'REPLY: after'
check "queued 429 carries Retry-After: 1" \
    eval 'status_is 429 && grep -qi "^retry-after: 1" "$work/headers" && has "rate_limit_error"'
openai 'REPLY: after'
check "request after the queued 429 succeeds" eval 'status_is 200 && has "\"content\":\"after\""'

openai 'FAULT:malformed'
check "FAULT:malformed gives 200 with invalid JSON" \
    eval 'status_is 200 && [ "$(cat "$work/body")" = "{\"choices\": [" ]'

openai 'FAULT:truncated'
check "FAULT:truncated ends the body early (curl exit 18)" eval '[ "$rc" = 18 ]'

openai 'FAULT:drop'
check "FAULT:drop closes without a response (curl exit 52)" eval '[ "$rc" = 52 ]'

request POST /v1/chat/completions \
    '{"model":"m","messages":[{"role":"user","content":"FAULT:hang"}]}' \
    -H 'Authorization: Bearer test-key' -m 0.5
check "FAULT:hang never answers (curl timeout, exit 28)" eval '[ "$rc" = 28 ]'

openai 'FAULT:error200'
check "FAULT:error200 gives 200 with an error that quotes the key" \
    eval 'status_is 200 && has "\"error\":{\"message\":\"upstream overloaded: injected (key test-key)\""'

openai 'FAULT:empty200'
check "FAULT:empty200 gives 200 with no choices" eval 'status_is 200 && has "\"choices\": []"'

openai 'FAULT:html'
check "FAULT:html gives 200 with an HTML page" eval 'status_is 200 && has "<html>"'

openai 'FAULT:giant'
check "FAULT:giant gives 200 with a body over 16 MiB" eval 'status_is 200 && [ "$(wc -c <"$work/body")" -gt 16777216 ]'

openai 'FAULT:reset'
check "FAULT:reset resets the connection (curl exit 56)" eval '[ "$rc" = 56 ]'

openai 'FAULT:badutf8'
check "FAULT:badutf8 gives 200 with an answer that is not UTF-8" \
    eval 'status_is 200 && ! iconv -f UTF-8 -t UTF-8 "$work/body" >/dev/null 2>&1'

openai 'FAULT:redirect'
check "FAULT:redirect gives 307 to another host" eval 'status_is 307'

request POST /v1/chat/completions \
    '{"model":"m","messages":[{"role":"user","content":"FAULT:drip"}]}' \
    -H 'Authorization: Bearer test-key' -m 0.5
check "FAULT:drip sends the answer slowly (curl timeout, exit 28)" eval '[ "$rc" = 28 ]'

head -c $((9 * 1024 * 1024)) /dev/zero >"$work/big"
request POST /v1/chat/completions "@$work/big" -H 'Authorization: Bearer test-key'
check "body over 8 MiB is 413" status_is 413

request POST /_faults '{"latency_ms":300}'
openai 'REPLY: slow'
check "latency_ms delays responses (${ms} ms)" eval 'status_is 200 && [ "$ms" -ge 295 ]'
request POST /_faults '{"latency_ms":0}'

# --- stats -------------------------------------------------------------------
request GET /_stats
check "/_stats counts all API requests ($api_posts)" has "\"requests\":$api_posts,"
check "/_stats counts faults and distinct keys" \
    eval 'has "\"faulted\":13," && has "\"auth_headers\":1," && has "\"last_seed\":7"'
request POST /_reset ''
request GET /_stats
check "/_reset zeroes the counters" eval 'has "\"requests\":0," && has "\"faulted\":0,"'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
