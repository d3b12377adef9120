#!/usr/bin/env bash
# End-to-end tests of the live view (`evalmake watch --serve`) and of the
# HTML report's filter and sort controls.
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/live.sh
#
# The live page is driven in headless Chromium by tests/e2e/cdp.py (the
# DevTools protocol over a pipe; Python's standard library only): a task
# file is saved while the page is open, and the cell's colour must change
# without a reload. /events is read with curl. Waits are bounded polls.
# Needs: bash 5, jq, curl, python3, chromium.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

for tool in curl python3 chromium; do
	if ! command -v $tool >/dev/null; then
		echo "live.sh: needs $tool" >&2
		exit 2
	fi
done
CDP=$HERE/cdp.py

# start `evalmake watch --jsonl --serve ARGS`: wait for its URL ($URL) and
# its first report line
WPID="" URL=""
startlive() {
	last="evalmake watch --jsonl --serve $* (background)"
	: >"$T/out"
	: >"$T/err"
	set -m
	"$E" watch --jsonl --serve "$@" >"$T/out" 2>"$T/err" &
	WPID=$!
	set +m
	BGPIDS+=("$WPID")
	if ! waitfor 20 '[ -s "$T/out" ] && grep -q "live view at" "$T/err"'; then
		fail "no URL and first report within 20 s"
		return 1
	fi
	URL=$(grep -o 'http://[^ ]*' "$T/err" | head -n 1)
}

# Ctrl-C: exits 130
stoplive() {
	kill -INT "$WPID" 2>/dev/null
	if ! waitfor 10 '! kill -0 $WPID 2>/dev/null'; then
		fail "watch did not exit within 10 s of SIGINT"
		kill -9 "$WPID" 2>/dev/null
	fi
	wait "$WPID" 2>/dev/null
	rc=$?
	assert_rc 130
	sancheck "$T/err"
}

# lines of $T/out (watch's report lines: one per update)
nlines() { wc -l <"$T/out" | tr -d ' '; }

CELL='document.querySelector(\x27button[data-cell="calc/t3#1"]\x27)'

try "the live page recolours a cell when its task is saved, without a reload"
mkproject 3
startlive
# t3 fails (its expected answer is THREE); saving the input as THREE fixes it
printf '%b\n' \
	"wait $CELL" \
	"print $CELL.className + ' ' + $CELL.style.background" \
	"wait document.getElementById('live').textContent.indexOf('live') === 0" \
	"print (window.notreloaded = 1)" \
	"write tasks/calc/t3/input.txt THREE" \
	"wait $CELL.textContent === '1'" \
	"print $CELL.className + ' ' + $CELL.style.background" \
	"print window.notreloaded" >script
timeout -k 5 150 python3 "$CDP" "$URL" <script >"$T/dom" 2>>"$T/err" || fail "chromium could not drive the page"
checks "the cell was red (score 0) first" 'sed -n 1p "$T/dom" | grep -q "cell scored rgb(182, 43, 43)"'
checks "then green (score 1)" 'sed -n 3p "$T/dom" | grep -q "cell scored rgb(35, 149, 35)"'
checks "its colour changed" '[ "$(sed -n 1p "$T/dom")" != "$(sed -n 3p "$T/dom")" ]'
checks "the page was not reloaded" '[ "$(sed -n 4p "$T/dom")" = 1 ]'
stoplive

try "a click on a live cell shows its transcript; filter and sort work on the live page"
mkproject 3
startlive
printf '%b\n' \
	"wait document.querySelector('button[data-cell=\x22calc/t1#2\x22]')" \
	"print (document.querySelector('button[data-cell=\x22calc/t1#2\x22]').click(), 1)" \
	"wait document.querySelector('#detail pre[data-part=transcript]')" \
	"print document.querySelector('#detail pre[data-part=transcript]').textContent" \
	"print document.querySelector('#detail pre[data-part=expected]').textContent" \
	"type status failing" \
	"print Array.from(document.querySelectorAll('#suite-calc tbody tr')).map(function (r) { return r.dataset.task; }).join(',')" \
	"type status " \
	"type sort -score" \
	"print Array.from(document.querySelectorAll('#suite-calc tbody tr')).map(function (r) { return r.dataset.task; }).join(',')" >script
