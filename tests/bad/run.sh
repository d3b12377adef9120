#!/usr/bin/env bash
# The bad-input catalogue: malformed Evalfiles, task files of every format,
# templates and a misbehaving model server, generated from a seed
# (tests/bad/gen.py), each run through evalmake in its own project.
#
#   EVALMAKE=/abs/evalmake MODELSERVER=/abs/build/modelserver bash tests/bad/run.sh
#
# Every input must end within a time bound with exit 2 (bad input: nothing
# ran, no cache written) and a message naming its file (FILE:LINE when the
# case knows a line), or exit 1 naming the model server (127.0.0.1:PORT)
# and the cell; no crash, no hang, no sanitizer report.
#   BAD_SEED   the generator's seed (default 1)
#   BAD_EVERY  run every Nth input only (default 1: all; make test uses a
#              fixed subset, make stress all)
#   BAD_KEEP   keep the generated projects (a folder is printed)
# Needs: bash, python3, coreutils, curl (for the server's port), timeout.
set -u
export LC_ALL=C NO_COLOR=1
unset GITHUB_STEP_SUMMARY OPENAI_API_KEY ANTHROPIC_API_KEY EVALMAKE_CACHE
export BADKEY=sk-bad-catalogue-0123456789

HERE=$(cd "$(dirname "$0")" && pwd)
E=${EVALMAKE:-}
MS=${MODELSERVER:-}
case $E in "" | /*) ;; *) E=$PWD/$E ;; esac
case $MS in "" | /*) ;; *) MS=$PWD/$MS ;; esac
if [ ! -x "$E" ] || [ ! -x "$MS" ]; then
	echo "bad/run.sh: set EVALMAKE and MODELSERVER to the binaries" >&2
	exit 2
fi
SEED=${BAD_SEED:-1}
EVERY=${BAD_EVERY:-1}
LIMIT=60 # seconds an input may take: a hang is a failure, not a wait

TOP=$(mktemp -d "${TMPDIR:-/tmp}/evalmake-bad.XXXXXX") || exit 2
MSPID=""
cleanup() {
	if [ -n "$MSPID" ]; then
		kill -TERM "$MSPID" 2>/dev/null
		wait "$MSPID" 2>/dev/null
	fi
	cd /
	if [ -n "${BAD_KEEP:-}" ]; then echo "kept: $TOP" >&2; else rm -rf "$TOP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$MS" --port 0 --port-file "$TOP/ms.port" >"$TOP/ms.log" 2>&1 &
MSPID=$!
for ((i = 0; i < 200; i++)); do
	[ -s "$TOP/ms.port" ] && break
	sleep 0.05
done
PORT=$(cat "$TOP/ms.port" 2>/dev/null)
if ! [[ $PORT =~ ^[0-9]+$ ]]; then
	echo "bad/run.sh: the model server did not start" >&2
	exit 2
fi

started=$EPOCHSECONDS
total=$(python3 "$HERE/gen.py" "$SEED" "$TOP/cases" "$EVERY") || exit 2

npass=0 nfail=0 n0=0 nrun=0 n2line=0 n2file=0 n1=0 nslow=0
slowest=0 slowcase=""
failcase() {
	nfail=$((nfail + 1))
	echo "FAIL: $name ($why): $*"
	echo "    exit $rc; stderr:"
	head -c 2000 "$TOP/err" | head -n 6 | cut -c1-300 | sed 's/^/    | /'
}

for d in "$TOP"/cases/*/; do
	name=$(basename "$d")
	expect="" file="" line="" http=0 cell="" why=""
	. "$d/case"
	cd "$d" || exit 2
	grep -q @PORT@ Evalfile 2>/dev/null && sed -i "s/@PORT@/$PORT/g" Evalfile
	t0=$EPOCHREALTIME
	timeout -k 5 $LIMIT "$E" -k </dev/null >"$TOP/out" 2>"$TOP/err"
	rc=$?
	took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
	[ "$took" -gt "$slowest" ] && slowest=$took slowcase=$name
	nrun=$((nrun + 1))
	msg=$(grep -v '^evalmake: warning:' "$TOP/err" | head -c 100000)
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		nslow=$((nslow + 1))
		failcase "did not finish within $LIMIT s"
	elif grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined)' "$TOP/err"; then
		failcase "sanitizer report"
	elif [ "$rc" != "$expect" ]; then
		failcase "exit $rc, expected $expect"
	elif [ "$expect" = 0 ]; then
		npass=$((npass + 1)) n0=$((n0 + 1))
	elif [ "$expect" = 2 ] && [ -e cache ]; then
		failcase "exit 2 but a cache folder was written"
	elif [ "$http" = 1 ]; then
		if ! grep -qF -- "127.0.0.1:$PORT" <<<"$msg"; then
			failcase "the message does not name the server 127.0.0.1:$PORT"
		elif ! grep -qF -- "$cell" <<<"$msg"; then
			failcase "the message does not name the cell $cell"
		else
			npass=$((npass + 1)) n1=$((n1 + 1))
		fi
	elif [ -n "$line" ] && [ "$line" != any ] && ! grep -qF -- "$file:$line:" <<<"$msg" &&
		! grep -qE -- "$(printf '%s' "$file" | sed 's/[.[\*^$]/\\&/g'):$line([^0-9]|\$)" <<<"$msg"; then
		failcase "the message does not name $file:$line"
	elif [ "$line" = any ] && ! grep -qE -- "$(printf '%s' "$file" | sed 's/[.[\*^$]/\\&/g'):[0-9]+" <<<"$msg"; then
		failcase "the message does not name $file:LINE"
	elif ! grep -qF -- "$file" <<<"$msg"; then
		failcase "the message does not name $file"
	elif [ -n "$line" ]; then
		npass=$((npass + 1)) n2line=$((n2line + 1))
	else
		npass=$((npass + 1)) n2file=$((n2file + 1))
	fi
	cd "$TOP" || exit 2
	[ -n "${BAD_KEEP:-}" ] || rm -rf "$d"
done

echo "# bad inputs (seed $SEED, every $EVERY of $total) with $E in $((EPOCHSECONDS - started))s; slowest ${slowest}ms ($slowcase)" >&2
echo "$nrun inputs: exit 2 with file:line: $n2line; exit 2 with the file (no line to name): $n2file; exit 1 naming the server and cell: $n1; the valid control: $n0; hangs: $nslow; failed: $nfail"
echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
