# shellcheck shell=bash
# Names and helpers shared by setup.sh and teardown.sh (sourced, not run).

STATE_ROOT=/tmp/slurm
RUN_DIR=$STATE_ROOT/run              # pid files (and the applied-config stamps)
NETNS=meticulous-slurm-n2            # the second node's network namespace
VETH_HOST=mslurm-veth0               # veth end in this (root) namespace
VETH_NODE=mslurm-veth1               # veth end inside $NETNS
# The root mount's propagation before setup.sh made it shared (teardown.sh
# puts it back).
ROOT_PROPAGATION_FILE=$STATE_ROOT/root-propagation-before

# pid_of PIDFILE COMM : print the pid in PIDFILE if that process is alive
# and is COMM (so a stale pid file never matches another process).
pid_of() {
    local pidfile=$1 comm=$2 pid
    pid=$(tr -dc '0-9' 2>/dev/null <"$pidfile") || return 1
    [[ -n $pid ]] || return 1
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$comm" ]] || return 1
    echo "$pid"
}

netns_exists() { [[ -e /run/netns/$NETNS ]] && ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$NETNS"; }

# remove_network : delete the veth pair (both ends) and the namespace; a
# no-op when there is nothing to remove.
remove_network() {
    if ip link show dev "$VETH_HOST" >/dev/null 2>&1; then ip link del "$VETH_HOST"; fi
    if netns_exists; then ip netns del "$NETNS"; fi
}
