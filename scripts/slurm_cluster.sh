#!/usr/bin/env bash
# A single-node SLURM cluster on this machine (Debian's slurm-wlm + munge, run as root), for the dispatch tests
# and for trying `--executor slurm` without a cluster (its node has no GPU: pass --cluster gpus_per_task=0
# cpus_per_task=1 mem_gb=2).  Everything lives in DIR: its own munge key and socket,
# slurm.conf, state, logs and pid files; the ports are free ones picked at start.
#   scripts/slurm_cluster.sh start DIR   starts munged, slurmctld, slurmd; waits until the node is idle; prints
#                                        the line to use it: export SLURM_CONF=DIR/slurm.conf
#   scripts/slurm_cluster.sh stop DIR    stops the three daemons by the pids in their pid files
# Exit status: 0 done, 1 a daemon did not start (its log is printed), 2 bad arguments or SLURM not installed.
set -euo pipefail
ACTION="${1:-}" DIR="${2:-}"
if [ -z "$DIR" ] || { [ "$ACTION" != start ] && [ "$ACTION" != stop ]; }; then
    echo "usage: $0 start|stop DIR" >&2; exit 2
fi
stop() {
    if [ -s "$DIR/slurmctld.pid" ] && kill -0 "$(cat "$DIR/slurmctld.pid")" 2>/dev/null; then
        # end this cluster's jobs first (SLURM_CONF names it), so that no job step outlives its slurmd
        export SLURM_CONF="$DIR/slurm.conf"
        scancel --user "$(id -un)" 2>/dev/null || true
        for _ in $(seq 100); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
    fi
    for daemon in slurmd slurmctld munged; do
        pid="$(cat "$DIR/$daemon.pid" 2>/dev/null || true)"
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
    for daemon in slurmd slurmctld munged; do  # wait for each to exit, then SIGKILL a stuck one
        pid="$(cat "$DIR/$daemon.pid" 2>/dev/null || true)"
        for _ in $(seq 50); do { [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; } && break; sleep 0.1; done
        [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
        rm -f "$DIR/$daemon.pid"
    done
}
if [ "$ACTION" = stop ]; then stop; exit 0; fi

for daemon in munged slurmctld slurmd; do  # a second start on one folder would orphan the first daemons
    pid="$(cat "$DIR/$daemon.pid" 2>/dev/null || true)"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        echo "$daemon of $DIR already runs (pid $pid): stop it first ($0 stop $DIR)" >&2; exit 2
    fi
done
for tool in munged slurmctld slurmd sinfo sbatch; do
    command -v "$tool" >/dev/null || { echo "$tool not found: install Debian's slurm-wlm and munge" \
        "(scripts/install_system_deps.sh slurm)" >&2; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { echo "the single-node cluster runs its daemons as root (SlurmUser=root)" >&2; exit 2; }
mkdir -p "$DIR/state" "$DIR/spool"
DIR="$(cd "$DIR" && pwd)"
chmod 700 "$DIR"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
CTLD_PORT="$(free_port)" SLURMD_PORT="$(free_port)"
CPUS="$(nproc)"
MEMORY_MB="$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)"
cat > "$DIR/slurm.conf" <<EOF
ClusterName=vprlocal
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge.socket
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
MailProg=/bin/true
KillWait=5
NodeName=vprnode NodeHostname=$(hostname -s) NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEMORY_MB State=UNKNOWN
PartitionName=local Nodes=vprnode Default=YES MaxTime=INFINITE State=UP
EOF
[ -f "$DIR/munge.key" ] || { dd if=/dev/urandom of="$DIR/munge.key" bs=1024 count=1 status=none; chmod 400 "$DIR/munge.key"; }
export SLURM_CONF="$DIR/slurm.conf"
started() {  # waits for a pid file, then checks the daemon lives
    for _ in $(seq 100); do [ -s "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null && return 0; sleep 0.1; done
    echo "$1 did not start; its log:" >&2; tail -20 "$DIR/$1.log" >&2 || true; stop; exit 1
}
munged --socket="$DIR/munge.socket" --key-file="$DIR/munge.key" --pid-file="$DIR/munged.pid" \
    --log-file="$DIR/munged.log" --seed-file="$DIR/munge.seed" --force
started munged
slurmctld -c
started slurmctld
slurmd -N vprnode
started slurmd
for _ in $(seq 150); do
    state="$(sinfo -h -n vprnode -o %T 2>/dev/null || true)"
    [ "$state" = idle ] && { echo "export SLURM_CONF=$DIR/slurm.conf"; exit 0; }
    sleep 0.2
done
echo "the node did not become idle (state: ${state:-none}); slurmctld's log:" >&2
tail -20 "$DIR/slurmctld.log" >&2
stop
exit 1
