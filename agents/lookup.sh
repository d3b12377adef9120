#!/bin/sh
# A deliberately small scaffold for the qa suite: it answers from a tiny
# knowledge base (agents/kb.txt, one "keyword|answer" per line) by finding a
# keyword in the question. Facts it lacks are answered "I don't know".
prompt=$(cat)
echo "task $EVAL_TASK, iteration $EVAL_ITERATION" >&2
while IFS='|' read -r key answer; do
	case $key in ''|'#'*) continue ;; esac
	if printf '%s' "$prompt" | grep -qi -- "$key"; then
		echo "matched '$key'" >&2
		echo "$answer"
		exit 0
	fi
done < agents/kb.txt
echo "no keyword matched" >&2
echo "I don't know"
