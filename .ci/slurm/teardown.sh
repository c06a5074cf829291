#!/usr/bin/env bash
# Stop the SLURM cluster started by .ci/slurm/setup.sh and undo its network:
# every slurmd, slurmctld, slurmdbd, MariaDB and munged, in that order; then
# the job steps still running inside the second node's network namespace,
# the veth pair and the namespace itself.  /etc/hosts was never touched (each
# slurmd saw the cluster's hosts file in a mount namespace that ends with it).
# Keeps the configuration, the slurmctld state (/tmp/slurm), the accounting
# database and the logs (/tmp/slurm-logs), so setup.sh brings it all back.
# Idempotent: stopping what is not running is fine.  Run as root.
set -euo pipefail

if [[ $EUID -ne 0 ]]; then
    echo "slurm-teardown: must run as root" >&2
    exit 1
fi

# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

log() { printf '[slurm-teardown] %s\n' "$*"; }

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

# Every node's slurmd (per-node pid files; slurmd.pid is the former one-node
# layout's).
for pidfile in "$RUN_DIR"/slurmd.pid "$RUN_DIR"/slurmd-*.pid; do
    [[ -e $pidfile ]] || continue
    name=${pidfile##*/}
    name=${name%.pid}
    stop "${name/-/ of node }" "$pidfile" slurmd
done
stop slurmctld "$RUN_DIR/slurmctld.pid" slurmctld
stop slurmdbd "$RUN_DIR/slurmdbd.pid" slurmdbd

# MariaDB: a clean shutdown also ends its mysqld_safe wrapper.
if command -v mariadb-admin >/dev/null && mariadb-admin --protocol=socket ping >/dev/null 2>&1; then
    log "stopping MariaDB"
    mariadb-admin --protocol=socket shutdown >/dev/null 2>&1 || true
fi
stop MariaDB /run/mysqld/mysqld.pid mariadbd

stop munged /run/munge/munged.pid munged

# The second node: whatever still runs in its namespace is a job step of that
# node (its slurmd is gone), so it ends with the node.
if netns_exists; then
    mapfile -t pids < <(ip netns pids "$NETNS" 2>/dev/null || true)
    if ((${#pids[@]})); then
        log "stopping ${#pids[@]} process(es) left in namespace $NETNS"
        kill -TERM "${pids[@]}" 2>/dev/null || true
        for ((i = 0; i < 10; i++)); do
            [[ -z $(ip netns pids "$NETNS" 2>/dev/null) ]] && break
            sleep 1
        done
        mapfile -t pids < <(ip netns pids "$NETNS" 2>/dev/null || true)
        ((${#pids[@]} == 0)) || kill -KILL "${pids[@]}" 2>/dev/null || true
    fi
fi
if netns_exists || ip link show dev "$VETH_HOST" >/dev/null 2>&1; then
    log "removing veth $VETH_HOST and network namespace $NETNS"
    remove_network
fi

if [[ -s $ROOT_PROPAGATION_FILE ]]; then
    before=$(<"$ROOT_PROPAGATION_FILE")
    log "putting the root mount's propagation back to $before"
    case $before in
    private) mount --make-private / ;;
    slave*) mount --make-slave / ;;
    esac
    rm -f "$ROOT_PROPAGATION_FILE"
fi

log "done"
