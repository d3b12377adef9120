#!/bin/sh
# A recorded model for data/gsm8k.jsonl: the final answer of each task as a
# model once gave it (the last one is wrong), by task id (the line number).
cat >/dev/null # the prompt
case $EVAL_TASK in
1) echo 72 ;;
2) echo 2,125 ;;
3) echo 65 ;;
*) echo 250 ;;
esac
