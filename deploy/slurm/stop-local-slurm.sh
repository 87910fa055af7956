#!/usr/bin/env bash
# Stop what start-local-slurm.sh started: cancel this node's jobs, then slurmd, slurmctld and
# munged, each by its pid file. Safe to run when nothing runs.
set -uo pipefail

log() { echo "stop-local-slurm: $*" >&2; }

alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

if alive /run/slurmctld.pid && command -v squeue >/dev/null; then
    jobs=$(squeue -h -o %i 2>/dev/null)
    if [[ -n $jobs ]]; then
        log "cancelling jobs: $(echo $jobs)"
        # shellcheck disable=SC2086  # one job id per word
        scancel $jobs
        for _ in $(seq 100); do [[ -z $(squeue -h -o %i 2>/dev/null) ]] && break; sleep 0.1; done
    fi
fi

for f in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
    if alive "$f"; then
        pid=$(cat "$f")
        kill "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            log "$f: $pid still runs after 10 s, sending SIGKILL"
            kill -9 "$pid"
        fi
        log "stopped $(basename "$f" .pid) ($pid)"
    fi
done
exit 0
