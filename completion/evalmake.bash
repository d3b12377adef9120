# bash completion for evalmake: commands, options, and the suites, tasks
# and cells the Evalfile defines (asked of `evalmake __complete`, which
# reads the Evalfile named by -f or found from -C, like evalmake itself).
# Installed by `make install`; to try it: source completion/evalmake.bash

# COMPREPLY: the lines of stdin that start with $1 (a task id may hold
# blanks, so targets are read a line at a time, never split into words),
# quoted for the command line (a blank, and a quote or ( & ; as well)
_evalmake_lines() {
	local line q want=${1//\\/}  # what was typed, without its backslash escapes
	while IFS= read -r line; do
		[[ -n $line && $line == "$want"* ]] || continue
		printf -v q '%q' "$line"
		COMPREPLY+=("$q")
	done
}

_evalmake() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=""
	local em=${COMP_WORDS[0]} cmd="" i w
	local -a where=()
	[ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}
	local commands
	commands=$("$em" __complete commands 2>/dev/null)

	# the command, and the -f/-C the targets are to be read with
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		-f|--file|-C|--directory)
			where+=("$w" "${COMP_WORDS[i+1]}")
			i=$((i + 1))
			;;
		-j|--jobs|--iterations|--sample|--json|--min-score|--baseline|--max-drop|--junit|--markdown|--html|--keep|--format|-o|--output|--until-stderr|--max-cells|--max-cost|--shard|--shards|--executor|--remote)
			i=$((i + 1))
			;;
		-*) ;;
		*)
			if [ -z "$cmd" ] && printf '%s\n' $commands | grep -qxF -- "$w"; then
				cmd=$w
			fi
			;;
		esac
	done

	case $prev in
	-f|--file|--json|--junit|--markdown|--html|--baseline|-o|--output)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	-C|--directory)
		COMPREPLY=($(compgen -d -- "$cur"))
		return
		;;
	--format)
		COMPREPLY=($(compgen -W "chat preference rewards" -- "$cur"))
		return
		;;
	--executor)
		COMPREPLY=($(compgen -W "slurm local" -- "$cur"))
		return
		;;
	-j|--jobs|--iterations|--sample|--min-score|--max-drop|--keep|--until-stderr|--max-cells|--max-cost|--shard|--shards|--remote)
		COMPREPLY=()
		return
		;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$("$em" __complete options $cmd 2>/dev/null)" -- "$cur"))
		return
	fi
	case $cmd in
	help)
		COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		;;
	init|gc)
		COMPREPLY=()
		;;
	diff)
		COMPREPLY=($(compgen -f -- "$cur"))
		;;
	"")
		COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		_evalmake_lines "$cur" < <("$em" "${where[@]}" __complete targets 2>/dev/null)
		;;
	*)
		COMPREPLY=()
		_evalmake_lines "$cur" < <("$em" "${where[@]}" __complete targets 2>/dev/null)
		;;
	esac
}
complete -F _evalmake evalmake
