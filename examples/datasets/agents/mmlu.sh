#!/bin/sh
# A recorded model for data/mmlu.csv: the index of the choice it picked
# (the last one is wrong), by task id (the row's position).
cat >/dev/null
case $EVAL_TASK in
1|2|3) echo 1 ;;
*) echo 3 ;;
esac
