# Start a single-node SLURM in a folder of its own (sourced by
# tests/e2e/slurm.sh and bench/slurm.sh):
#   start_slurm DIR   munged with its own key and socket, slurmctld and
#                     slurmd (slurm.conf in DIR: state, spool, pid files and
#                     logs in DIR, ports on 127.0.0.1, the node of this
#                     host with nproc CPUs), then waits (bounded) until
#                     sinfo shows the node idle; exports SLURM_CONF. A
#                     daemon that cannot start: its log tail, exit 2.
#   stop_slurm        stop every daemon it started, by pid
# Needs: slurm-wlm and munge (Debian), python3 (free ports).

SLURM_DAEMONS=()
SLURM_DIR=""

slurm_waitfor() {
	local end=$((EPOCHSECONDS + $1 + 1))
	while :; do
		eval "$2" && return 0
		[ "$EPOCHSECONDS" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# print why a daemon did not start, and give up
slurm_nostart() {
	echo "slurm: FAILED: $1 did not start; the tail of its log:" >&2
	tail -n 30 "$2" 2>/dev/null | sed 's/^/    | /' >&2
	stop_slurm
	exit 2
}

slurm_freeport() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

stop_slurm() {
	local p f
	[ -n "$SLURM_DIR" ] || return 0
	for f in "$SLURM_DIR/slurmd.pid" "$SLURM_DIR/slurmctld.pid" "$SLURM_DIR/munged.pid"; do
		[ -s "$f" ] && SLURM_DAEMONS+=("$(cat "$f")")
	done
	for p in "${SLURM_DAEMONS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${SLURM_DAEMONS[@]}"; do
		slurm_waitfor 10 "! kill -0 $p 2>/dev/null" || kill -9 "$p" 2>/dev/null
	done
	SLURM_DAEMONS=()
	SLURM_DIR=""
}

start_slurm() {
	local S=$1 tool node user
	for tool in /usr/sbin/munged /usr/sbin/slurmctld /usr/sbin/slurmd sbatch squeue scancel sinfo python3; do
		if ! command -v "$tool" >/dev/null; then
			echo "slurm: FAILED: needs $tool (Debian: apt-get install slurm-wlm munge)" >&2
			exit 2
		fi
	done
	SLURM_DIR=$S
	mkdir -p "$S/state" "$S/spool"
	dd if=/dev/urandom of="$S/munge.key" bs=1024 count=1 2>/dev/null
	chmod 0400 "$S/munge.key"
	/usr/sbin/munged -f --socket="$S/munge.sock" --key-file="$S/munge.key" --pid-file="$S/munged.pid" \
		--log-file="$S/munged.log" --seed-file="$S/munge.seed" >"$S/munged.out" 2>&1 ||
		slurm_nostart munged "$S/munged.out"
	slurm_waitfor 10 "[ -S '$S/munge.sock' ] && [ -s '$S/munged.pid' ]" || slurm_nostart munged "$S/munged.log"
	node=$(hostname -s)
	user=$(id -un)
	cat >"$S/slurm.conf" <<EOF
ClusterName=evalmaketest
SlurmctldHost=localhost
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$S/munge.sock
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
SlurmctldPort=$(slurm_freeport)
SlurmdPort=$(slurm_freeport)
ReturnToService=2
MaxArraySize=100001
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
	export SLURM_CONF=$S/slurm.conf
	/usr/sbin/slurmctld -D -i >"$S/slurmctld.out" 2>&1 &
	SLURM_DAEMONS+=($!)
	/usr/sbin/slurmd -D >"$S/slurmd.out" 2>&1 &
	SLURM_DAEMONS+=($!)
	if ! slurm_waitfor 60 "sinfo -h -o %t 2>/dev/null | grep -qx idle"; then
		kill -0 "${SLURM_DAEMONS[0]}" 2>/dev/null || slurm_nostart slurmctld "$S/slurmctld.log"
		kill -0 "${SLURM_DAEMONS[1]}" 2>/dev/null || slurm_nostart slurmd "$S/slurmd.log"
		sinfo >&2
		slurm_nostart "the node (never idle in sinfo)" "$S/slurmd.log"
	fi
}
