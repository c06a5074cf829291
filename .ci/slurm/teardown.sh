#!/usr/bin/env bash
# Stop the one-node SLURM cluster started by .ci/slurm/setup.sh:
# slurmd, slurmctld, slurmdbd, MariaDB and munged, in that order.
# Keeps the configuration, the slurmctld state (/tmp/slurm), the accounting
# database and the logs (/tmp/slurm-logs), so setup.sh brings it all back.
# Idempotent: stopping what is not running is fine.  Run as root.
set -euo pipefail

if [[ $EUID -ne 0 ]]; then
    echo "slurm-teardown: must run as root" >&2
    exit 1
fi

RUN_DIR=/tmp/slurm/run

log() { printf '[slurm-teardown] %s\n' "$*"; }

# pid_of PIDFILE COMM : the pid in PIDFILE, if that process is alive and is COMM.
pid_of() {
    local pidfile=$1 comm=$2 pid
    pid=$(tr -dc '0-9' 2>/dev/null <"$pidfile") || return 1
    [[ -n $pid ]] || return 1
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$comm" ]] || return 1
    echo "$pid"
}

# stop NAME PIDFILE COMM : SIGTERM, wait up to 30 s, then SIGKILL.
stop() {
    local name=$1 pidfile=$2 comm=$3 pid i
    if ! pid=$(pid_of "$pidfile" "$comm"); then
        log "$name not running"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 30; i++)); do
        [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$comm" ]] || return 0
        sleep 1
    done
    log "$name did not stop after 30 s: sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

stop slurmd "$RUN_DIR/slurmd.pid" slurmd
stop slurmctld "$RUN_DIR/slurmctld.pid" slurmctld
stop slurmdbd "$RUN_DIR/slurmdbd.pid" slurmdbd

# MariaDB: a clean shutdown also ends its mysqld_safe wrapper.
if command -v mariadb-admin >/dev/null && mariadb-admin --protocol=socket ping >/dev/null 2>&1; then
    log "stopping MariaDB"
    mariadb-admin --protocol=socket shutdown >/dev/null 2>&1 || true
fi
stop MariaDB /run/mysqld/mysqld.pid mariadbd

stop munged /run/munge/munged.pid munged

log "done"
