#!/usr/bin/env bash
# A one-host Slurm cluster for flow's tests: munged, slurmctld and slurmd as root, no systemd,
# everything (config, state, logs, pid files) under one folder.
#
#   tests/slurm/cluster.sh start   installs slurm-wlm and munge if missing, starts the daemons
#                                  and waits until the node takes jobs; prints `export SLURM_CONF=...`
#   tests/slurm/cluster.sh stop    cancels every job, stops the daemons
#   tests/slurm/cluster.sh env     prints the export line only
#
# FLOW_SLURM_DIR (default /tmp/flow-slurm) holds it all. Without slurmdbd, `sacct` has no
# accounting store: the cluster writes job completions to a text file (jobcomp/filetxt), which
# `sacct -c` reads. Facts this relies on (Debian 12, slurm-wlm 22.05): the controller host must
# be `localhost` or the real host name; munged's socket folder must be searchable by all; a job
# without --mem takes the whole node unless DefMemPerCPU is set; batch_sched_delay=0 starts a
# job within about a second of sbatch.
set -euo pipefail

DIR=${FLOW_SLURM_DIR:-/tmp/flow-slurm}
CONF=$DIR/etc/slurm.conf
SOCKET=$DIR/munge/munge.socket
NODE=$(hostname -s 2>/dev/null || echo localhost)
PATIENCE=60

say() { echo "[flow-slurm] $*" >&2; }
fail() { say "error: $*"; exit 1; }
# running PIDFILE NAME: the pid file names a live process called NAME
running() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] &&
        [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]
}
# within SECONDS COMMAND...: retries the command every 0.1 s
within() {
    local tries=$(($1 * 10))
    shift
    while ! "$@" >/dev/null 2>&1; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || return 1
        sleep 0.1
    done
}

install() {
    local need=0
    for program in slurmctld slurmd sbatch munged; do
        command -v "$program" >/dev/null || need=1
    done
    [ "$need" = 1 ] || return 0
    [ "$(id -u)" = 0 ] || fail "Slurm is not installed and installing it needs root (apt-get install slurm-wlm munge)"
    say "installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    # The packages' init scripts would start daemons with the default configuration.
    local policy=/usr/sbin/policy-rc.d made=0
    if [ ! -e $policy ]; then
        printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy && made=1
    fi
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null; }
    [ "$made" = 0 ] || rm -f $policy
}

configure() {
    mkdir -p "$DIR"/etc "$DIR"/state "$DIR"/spool "$DIR"/log "$DIR"/run "$DIR"/munge
    chmod 755 "$DIR" "$DIR"/munge
    chmod 700 "$DIR"/state
    [ -s "$DIR/munge/key" ] || head -c 1024 /dev/urandom >"$DIR/munge/key"
    chmod 400 "$DIR/munge/key"
    local cpus memory
    cpus=$(nproc)
    memory=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.8 }' /proc/meminfo)
    cat >"$CONF.new" <<EOF
ClusterName=flowtest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=$((memory / cpus))
ReturnToService=2
SlurmdParameters=config_overrides
MinJobAge=300
KillWait=5
InactiveLimit=0
MaxArraySize=1001
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    if cmp -s "$CONF.new" "$CONF"; then
        rm "$CONF.new"
    else
        mv "$CONF.new" "$CONF"
    fi
    : >"$DIR/etc/plugstack.conf"
}

start() {
    install
    configure
    export SLURM_CONF=$CONF
    if ! running "$DIR/run/munged.pid" munged; then
        rm -f "$SOCKET" "$SOCKET.lock"
        munged --key-file="$DIR/munge/key" --socket="$SOCKET" --pid-file="$DIR/run/munged.pid" \
            --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/seed" ||
            fail "munged did not start: see $DIR/log/munged.log"
    fi
    running "$DIR/run/slurmctld.pid" slurmctld || slurmctld -f "$CONF" ||
        fail "slurmctld did not start: see $DIR/log/slurmctld.log"
    within $PATIENCE sh -c 'scontrol ping | grep -q UP' || fail "slurmctld does not answer: see $DIR/log/slurmctld.log"
    running "$DIR/run/slurmd.pid" slurmd || slurmd -f "$CONF" -N "$NODE" ||
        fail "slurmd did not start: see $DIR/log/slurmd.log"
    idle() { sinfo -h -n "$NODE" -o %T | grep -Eq '^(idle|mixed|allocated)'; }
    within $PATIENCE idle || fail "node $NODE does not take jobs: see $DIR/log/slurmd.log"
    echo "export SLURM_CONF=$CONF"
}

stop() {
    export SLURM_CONF=$CONF
    scancel --user="$(id -un)" 2>/dev/null || true
    for daemon in slurmd slurmctld munged; do
        local pidfile=$DIR/run/$daemon.pid pid
        if running "$pidfile" "$daemon"; then
            pid=$(cat "$pidfile")
            kill "$pid"
            # A zombie counts as stopped: the init process reaps it when it gets to it.
            within 10 sh -c "! kill -0 $pid 2>/dev/null || grep -q '^State:.*Z' /proc/$pid/status" ||
                say "$daemon did not stop"
        fi
    done
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env) echo "export SLURM_CONF=$CONF" ;;
*) fail "usage: $0 start|stop|env" ;;
esac
