#!/bin/sh
# A recorded model for data/mmlu_columns.csv: the letter it picked.
cat >/dev/null
case $EVAL_TASK in
1) echo B ;;
2) echo C ;;
*) echo D ;;
esac
