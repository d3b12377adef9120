#!/usr/bin/env bash
# bench/remote.sh: fetching a whole project's results from the remote
# cache, against the transfer floor.
#
# Usage:  bash bench/remote.sh
# Environment:
#   EVALMAKE=path   the binary to measure (default: the repo's ./evalmake)
#   N=10000         cells (tasks in one .jsonl file, 1 iteration)
#   JOBS=16         -j of the run that fills the remote (agents are `sh`)
#   REPS=3          fetches timed (each into a fresh cache); the minimum counts
#   KEEP=1          keep the temp folder (the script prints where)
#   TMPDIR          where the temp folder goes (default /tmp)
#
# It starts nginx on 127.0.0.1 (WebDAV PUT, its config and storage in the
# temp folder, stopped by its pid), then:
#   run     clone A (empty cache) runs the N agents and uploads
#           (--remote-upload): the cost of computing the results
#   fetch   clone B (a fresh folder, empty cache, the same inputs) runs
#           `evalmake -s --remote URL`: N lookups and N blobs fetched,
#           verified and stored; checked: 0 agent calls, remote N
#   floor   `curl --parallel --parallel-max 64` fetching the same objects
#           (every file under ac/ and cas/) from the same nginx to /dev/null
# and prints wall times and the ratios fetch/floor (the issue asks for
# <= 2x) and run/fetch.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
EVALMAKE=${EVALMAKE:-$repo/evalmake}
N=${N:-10000}
JOBS=${JOBS:-16}
REPS=${REPS:-3}
KEEP=${KEEP:-0}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

die() {
	echo "remote.sh: FAIL: $*" >&2
	exit 1
}

[ -x "$EVALMAKE" ] || die "no evalmake binary at $EVALMAKE (run make first)"
[ -x "$NGINX" ] || die "needs nginx"
for tool in curl jq awk python3; do
	command -v $tool >/dev/null || die "needs $tool"
done
[[ $N =~ ^[1-9][0-9]{0,6}$ ]] || die "N must be an integer from 1 to 9999999"
[[ $REPS =~ ^[1-9][0-9]?$ ]] || die "REPS must be from 1 to 99"

work=$(mktemp -d "${TMPDIR:-/tmp}/evalmake-remotebench.XXXXXX")
NGPID=""
finish() {
	if [ -n "$NGPID" ]; then
		kill -TERM "$NGPID" 2>/dev/null || true
		wait "$NGPID" 2>/dev/null || true
	fi
	if [ "$KEEP" = 1 ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap finish EXIT

# nginx
ng=$work/nginx
mkdir -p "$ng/store/cache" "$ng/tmp" "$ng/logs"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user=""
[ "$(id -u)" = 0 ] && user="user root;"
cat >"$ng/nginx.conf" <<NGEOF
daemon off;
$user
worker_processes 1;
pid $ng/nginx.pid;
error_log $ng/logs/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $ng/tmp/body;
	proxy_temp_path $ng/tmp/proxy;
	fastcgi_temp_path $ng/tmp/fastcgi;
	uwsgi_temp_path $ng/tmp/uwsgi;
	scgi_temp_path $ng/tmp/scgi;
	client_max_body_size 0;
	keepalive_requests 100000;
	server {
		listen 127.0.0.1:$port;
		root $ng/store;
		location /cache/ {
			dav_methods PUT;
			create_full_put_path on;
		}
	}
}
NGEOF
"$NGINX" -p "$ng" -e "$ng/logs/error.log" -c "$ng/nginx.conf" >"$ng/logs/stdout" 2>&1 &
NGPID=$!
for ((i = 0; i < 100; i++)); do
	curl -s -o /dev/null "http://127.0.0.1:$port/" && break
	sleep 0.05
done
kill -0 "$NGPID" 2>/dev/null || die "nginx did not start: $(cat "$ng/logs/error.log")"
url=http://127.0.0.1:$port/cache

# the project
mkdir -p "$work/a"
cd "$work/a"
awk -v n="$N" 'BEGIN { for (i = 1; i <= n; i++) printf "{\"id\": \"t%06d\", \"input\": \"w%06d\", \"expected\": \"w%06d\"}\n", i, i, i }' >tasks.jsonl
printf '#!/bin/sh\necho call >>calls\ncat\n' >agent.sh
chmod +x agent.sh
printf 'suites:\n  s:\n    tasks: tasks.jsonl\n    iterations: 1\n    agent: {command: ./agent.sh}\n    grader: {type: exact, trim: true}\n' >Evalfile

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
least() { awk -v a="$1" -v b="$2" 'BEGIN { print ((a == "" || b + 0 < a + 0) ? b : a) }'; }

t0=$EPOCHREALTIME
"$EVALMAKE" -s -j "$JOBS" --remote "$url" --remote-upload --json a.json || die "clone A failed"
t1=$EPOCHREALTIME
run=$(secs "$t0" "$t1")
[ "$(jq .ran a.json)" = "$N" ] || die "clone A ran $(jq .ran a.json) cells, expected $N"
nobj=$(find "$ng/store/cache" -type f | wc -l)

best=""
for ((r = 1; r <= REPS; r++)); do
	rm -rf "${work:?}/b"
	mkdir -p "$work/b"
	cp "$work/a/tasks.jsonl" "$work/a/agent.sh" "$work/a/Evalfile" "$work/b/"
	cd "$work/b"
	sync
	t0=$EPOCHREALTIME
	"$EVALMAKE" -s --remote "$url" --json b.json || die "clone B failed"
	t1=$EPOCHREALTIME
	[ ! -e calls ] || die "clone B called the agent $(wc -l <calls) times"
	[ "$(jq .remote b.json)" = "$N" ] || die "clone B fetched $(jq .remote b.json) cells, expected $N"
	best=$(least "$best" "$(secs "$t0" "$t1")")
done

# the floor: the same objects, by curl, as parallel as evalmake (64)
(cd "$ng/store/cache" && find ac cas -type f) |
	awk -v u="$url" '{ printf "url = \"%s/%s\"\noutput = \"/dev/null\"\n", u, $0 }' >"$work/curl.cfg"
floor=""
for ((r = 1; r <= REPS; r++)); do
	t0=$EPOCHREALTIME
	curl -s --no-progress-meter --parallel --parallel-max 64 -K "$work/curl.cfg" || die "curl failed"
	t1=$EPOCHREALTIME
	floor=$(least "$floor" "$(secs "$t0" "$t1")")
done

printf 'cells %d, objects on the server %d\n' "$N" "$nobj"
printf '%-6s %8ss  %s\n' run "$run" "clone A: $N agents (-j $JOBS) and their uploads"
printf '%-6s %8ss  %s\n' fetch "$best" "clone B: every result fetched, verified, stored (min of $REPS)"
printf '%-6s %8ss  %s\n' floor "$floor" "curl --parallel (64) of the same objects to /dev/null (min of $REPS)"
awk -v f="$best" -v c="$floor" -v r="$run" 'BEGIN {
	printf "fetch / floor  %.2fx (the issue asks for <= 2x)\n", (c > 0 ? f / c : 0)
	printf "run / fetch    %.1fx (running the agents instead of fetching)\n", (f > 0 ? r / f : 0) }'
