#!/bin/sh
# A deliberately simple scaffold for the arith suite: it finds "A op B" in
# the prompt and computes it. It knows +, - and *, but not division or
# powers, and ignores operator precedence: improve it and watch the score.
# The prompt arrives on stdin; stdout is the answer; stderr is the transcript.
set -f  # no globbing: "*" is an operator here
prompt=$(cat)
expr=$(printf '%s\n' "$prompt" | grep -i 'question:' | sed 's/.*[Qq]uestion: *//')
echo "thinking about: $expr" >&2
set -- $(printf '%s\n' "$expr" | grep -oE '[0-9]+|[-+*/]' | tr '\n' ' ')
[ $# -ge 3 ] || { echo "no arithmetic found" >&2; echo "I don't know"; exit 0; }
acc=$1; shift
while [ $# -ge 2 ]; do
	case $1 in
	+) acc=$((acc + $2)) ;;
	-) acc=$((acc - $2)) ;;
	'*') acc=$((acc * $2)) ;;
	*) echo "unsupported operator $1" >&2; echo "I cannot do that"; exit 0 ;;
	esac
	shift 2
done
echo "result: $acc" >&2
if printf '%s' "$prompt" | grep -qi 'number only'; then
	echo "$acc"
else
	echo "The answer is $acc."
fi
