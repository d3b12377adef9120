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
trap 'stopservers; cleanup' EXIT

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