timeout -k 5 150 python3 "$CDP" "$URL" <script >"$T/dom" 2>>"$T/err" || fail "chromium could not drive the page"
checks "the transcript, fetched on the click" 'sed -n 2p "$T/dom" | grep -q "agent: working on t1"'
checks "the expected answer" '[ "$(sed -n 3p "$T/dom")" = "\"one\\n\"" ]'
checks "failing: t3 only" '[ "$(sed -n 4p "$T/dom")" = "\"t3\"" ]'
checks "highest score first: t3 last" '[ "$(sed -n 5p "$T/dom")" = "\"t1,t2,t3\"" ]'
stoplive

try "/events sends the whole report, then the changed task after a save"
mkproject 3
startlive
curl -s -N --max-time 60 "${URL}events" >"$T/events" 2>/dev/null &
CURLPID=$!
checks "the first event: the whole report" 'waitfor 20 "grep -q \"^data: {\\\"full\\\":true\" \"$T/events\""'
n=$(nlines)
printf 'THREE\n' >tasks/calc/t3/input.txt
checks "watch reported the update" "waitfor 30 '[ \$(nlines) -gt $n ]'"
checks "an event with calc/t3 scoring 1 arrived" 'waitfor 20 "grep \"^data: \" \"$T/events\" | sed 1d | sed \"s/^data: //\" | jq -e \"select(.full != true) | .suites[] | select(.name == \\\"calc\\\") | .tasks[] | select(.id == \\\"t3\\\" and .score == 1)\" >/dev/null"'
checks "an update names only the tasks that changed" 'grep "^data: " "$T/events" | tail -n 1 | sed "s/^data: //" | jq -e "[.suites[].tasks[].id] == [\"t3\"]"'
kill "$CURLPID" 2>/dev/null
wait "$CURLPID" 2>/dev/null
stoplive

try "the page, a cell's texts, and what is not there"
mkproject 3
startlive
check "GET / is the page" curl -sf -o "$T/page" "$URL"
checks "the page is marked live and has no texts" 'grep -q "\"live\":true" "$T/page" && ! grep -q "agent: working on" "$T/page"'
checks "it loads nothing from elsewhere" '! grep -Eq "(src|href)=\"(https?:)?//" "$T/page"'
check "GET /cell" curl -sf -o "$T/cell" "${URL}cell?id=calc%2Ft1%231"
assert_json "$T/cell" .transcript '"agent: working on t1\n"'
assert_json "$T/cell" .output '"one\n"'
checks "an unknown cell is 404" '[ "$(curl -s -o /dev/null -w "%{http_code}" "${URL}cell?id=calc/nope%231")" = 404 ]'
checks "an unknown path is 404" '[ "$(curl -s -o /dev/null -w "%{http_code}" "${URL}etc/passwd")" = 404 ]'
checks "a page of another site (DNS rebinding) is refused" '[ "$(curl -s -o /dev/null -w "%{http_code}" -H "Host: evil.example:${URL##*:}" "$URL")" = 403 ]'
checks "POST is refused" '[ "$(curl -s -o /dev/null -w "%{http_code}" -d x "$URL")" = 405 ]'
stoplive

