#!/usr/bin/env bash
# End-to-end tests of the remote cache (store/remote.h) against real
# servers on 127.0.0.1, each started here with its configuration in this
# run's temp folder and stopped by its pid:
#   - nginx with WebDAV PUT (dav_methods PUT; create_full_put_path on) and
#     basic auth from an htpasswd file made here: the Bazel HTTP cache
#     layout as a team would serve it;
#   - s3rver (tests/s3, `npm ci --prefix tests/s3`), an S3 server in Node.
#     It checks paths and headers (and rejects an unknown access key), but
#     does not verify SigV4 signatures: a wrong secret would pass it, so
#     the signing itself is libcurl's (CURLOPT_AWS_SIGV4), tested there.
# A server that cannot start fails the script loudly (exit 2).
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/remote.sh
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

for tool in nginx openssl python3 node; do
	command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] || { echo "remote.sh: needs $tool" >&2; exit 2; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
need_modelserver remote.sh
S3RVER=$HERE/../s3/node_modules/s3rver/bin/s3rver.js
[ -f "$S3RVER" ] || { echo "remote.sh: s3rver is not installed: npm ci --prefix tests/s3" >&2; exit 2; }

# a free TCP port of 127.0.0.1 (the kernel's pick; a race with another
# process is possible but rare: the start below then fails loudly)
freeport() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait until something answers HTTP on port $1 (5 s at most)
answers() {
	local i
	for ((i = 0; i < 100; i++)); do
		curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
		sleep 0.05
	done
	return 1
}

NGPID="" S3PID=""
stopservers() {
	local p
	for p in $NGPID $S3PID; do
		kill -TERM "$p" 2>/dev/null
		waitfor 5 "! kill -0 $p 2>/dev/null" || kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	NGPID="" S3PID=""
}
trap 'stopservers; stopserver; cleanup' EXIT

# nginx serving $NGD/store/cache/ with PUT and basic auth (user team,
# password $NGPASS); sets NGPORT, NGPID, REMOTE (URL with credentials)
NGD=$TOP/nginx
NGPASS=s3cr3t-pass-$$
start_nginx() {
	mkdir -p "$NGD/store/cache" "$NGD/tmp" "$NGD/logs"
	printf 'team:%s\n' "$(openssl passwd -apr1 "$NGPASS")" >"$NGD/htpasswd"
	NGPORT=$(freeport)
	local user=""
	[ "$(id -u)" = 0 ] && user="user root;"
	cat >"$NGD/nginx.conf" <<NGEOF
daemon off;
$user
worker_processes 1;
pid $NGD/nginx.pid;
error_log $NGD/logs/error.log;
events { worker_connections 256; }
http {
	access_log $NGD/logs/access.log;
	client_body_temp_path $NGD/tmp/body;
	proxy_temp_path $NGD/tmp/proxy;
	fastcgi_temp_path $NGD/tmp/fastcgi;
	uwsgi_temp_path $NGD/tmp/uwsgi;
	scgi_temp_path $NGD/tmp/scgi;
	client_max_body_size 0;
	server {
		listen 127.0.0.1:$NGPORT;
		root $NGD/store;
		location /broken/ {
			return 503;
		}
		location /cache/ {
			dav_methods PUT;
			create_full_put_path on;
			dav_access user:rw group:r all:r;
			auth_basic "evalmake cache";
			auth_basic_user_file $NGD/htpasswd;
		}
	}
}
NGEOF
	"$NGINX" -p "$NGD" -e "$NGD/logs/error.log" -c "$NGD/nginx.conf" >"$NGD/logs/stdout" 2>&1 &
	NGPID=$!
	if ! answers "$NGPORT" || ! kill -0 "$NGPID" 2>/dev/null; then
		echo "remote.sh: nginx did not start:" >&2
		cat "$NGD/logs/stdout" "$NGD/logs/error.log" >&2 2>/dev/null
		exit 2
	fi
	REMOTE="http://team:$NGPASS@127.0.0.1:$NGPORT/cache"
}

# s3rver on $S3D with bucket "evals"; sets S3PORT, S3PID, S3URL
S3D=$TOP/s3
start_s3() {
	mkdir -p "$S3D/data"
	S3PORT=$(freeport)
	node "$S3RVER" -d "$S3D/data" -a 127.0.0.1 -p "$S3PORT" --configure-bucket evals >"$S3D/log" 2>&1 &
	S3PID=$!
	if ! answers "$S3PORT" || ! kill -0 "$S3PID" 2>/dev/null; then
		echo "remote.sh: s3rver did not start:" >&2
		cat "$S3D/log" >&2
		exit 2
	fi
	S3URL="s3://evals/team/cache?region=us-east-1&endpoint=http://127.0.0.1:$S3PORT"
}

start_nginx
start_s3
STORE=$NGD/store/cache
S3ID=S3RVER S3SECRET=not-checked-by-s3rver-$$

# a copy of the project in a fresh folder $T/$1 (no cache, no calls): a
# teammate's clone; cd there
clone() {
	mkdir -p "$T/$1"
	cp -r "$P/tasks" "$P/prompts" "$P/data" "$P/agent.sh" "$P/Evalfile" "$T/$1/"
	cd "$T/$1" || exit 2
}

# the remote's storage empty, for a case that counts what it holds
wipe() {
	rm -rf "$STORE" && mkdir -p "$STORE"
	rm -rf "${S3D:?}/data/evals/team"
}

# exactly one line of stderr holds $1
one_warning() {
	local n
	n=$(grep -c -- "$1" "$T/err")
	[ "$n" = 1 ] || fail "$n stderr lines hold '$1', expected 1"
}

scores() { jq -c '[.suites[] | {name, score}]' "$1"; }

# ---------------------------------------------------------------------------
# sharing over HTTP (nginx, WebDAV PUT, basic auth)

try "clone A runs and uploads; clone B with an empty cache runs no agent, same scores and logs"
wipe
mkproject
em --remote "$REMOTE" --remote-upload --json a.json
assert_rc 0
assert_calls 12
check "A wrote action records" test -n "$(ls "$STORE/ac")"
check "A wrote blobs" test -n "$(ls "$STORE/cas")"
em log calc/t1#1
cp "$T/out" a.log
clone b
EVALMAKE_REMOTE=$REMOTE em --json b.json
assert_rc 0
assert_calls 0
assert_json b.json '.ran' 0
assert_json b.json '.remote' 12
assert_json b.json '[.suites[].tasks[].cells[].status] | unique' '["remote"]'
checks "same scores" '[ "$(scores b.json)" = "$(scores $P/a.json)" ]'
check "the table has a remote column" grep -q 'remote' "$T/out"
em log calc/t1#1
checks "log shows the same output and transcript" \
	'diff <(sed -n "/^== prompt/,\$p" $P/a.log | grep -v -e /cache/runs/ -e "^== artifacts") <(sed -n "/^== prompt/,\$p" $T/out)'
check "log shows the transcript" grep -q 'agent: working on t1' "$T/out"
rm -f calls
EVALMAKE_REMOTE=$REMOTE em --json b2.json
assert_calls 0
assert_json b2.json '.cached' 12
assert_json b2.json '.remote' 0

try "B with one prompt edited runs only that suite's cells, fetches the rest"
wipe
mkproject
em --remote "$REMOTE" --remote-upload
clone b
printf 'Question: {{input}}\nQ: {{input}}\n' >prompts/quiz.md
em --remote "$REMOTE" --json b.json
assert_rc 0
assert_calls_are "$(allcells quiz)"
assert_json b.json '.remote' 6
assert_json b.json '.ran' 6

try "-n says which cells would fetch and which would run; nothing is fetched"
wipe
mkproject
em --remote "$REMOTE" --remote-upload calc
clone b
em --remote "$REMOTE" -n
assert_rc 0
check "calc cells would fetch" grep -q '^fetch calc/t1#1' "$T/out"
check "quiz cells would run" grep -q '^run   quiz/q1#1' "$T/out"
check "the counts" grep -q '6 cells would run, 6 would fetch from the remote cache' "$T/out"
checks "nothing stored" '[ "$(nruns)" = 0 ]'
assert_calls 0

try "upload off (the default): nothing is written to the server"
wipe
mkproject
cat >>Evalfile <<EOF2
remote:
  url: $REMOTE
EOF2
em
assert_rc 0
assert_calls 12
checks "the server holds nothing" '[ -z "$(find $STORE -type f)" ]'

try "the Evalfile's remote: with credentials from ~/.netrc and upload: true; printed URLs never hold them"
wipe
mkproject
OLDHOME=$HOME
export HOME=$T
printf 'machine 127.0.0.1 login team password %s\n' "$NGPASS" >"$T/.netrc"
cat >>Evalfile <<EOF2
remote: {url: "http://127.0.0.1:$NGPORT/cache", upload: true, timeout: 5}
EOF2
em --json a.json
assert_rc 0
check "uploaded" test -n "$(ls "$STORE/ac")"
clone b
em --json b.json
assert_calls 0
assert_json b.json '.remote' 12
rm -rf cache
em --remote "http://team:wrong-$NGPASS@127.0.0.1:$NGPORT/cache" --json w.json
check "the password is not printed" ! grep -q "$NGPASS" "$T/err" "$T/out" w.json
check "the URL is shown redacted" grep -q 'http://\*\*\*@127.0.0.1' "$T/err"
export HOME=$OLDHOME

try "wrong credentials (HTTP 401): one warning, the cells run, the same exit status"
wipe
mkproject
em --remote "$REMOTE" --remote-upload --json a.json
clone b
em --remote "http://team:wrong@127.0.0.1:$NGPORT/cache" --json b.json
assert_rc 0
assert_calls 12
one_warning 'remote cache'
check "says why" grep -q 'HTTP 401.*credentials' "$T/err"
checks "same scores" '[ "$(scores b.json)" = "$(scores $P/a.json)" ]'
echo all >fail
rm -rf cache calls
em --remote "http://team:wrong@127.0.0.1:$NGPORT/cache"
assert_rc 1 # the cells' errors decide, not the remote

try "the server stopped: one warning, the cells run; started again: fetched"
wipe
mkproject
em --remote "$REMOTE" --remote-upload --json a.json
clone b
kill -TERM "$NGPID"
waitfor 5 "! kill -0 $NGPID 2>/dev/null"
wait "$NGPID" 2>/dev/null
em --remote "$REMOTE" --json b.json
assert_rc 0
assert_calls 12
one_warning 'remote cache'
check "says why" grep -q 'cannot reach it' "$T/err"
checks "same scores" '[ "$(scores b.json)" = "$(scores $P/a.json)" ]'
"$NGINX" -p "$NGD" -e "$NGD/logs/error.log" -c "$NGD/nginx.conf" >>"$NGD/logs/stdout" 2>&1 &
NGPID=$!
answers "$NGPORT" || { echo "remote.sh: nginx did not start again" >&2; exit 2; }
rm -rf cache calls
em --remote "$REMOTE" --json b.json
assert_calls 0
assert_json b.json '.remote' 12

try "required: true turns a fault into an error: exit 2, nothing run"
mkproject
cat >>Evalfile <<EOF2
remote: {url: "http://127.0.0.1:$(freeport)/cache", required: true}
EOF2
em
assert_rc 2
assert_calls 0
check "says required" grep -q 'required' "$T/err"

try "a slow server (no answer within the timeout): one warning, the cells run"
mkproject
python3 -c 'import socket,sys,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(64)
open(sys.argv[1],"w").write(str(s.getsockname()[1])); time.sleep(300)' "$T/slowport" &
SLOWPID=$!
waitfor 5 "[ -s $T/slowport ]"
cat >>Evalfile <<EOF2
remote: {url: "http://127.0.0.1:$(cat "$T/slowport")/cache", timeout: 1}
EOF2
em --json r.json
kill "$SLOWPID"; wait "$SLOWPID" 2>/dev/null
assert_rc 0
assert_calls 12
one_warning 'remote cache'
check "says why" grep -q 'no answer within 1s' "$T/err"

try "uploads held for a slow server are bounded: past EVALMAKE_UPLOAD_QUEUE bytes a result is left out, with one warning"
wipe
mkproject
EVALMAKE_UPLOAD_QUEUE=1 em --remote "$REMOTE" --remote-upload
assert_rc 0
assert_calls 12
one_warning 'uploads wait for a slow server'
checks "nothing uploaded" '[ -z "$(ls "$STORE/ac" 2>/dev/null)" ]'

try "a server failing with 5xx: one warning, the cells run"
mkproject
em --remote "http://127.0.0.1:$NGPORT/broken" --remote-upload
assert_rc 0
assert_calls 12
one_warning 'remote cache'
check "says why" grep -q 'HTTP 50' "$T/err"

try "a corrupted and a truncated blob on the server: one warning, never used, those cells run"
wipe
mkproject
em --remote "$REMOTE" --remote-upload --json a.json
# corrupt one run entry's blob, truncate another's
mapfile -t blobs < <(grep -l '^evalmake-entry' "$STORE"/cas/* | sort)
printf 'x' | dd of="${blobs[0]}" bs=1 seek=30 conv=notrunc 2>/dev/null
truncate -s -5 "${blobs[1]}"
clone b
em --remote "$REMOTE" --json b.json
assert_rc 0
assert_calls 2
one_warning 'not used, the cell runs here'
checks "same scores" '[ "$(scores b.json)" = "$(scores $P/a.json)" ]'
assert_json b.json '.remote' 10
checks "each entry's output is the agent's" '[ "$(nruns)" = 12 ] && ! allparts output | grep -q x'

try "errors and API keys never reach the server; a model call's request and response travel"
wipe
start_modelserver remote.sh
trap 'stopservers; stopserver; cleanup' EXIT # start_modelserver set its own
mkproject
export OPENAI_API_KEY=sk-remote-test-key-$$
cat >>Evalfile <<EOF2
  chat:
    tasks: tasks/quiz.jsonl
    iterations: 1
    agent: {provider: openai, model: test, base_url: "http://127.0.0.1:$PORT/v1", api_key_env: OPENAI_API_KEY}
    grader: {type: contains, ignore_case: true}
EOF2
echo q2 >fail # the command agents fail on task q2
em --remote "$REMOTE" --remote-upload -k --json a.json
assert_rc 1
check "no API key on the server" ! grep -rq "$OPENAI_API_KEY" "$STORE"
check "no error text on the server" ! grep -rq "failed on purpose" "$STORE"
check "the request of a model call travelled" grep -rlq '"model"' "$STORE/cas"
clone b
rm -f fail
em --remote "$REMOTE" --json b.json
assert_calls_are "quiz q2 1
quiz q2 2"
assert_json b.json '.remote' 13
em log chat/q1#1
check "log shows the model call" grep -q 'model        test-served' "$T/out"
check "its request and response were fetched" grep -qE 'response.json [0-9]+' <(entrytext)
unset OPENAI_API_KEY

try "a command agent's artifacts travel as one blob"
wipe
mkproject
cat >agent2.sh <<'EOF2'
#!/bin/sh
echo "$EVAL_SUITE $EVAL_TASK $EVAL_ITERATION" >>calls
mkdir -p "$EVAL_OUT_DIR/sub"
echo "artifact of $EVAL_TASK" >"$EVAL_OUT_DIR/sub/note.txt"
sed -n 's/^Q: //p'
EOF2
chmod +x agent2.sh
set_calc_agent agent2.sh
em --remote "$REMOTE" --remote-upload calc
assert_rc 0
clone b
cp "$P/agent2.sh" .
em --remote "$REMOTE" calc
assert_calls 0
check "the artifact is back" grep -q 'artifact of t2' cache/runs/*/*/artifacts/sub/note.txt

try "an expensive grader's grades travel: B calls no grader"
wipe
mkproject
cat >grade.sh <<'EOF2'
#!/bin/sh
echo graded >>grades
read -r out
[ "$out" = "$EVAL_EXPECTED" ] && echo 1 || echo 0
echo "graded by script" >&2
EOF2
chmod +x grade.sh
sed -i 's|grader: {type: exact} # calc|grader: {type: command, command: ./grade.sh}|' Evalfile
em --remote "$REMOTE" --remote-upload --json a.json
assert_rc 0
clone b
cp "$P/grade.sh" .
em --remote "$REMOTE" --json b.json
assert_calls 0
check "no grader call" test ! -e grades
checks "same scores" '[ "$(scores b.json)" = "$(scores $P/a.json)" ]'

try "check and check --locked fetch; --locked runs nothing"
wipe
mkproject
em --remote "$REMOTE" --remote-upload
em lock
clone b
cp "$P/Evalfile.lock" .
em check --locked --remote "$REMOTE"
assert_calls 0
check "log works after check --locked" "$E" log calc/t1#1
rm -rf cache
em check --remote "$REMOTE" --json c.json
assert_calls 0
assert_json c.json '.remote' 12

try "watch fetches at start"
wipe
mkproject
em --remote "$REMOTE" --remote-upload
clone b
bg_em watch --jsonl --remote "$REMOTE"
waitfor 20 "grep -q '\"remote\":12' $T/bg$nbg.out"
kill -INT "$bgpid"
bg_wait 10
check "the first update fetched all 12" grep -q '"remote":12' "$T/bg$nbg.out"
assert_calls 0

# ---------------------------------------------------------------------------
# S3 (s3rver: paths and headers checked, signatures not)

try "S3: A uploads, B fetches; a wrong access key is one warning"
wipe
mkproject
AWS_ACCESS_KEY_ID=$S3ID AWS_SECRET_ACCESS_KEY=$S3SECRET em --remote "$S3URL" --remote-upload --json a.json
assert_rc 0
checks "no warning" '! grep -q warning $T/err'
check "objects under the prefix" test -n "$(find "$S3D/data/evals" -path '*team/cache/ac*' -type f)"
clone b
AWS_ACCESS_KEY_ID=$S3ID AWS_SECRET_ACCESS_KEY=$S3SECRET AWS_SESSION_TOKEN=session-token-$$ \
	em --remote "$S3URL" --json b.json
assert_calls 0
assert_json b.json '.remote' 12
checks "same scores" '[ "$(scores b.json)" = "$(scores $P/a.json)" ]'
rm -rf cache
AWS_ACCESS_KEY_ID=NOSUCHKEY AWS_SECRET_ACCESS_KEY=$S3SECRET em --remote "$S3URL"
assert_rc 0
assert_calls 12
one_warning 'remote cache'
check "says why" grep -q 'InvalidAccessKeyId' "$T/err"
check "the secret is not printed" ! grep -q "$S3SECRET" "$T/err"
rm -rf cache calls
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$E" --remote "$S3URL" >"$T/out" 2>"$T/err"
one_warning 'AWS_ACCESS_KEY_ID'

# ---------------------------------------------------------------------------
# configuration errors: exit 2 naming where

try "a bad remote: url names the Evalfile's line"
mkproject
printf 'remote:\n  url: ftp://example.com/x\n' >>Evalfile
bad_input 'Evalfile:[0-9]+:[0-9]+: remote: url: expected' 

try "remote: keys and values are checked"
mkproject
printf 'remote: {url: "http://127.0.0.1:1/c", uplod: true}\n' >>Evalfile
bad_input "Evalfile:[0-9]+:[0-9]+: remote: unknown key 'uplod' \\(did you mean 'upload'\\?\\)"
try "remote: timeout must be a number"
mkproject
printf 'remote: {url: "s3://b/p?region=eu-west-1", timeout: soon}\n' >>Evalfile
bad_input 'Evalfile:[0-9]+:[0-9]+: remote: timeout: expected a number'
try "an s3:// URL with an unknown query"
mkproject
printf 'remote: {url: "s3://b/p?colour=blue"}\n' >>Evalfile
bad_input 'remote: url: expected only region=... and endpoint=...'

try "the password of a remote URL is a secret: an agent printing its environment stores none of it, here or there"
wipe
mkproject
cat >envagent.sh <<'EOF2'
#!/bin/sh
cat >/dev/null
env | grep EVALMAKE_REMOTE
EOF2
chmod +x envagent.sh
cat >>Evalfile <<'EOF2'
  envs:
    tasks: tasks/calc/*
    agent: {command: ./envagent.sh}
EOF2
EVALMAKE_REMOTE=$REMOTE em --remote-upload envs
assert_rc 0
em log envs/t1
check "log shows the variable" grep -q 'EVALMAKE_REMOTE=' "$T/out"
check "log shows no password" ! grep -qF "$NGPASS" "$T/out"
checks "no password in the cache" '! grep -rqF "$NGPASS" cache && ! entrytext | grep -qF "$NGPASS"'
checks "the entries were uploaded" '[ -n "$(ls "$STORE/ac" 2>/dev/null)" ]'
check "no password on the server" ! grep -rqF "$NGPASS" "$STORE"
check "none printed" ! grep -qF "$NGPASS" "$T/out" "$T/err"

try "an http(s) remote URL with a query or a fragment is refused"
mkproject
em --remote "http://127.0.0.1:1/cache?x=1"
assert_rc 2
check "says why" grep -q "no '?' or '#'" "$T/err"
assert_calls 0

try "a bad --remote and a bad EVALMAKE_REMOTE are exit 2"
mkproject
em --remote "gopher://x"
assert_rc 2
check "names --remote" grep -q -- '--remote: expected' "$T/err"
EVALMAKE_REMOTE="s3://" em
assert_rc 2
check "names EVALMAKE_REMOTE" grep -q 'EVALMAKE_REMOTE: expected a bucket' "$T/err"
assert_calls 0
EVALMAKE_REMOTE="s3://" em --no-remote
assert_rc 0
rm -f calls
em --remote-upload
assert_rc 2
check "no remote to upload to" grep -q -- '--remote-upload: no remote cache' "$T/err"
assert_calls 0

finish
stopservers
summary
