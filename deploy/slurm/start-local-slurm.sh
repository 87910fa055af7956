#!/usr/bin/env bash
# A real single-node SLURM on localhost, for trying fanodome's SLURM path and for its CI test.
#
# For a Debian 12 machine or container where we are root and there is no systemd: installs the
# Debian packages (slurmctld, slurmd, slurm-client, munge) if missing, writes
# /etc/slurm/slurm.conf for this one node (all traffic over 127.0.0.1), starts munged, slurmctld
# and slurmd by hand and waits until the node is idle. Idempotent: a second call with the daemons
# up and the node idle returns at once. Stop with stop-local-slurm.sh (by the daemons' pid files).
#
# Not for a real cluster: there the site's SLURM is used as it is.
set -euo pipefail

WAIT_S=${SLURM_START_WAIT_S:-60}   # seconds to wait for the controller and an idle node
PARTITION=${SLURM_PARTITION:-debug}
CONF=/etc/slurm/slurm.conf

log() { echo "start-local-slurm: $*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $(id -u) == 0 ]] || die "must run as root (installs packages, starts daemons)"

alive() {  # alive PIDFILE: the process named in PIDFILE runs
    [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

node_state() { sinfo -h -o %T 2>/dev/null | head -n 1; }

if alive /run/munge/munged.pid && alive /run/slurmctld.pid && alive /run/slurmd.pid \
        && [[ $(node_state) == idle* ]]; then
    log "already running, node idle"
    exit 0
fi

# ---------------------------------------------------------------------------------- packages
if ! command -v sbatch >/dev/null || ! command -v slurmctld >/dev/null \
        || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    log "installing slurmctld slurmd slurm-client munge"
    export DEBIAN_FRONTEND=noninteractive
    for try in 1 2 3; do
        # invoke-rc.d refuses to start services without systemd: expected, the daemons are
        # started below.
        if apt-get update -qq && apt-get install -y -qq --no-install-recommends \
                slurmctld slurmd slurm-client munge >/tmp/start-local-slurm-apt.log 2>&1; then
            break
        fi
        [[ $try == 3 ]] && { tail -n 20 /tmp/start-local-slurm-apt.log >&2;
                             die "apt-get install failed 3 times"; }
        log "apt-get failed (try $try), retrying in 5 s"
        sleep 5
    done
fi

# ------------------------------------------------------------------------------------- munge
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge /etc/munge
if [[ ! -s /etc/munge/munge.key ]]; then
    log "creating /etc/munge/munge.key"
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! alive /run/munge/munged.pid; then
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged
fi
for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
munge -n | unmunge >/dev/null || die "munge does not work (see /var/log/munge/munged.log)"

# ------------------------------------------------------------------------------- slurm.conf
HOST=$(hostname -s)
# slurmd -C prints the node line of this machine ("NodeName=... CPUs=... RealMemory=...");
# keep its hardware fields and pin the address to loopback.
NODE_HW=$(slurmd -C | head -n 1 | tr ' ' '\n' \
    | grep -E '^(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore|RealMemory)=' \
    | tr '\n' ' ')
[[ -n $NODE_HW ]] || die "slurmd -C printed no node line"
install -d -m 0755 /etc/slurm /var/log/slurm
install -d -o slurm -g slurm -m 0755 /var/lib/slurm /var/lib/slurm/slurmctld
install -d -m 0755 /var/lib/slurm/slurmd
cat >"$CONF.new" <<CONFEOF
# Written by fanodome deploy/slurm/start-local-slurm.sh: one node, loopback only.
ClusterName=fanodome-local
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
SchedulerType=sched/backfill
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$HOST NodeAddr=127.0.0.1 ${NODE_HW}State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONFEOF
if ! cmp -s "$CONF.new" "$CONF"; then
    mv "$CONF.new" "$CONF"
    # A changed config needs fresh daemons.
    for f in /run/slurmd.pid /run/slurmctld.pid; do
        if alive "$f"; then kill "$(cat "$f")"; fi
    done
    for _ in $(seq 100); do
        alive /run/slurmd.pid || alive /run/slurmctld.pid || break
        sleep 0.1
    done
else
    rm -f "$CONF.new"
fi

# ---------------------------------------------------------------------------------- daemons
alive /run/slurmctld.pid || { rm -f /run/slurmctld.pid; slurmctld; }
alive /run/slurmd.pid || { rm -f /run/slurmd.pid; slurmd; }

deadline=$((SECONDS + WAIT_S))
until scontrol ping 2>/dev/null | grep -q "is UP"; do
    (( SECONDS < deadline )) || { tail -n 20 /var/log/slurm/slurmctld.log >&2 || true;
                                  die "slurmctld did not answer in ${WAIT_S} s"; }
    sleep 0.2
done
while true; do
    state=$(node_state)
    [[ $state == idle* ]] && break
    if [[ $state == down* || $state == drain* ]]; then
        scontrol update nodename="$HOST" state=resume 2>/dev/null || true
    fi
    (( SECONDS < deadline )) || { tail -n 20 /var/log/slurm/slurmd.log >&2 || true;
                                  die "node $HOST is '${state:-unknown}', not idle, after ${WAIT_S} s"; }
    sleep 0.2
done
log "SLURM up: node $HOST idle in partition $PARTITION (${SECONDS} s)"