try "a client that stops reading or says nothing never blocks the loop"
mkproject 3
startlive
port=${URL##*:}
port=${port%/}
# 5 connections that send nothing, and a stream that is never read
python3 - "$port" >"$T/py" 2>&1 <<'EOF' &
import socket, sys, time
port = int(sys.argv[1])
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
print("connected", flush=True)
time.sleep(60)
EOF
PYPID=$!
checks "the clients connected" 'waitfor 20 "grep -q connected \"$T/py\""'
check "the page is still served" timeout 20 curl -sf -o /dev/null "$URL"
n=$(nlines)
printf 'THREE\n' >tasks/calc/t3/input.txt
checks "an update still happens" "waitfor 30 '[ \$(nlines) -gt $n ]'"
check "and the page is still served" timeout 20 curl -sf -o /dev/null "$URL"
kill "$PYPID" 2>/dev/null
wait "$PYPID" 2>/dev/null
stoplive

try "--serve: loopback by default, :PORT is loopback too, a port in use is a clear error"
mkproject 3
startlive :0
checks "':0' listens on 127.0.0.1" '[[ $URL == http://127.0.0.1:* ]]'
port=${URL##*:}
port=${port%/}
em watch --serve "127.0.0.1:$port"
assert_rc 2
checks "it names the address and the cause" 'grep -q "cannot listen on 127.0.0.1 port $port: Address already in use" "$T/err"'
assert_calls 12 # the second watch ran nothing
em watch --serve "$port"
assert_rc 2
em watch --serve 127.0.0.1:99999
assert_rc 2
checks "a bad port is named" 'grep -q "expected PORT, ADDR, ADDR:PORT" "$T/err"'
em watch --serve=nosuchhost.invalid:0
assert_rc 2
checks "an unknown name is named" 'grep -q "cannot resolve nosuchhost.invalid" "$T/err"'
em status --serve
assert_rc 2
checks "--serve belongs to watch" 'grep -q "status does not take --serve (it is an option of watch" "$T/err"'
stoplive

try "--serve refuses a host name that is not this machine (a numeric address is taken as given)"
mkproject 3
# a name that resolves to a non-loopback address: one of our own in a
# private /etc/hosts (a mount namespace, where we may make one), else one
# this machine resolves so, if any
printf '127.0.0.1 localhost\n192.0.2.7 farhost\n' >"$T/hosts"
if unshare -m sh -c 'mount --bind "$1" /etc/hosts && getent hosts farhost' sh "$T/hosts" >/dev/null 2>&1; then
	last="evalmake watch --serve farhost:0 (with farhost at 192.0.2.7)"
	timeout -k 5 60 unshare -m sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh "$T/hosts" \
		"$E" watch --serve farhost:0 >"$T/out" 2>"$T/err"
	rc=$?
	assert_rc 2
	checks "it says why" 'grep -q "farhost is not a loopback address" "$T/err"'
	assert_calls 0
else
	name=""
	for cand in "$(hostname -f 2>/dev/null)" "$(hostname 2>/dev/null)"; do
		[ -n "$cand" ] || continue
		a=$(getent ahosts "$cand" 2>/dev/null | awk 'NR == 1 { print $1 }')
		case $a in "" | 127.* | ::1) ;; *) name=$cand; break ;; esac
	done
	if [ -n "$name" ]; then
		em watch --serve "$name:0"
		assert_rc 2
		checks "it says why" 'grep -q "is not a loopback address" "$T/err"'
		assert_calls 0
	else
		echo "  (no name resolves to a non-loopback address here, and no private /etc/hosts: skipped)"
	fi
fi
startlive localhost:0
checks "localhost is served" 'curl -sf -o /dev/null "$URL"'
stoplive

try "the static report: filter by task id and status, sort by score"
mkproject 5
em
em report --html "$T/r.html"
assert_rc 0
printf '%b\n' \
	"wait document.querySelector('#suite-quiz tbody tr')" \
	"print document.querySelectorAll('#suite-quiz tbody tr').length" \
	"type filter q2" \
	"print Array.from(document.querySelectorAll('#suite-quiz tbody tr')).map(function (r) { return r.dataset.task; }).join(',')" \
	"print document.querySelector('#suite-quiz .shown').textContent" \
	"type filter " \
	"type status passing" \
	"print Array.from(document.querySelectorAll('#suite-quiz tbody tr')).map(function (r) { return r.dataset.task; }).join(',')" \
	"type status " \
	"type sort score" \
	"print Array.from(document.querySelectorAll('#suite-calc tbody tr')).map(function (r) { return r.dataset.task; }).join(',')" >script
timeout -k 5 150 python3 "$CDP" "file://$T/r.html" <script >"$T/dom" 2>>"$T/err" || fail "chromium could not drive the page"
checks "5 quiz tasks at first" '[ "$(sed -n 1p "$T/dom")" = 5 ]'
checks "the filter box keeps q2" '[ "$(sed -n 2p "$T/dom")" = "\"q2\"" ]'
checks "and says how many are shown" '[ "$(sed -n 3p "$T/dom")" = "\"1 of 5 tasks shown\"" ]'
checks "passing quiz tasks" '[ "$(sed -n 4p "$T/dom")" = "\"q1,q4,q5\"" ]'
checks "lowest score first: t3 first" '[ "$(sed -n 5p "$T/dom")" = "\"t3,t1,t2,t4,t5\"" ]'
# the same from the address: FILE#status=failing
printf '%b\n' "wait document.querySelector('#suite-quiz tbody tr')" \
	"print Array.from(document.querySelectorAll('tbody tr')).map(function (r) { return r.dataset.task; }).join(',')" >script
timeout -k 5 150 python3 "$CDP" "file://$T/r.html#status=failing" <script >"$T/dom" 2>>"$T/err" || fail "chromium could not drive the page"
checks "#status=failing in the address" '[ "$(sed -n 1p "$T/dom")" = "\"t3,q2,q3\"" ]'

summary
