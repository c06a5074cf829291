#!/usr/bin/env bash
# Install, configure and start a real two-node SLURM cluster (with accounting)
# on this Debian machine.  Run as root.  Idempotent: a second run when the
# cluster is already up returns in a second or two; a cluster in another shape
# (e.g. the former one-node layout) is reconfigured in place.
#
# The first node is this machine's host name; the second, "<host>2", is a
# second slurmd in its own network, UTS and mount namespace, joined to this
# one by a veth pair with private addresses this script creates.
#
# No systemd: every daemon (munged, MariaDB, slurmdbd, slurmctld, slurmd x2) is
# started directly in the background.  See .ci/slurm/README.md.
#
# Environment knobs (all optional):
#   METICULOUS_SLURM_TIMEOUT   seconds to wait for the cluster (default 120)
#   METICULOUS_SLURM_CPUS      CPUs declared for EACH node (default: nproc)
#   METICULOUS_SLURM_NODES     1 or 2 (default 2)
#   METICULOUS_SLURM_SUBNET    first three octets of the veth /24 (default 10.200.0)
set -euo pipefail

if [[ $EUID -ne 0 ]]; then
    echo "slurm-setup: must run as root" >&2
    exit 1
fi

# ---------------------------------------------------------------- settings
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
CLUSTER=meticulous
PARTITION=debug
SLURM_ETC=/etc/slurm
SLURM_CONF=$SLURM_ETC/slurm.conf
CGROUP_CONF=$SLURM_ETC/cgroup.conf
DBD_CONF=$SLURM_ETC/slurmdbd.conf
MYSQL_CNF=/etc/mysql/mariadb.conf.d/99-meticulous-slurm.cnf
STATE_DIR=$STATE_ROOT/state          # slurmctld StateSaveLocation
SPOOL_DIR=$STATE_ROOT/spool          # slurmd SlurmdSpoolDir (one folder per node)
HOSTS_FILE=$STATE_ROOT/hosts         # bind-mounted on /etc/hosts for each slurmd
SUBNET=${METICULOUS_SLURM_SUBNET:-10.200.0}
NODES=${METICULOUS_SLURM_NODES:-2}
LOG_DIR=/tmp/slurm-logs
DB_NAME=slurm_acct_db
DB_USER=slurm
DB_PASS=meticulous-slurm-ci          # local-only DB (bound to 127.0.0.1 / socket)
TIMEOUT=${METICULOUS_SLURM_TIMEOUT:-120}
# iproute2 (ip), util-linux (nsenter, unshare, findmnt) and mount make the
# second node.
PACKAGES=(slurm-wlm slurm-client slurmdbd munge mariadb-server mariadb-client iproute2 util-linux mount)

export SLURM_CONF
START_TS=$SECONDS
DEADLINE=$((SECONDS + TIMEOUT))

log() { printf '[slurm-setup +%3ss] %s\n' "$((SECONDS - START_TS))" "$*"; }

show_log() {
    local f=$1
    if [[ -f $f ]]; then
        echo "----- last 40 lines of $f -----" >&2
        tail -n 40 "$f" >&2 || true
        echo "----- end of $f -----" >&2
    else
        echo "(no log file $f)" >&2
    fi
}

# die MESSAGE [LOGFILE...]
die() {
    local msg=$1
    shift
    echo "slurm-setup: ERROR: $msg" >&2
    local f
    for f in "$@"; do show_log "$f"; done
    exit 1
}

# shellcheck disable=SC2154  # rc is assigned inside the trap string
trap 'rc=$?; echo "slurm-setup: ERROR: command failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2; exit $rc' ERR

# wait_until DESCRIPTION SECONDS COMMAND... : poll COMMAND every second;
# bounded both by SECONDS and by the global deadline.
wait_until() {
    local what=$1 limit=$2
    shift 2
    local end=$((SECONDS + limit))
    ((end > DEADLINE)) && end=$DEADLINE
    while true; do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        if ((SECONDS >= end)); then
            echo "slurm-setup: timed out waiting for $what" >&2
            return 1
        fi
        sleep 1
    done
}

pid_alive() { pid_of "$1" "$2" >/dev/null; }

# stop_pidfile PIDFILE COMM : SIGTERM the daemon and wait for it (max 30 s).
stop_pidfile() {
    local pidfile=$1 comm=$2 pid i
    pid=$(pid_of "$pidfile" "$comm") || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 30; i++)); do
        [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$comm" ]] || return 0
        sleep 1
    done
    kill -KILL "$pid" 2>/dev/null || true
    sleep 1
}

# detach LOG COMMAND... : run COMMAND (a daemon that forks into the
# background) with stdin from /dev/null, stdout/stderr appended to LOG and
# every other inherited file descriptor closed, so that no daemon keeps the
# caller's pipes (e.g. CI's output) open.
detach() {
    local out=$1
    shift
    (
        for fd in "/proc/$BASHPID/fd/"*; do
            fd=${fd##*/}
            if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        exec "$@" </dev/null >>"$out" 2>&1
    )
}

# write_if_changed PATH MODE OWNER : stdin -> PATH; returns 0 if it changed.
write_if_changed() {
    local path=$1 mode=$2 owner=$3 tmp
    tmp=$(mktemp)
    cat >"$tmp"
    if [[ -f $path ]] && cmp -s "$tmp" "$path"; then
        rm -f "$tmp"
        chmod "$mode" "$path"
        chown "$owner" "$path"
        return 1
    fi
    install -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$tmp" "$path"
    rm -f "$tmp"
    return 0
}

# ---------------------------------------------------------------- packages
packages_installed() {
    local p status
    for p in "${PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [[ $status == "install ok installed" ]] || return 1
    done
}

apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${PACKAGES[@]}"
}

if packages_installed; then
    log "packages already installed"
else
    log "installing ${PACKAGES[*]}"
    mkdir -p "$LOG_DIR"
    # Update the package lists only if there are none, or if the install
    # fails with the lists we have (stale lists give 404s).
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
        apt-get update -q >"$LOG_DIR/apt.log" 2>&1 || die "apt-get update failed" "$LOG_DIR/apt.log"
    fi
    if ! apt_install >>"$LOG_DIR/apt.log" 2>&1; then
        apt-get update -q >>"$LOG_DIR/apt.log" 2>&1 || die "apt-get update failed" "$LOG_DIR/apt.log"
        apt_install >>"$LOG_DIR/apt.log" 2>&1 || die "apt-get install failed" "$LOG_DIR/apt.log"
    fi
    packages_installed || die "packages still not installed after apt-get install" "$LOG_DIR/apt.log"
    log "packages installed"
fi

# ---------------------------------------------------------------- machine facts
NODE=$(hostname -s 2>/dev/null || true)
[[ -n $NODE ]] || NODE=$(uname -n)
NODE=${NODE%%.*}
[[ $NODES == 1 || $NODES == 2 ]] || die "METICULOUS_SLURM_NODES must be 1 or 2, got '$NODES'"
[[ $SUBNET =~ ^(10|192\.168|172\.(1[6-9]|2[0-9]|3[01]))(\.[0-9]{1,3}){1,2}$ && $SUBNET =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
    die "METICULOUS_SLURM_SUBNET must be the first three octets of a private /24 (e.g. 10.200.0), got '$SUBNET'"
# Node i (0-based) is NODE_NAMES[i] at NODE_ADDRS[i].  Slurm sorts nodes by
# name and runs a multi-node batch script on the first, so the second node's
# name sorts after this machine's.
if ((NODES == 2)); then
    NODE_NAMES=("$NODE" "${NODE}2")
    NODE_ADDRS=("$SUBNET.1" "$SUBNET.2")
else
    NODE_NAMES=("$NODE")
    NODE_ADDRS=(127.0.0.1)
fi
CTLD_ADDR=${NODE_ADDRS[0]}
REAL_CPUS=$(nproc)
CPUS=${METICULOUS_SLURM_CPUS:-$REAL_CPUS}
[[ $CPUS =~ ^[1-9][0-9]*$ ]] || die "METICULOUS_SLURM_CPUS must be a positive integer, got '$CPUS'"
MEM_MB=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
# A safe value below the real memory (slurmd rejects a node with less memory
# than configured); at least 1 MB.
REAL_MEMORY=$((MEM_MB * 8 / 10))
((REAL_MEMORY >= 1)) || REAL_MEMORY=1
# Memory enforcement needs cgroup v1's memory controller (slurm 22.05's
# cgroup/v2 needs systemd); without it jobs run unconfined.
if [[ -e /sys/fs/cgroup/memory/cgroup.procs ]]; then
    TASK_PLUGIN=task/cgroup
else
    TASK_PLUGIN=task/none
    log "WARNING: no cgroup v1 memory controller (/sys/fs/cgroup/memory): memory is not enforced, no job can end OUT_OF_MEMORY"
fi
# What a job that asks for no memory gets per CPU: 2 GB, or the share of one
# node's memory that still lets every CPU of it run such a job.
DEF_MEM_PER_CPU=$((REAL_MEMORY / CPUS))
((DEF_MEM_PER_CPU <= 2048)) || DEF_MEM_PER_CPU=2048
((DEF_MEM_PER_CPU >= 1)) || DEF_MEM_PER_CPU=1

mkdir -p "$STATE_DIR" "$SPOOL_DIR" "$RUN_DIR" "$LOG_DIR"
# slurmd does not create its spool folder ("Domain socket directory ...: No
# such file or directory"), so make every node's first.
for name in "${NODE_NAMES[@]}"; do mkdir -p "$SPOOL_DIR/$name"; done
chmod 755 "$STATE_ROOT" "$LOG_DIR"
mkdir -p "$SLURM_ETC"

# ---------------------------------------------------------------- config files
# node_lines : the NodeName lines of slurm.conf.  Every node reports the whole
# machine, so with two nodes the CPUs are oversubscribed twice (see README).
node_lines() {
    local i
    echo "# The nodes: this machine and, with two nodes, its second slurmd."
    for i in "${!NODE_NAMES[@]}"; do
        echo "NodeName=${NODE_NAMES[$i]} NodeAddr=${NODE_ADDRS[$i]} NodeHostname=${NODE_NAMES[$i]} CPUs=$CPUS RealMemory=$REAL_MEMORY State=UNKNOWN"
    done
}

cluster_hosts() {
    local i
    echo "# Generated by .ci/slurm/setup.sh: /etc/hosts as the cluster's slurmd see it."
    awk -v names="${NODE_NAMES[*]}" '
        BEGIN { n = split(names, list, " "); for (i = 1; i <= n; i++) drop[list[i]] = 1 }
        /^[[:space:]]*(#|$)/ { print; next }
        {
            line = $1; kept = 0
            for (i = 2; i <= NF; i++) {
                if ($i ~ /^#/) break
                if (!($i in drop)) { line = line " " $i; kept++ }
            }
            if (kept) print line
        }' /etc/hosts
    for i in "${!NODE_NAMES[@]}"; do
        echo "${NODE_ADDRS[$i]} ${NODE_NAMES[$i]}"
    done
}

SLURM_CHANGED=0
DBD_CHANGED=0
MYSQL_CHANGED=0

if write_if_changed "$SLURM_CONF" 644 root:root <<EOF; then SLURM_CHANGED=1; fi
# Generated by .ci/slurm/setup.sh -- do not edit by hand (it is rewritten).
ClusterName=$CLUSTER
SlurmctldHost=$NODE($CTLD_ADDR)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
# task/cgroup enforces memory (cgroup.conf: ConstrainRAMSpace), so a job over
# its --mem is OOM-killed by the kernel and ends OUT_OF_MEMORY, as on a real
# cluster; task/none where this machine has no v1 memory controller.
TaskPlugin=$TASK_PLUGIN
ReturnToService=2
SlurmdParameters=config_overrides
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
# Per-node paths (%n = node name): two slurmd share this machine.
SlurmdPidFile=$RUN_DIR/slurmd-%n.pid
SlurmdSpoolDir=$SPOOL_DIR/%n
StateSaveLocation=$STATE_DIR
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
SwitchType=switch/none
TmpFS=/tmp
MailProg=/bin/true
# Scheduling: start small jobs quickly.
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_interval=5,bf_interval=5,bf_continue,default_queue_depth=1000
SelectType=select/cons_tres
# Memory is scheduled (so a job's --mem is its cgroup's limit); a job that
# asks for none gets DefMemPerCPU per CPU.
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$DEF_MEM_PER_CPU
MaxArraySize=10001
MaxJobCount=20000
MinJobAge=10
JobRequeue=1
KillWait=5
InactiveLimit=0
Waittime=0
SlurmctldTimeout=120
SlurmdTimeout=300
# Accounting (sacct) through slurmdbd -> MariaDB.
AccountingStorageType=accounting_storage/slurmdbd
# The controller's address, so that sacct also answers inside node 2 (slurmdbd
# listens on every address of this namespace, port 6819).
AccountingStorageHost=$CTLD_ADDR
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
JobCompType=jobcomp/none
$(node_lines)
PartitionName=$PARTITION Nodes=$(
    IFS=,
    echo "${NODE_NAMES[*]}"
) Default=YES MaxTime=INFINITE State=UP
EOF

# cgroup v1's memory controller (this kernel mounts v1 hierarchies, and the
# v2 one without controllers): each job step's tasks get a memory cgroup whose
# limit is the job's --mem; swap is not allowed past it.
if write_if_changed "$CGROUP_CONF" 644 root:root <<EOF; then SLURM_CHANGED=1; fi
# Generated by .ci/slurm/setup.sh -- do not edit by hand (it is rewritten).
CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
ConstrainRAMSpace=yes
ConstrainSwapSpace=yes
AllowedSwapSpace=0
EOF

# The cluster's own hosts file: the machine's /etc/hosts without any entry
# for the node names, plus every node on its address.  Each slurmd (and so
# every job step) sees it on /etc/hosts; /etc/hosts itself stays untouched.
HOSTS_CHANGED=0
if write_if_changed "$HOSTS_FILE" 644 root:root < <(cluster_hosts); then HOSTS_CHANGED=1; fi

if write_if_changed "$DBD_CONF" 600 root:root <<EOF; then DBD_CHANGED=1; fi
# Generated by .ci/slurm/setup.sh -- do not edit by hand (it is rewritten).
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
DebugLevel=info
LogFile=$LOG_DIR/slurmdbd.log
PidFile=$RUN_DIR/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StoragePort=3306
StorageUser=$DB_USER
StoragePass=$DB_PASS
StorageLoc=$DB_NAME
EOF

if write_if_changed "$MYSQL_CNF" 644 root:root <<EOF; then MYSQL_CHANGED=1; fi
# Generated by .ci/slurm/setup.sh: settings recommended for slurmdbd.
[mysqld]
innodb_buffer_pool_size=1024M
innodb_lock_wait_timeout=900
EOF

# A config counts as changed until the daemons reading it have been restarted
# since it was written (a stamp copy is kept next to the pid files), so a run
# that failed half-way never leaves daemons running an older config.
not_applied() { ! cmp -s "$1" "$RUN_DIR/${1##*/}.applied"; }
mark_applied() { cp "$1" "$RUN_DIR/${1##*/}.applied"; }
if not_applied "$SLURM_CONF" || not_applied "$CGROUP_CONF"; then SLURM_CHANGED=1; fi
if not_applied "$DBD_CONF"; then DBD_CHANGED=1; fi

# ---------------------------------------------------------------- health checks
munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
mysql_ok() { mariadb-admin --protocol=socket ping >/dev/null 2>&1; }
dbd_ok() { timeout 15 sacctmgr -n -P list cluster format=cluster >/dev/null 2>&1; }
ctld_ok() { timeout 15 scontrol ping 2>/dev/null | grep -q 'is UP'; }
# ns_of PID KIND : the inode of PID's KIND namespace (net, mnt, uts).
ns_of() { stat -L -c %i "/proc/$1/ns/$2" 2>/dev/null; }
# slurmd_ok NAME : that node's slurmd runs, in the right network namespace,
# and sees the cluster's current hosts file on /etc/hosts.
slurmd_ok() {
    local name=$1 pid want
    pid=$(pid_of "$RUN_DIR/slurmd-$name.pid" slurmd) || return 1
    if [[ $name == "$NODE" ]]; then
        want=$(ns_of $$ net)
    else
        want=$(stat -L -c %i "/run/netns/$NETNS" 2>/dev/null) || return 1
    fi
    [[ -n $want && $(ns_of "$pid" net) == "$want" ]] || return 1
    # Its root is a slave of this namespace's: later mounts reach its jobs.
    grep -q '^[0-9]* [0-9]* [^ ]* / / [^-]* master:' "/proc/$pid/mountinfo" || return 1
    cmp -s "/proc/$pid/root/etc/hosts" "$HOSTS_FILE"
}
all_slurmd_ok() {
    local name
    for name in "${NODE_NAMES[@]}"; do slurmd_ok "$name" || return 1; done
}
sacct_ok() { timeout 15 sacct -n -X -S now-1minutes >/dev/null 2>&1; }
cluster_registered() {
    timeout 15 sacctmgr -n -P list cluster format=cluster 2>/dev/null | grep -qx "$CLUSTER"
}
node_state() { timeout 15 sinfo -h -N -n "$1" -o '%T' 2>/dev/null | head -n 1; }
node_ready() {
    local st
    st=$(node_state "$1")
    # idle / mixed / allocated / completing are all usable; a trailing '*'
    # means slurmd is not responding; drain/down/inval are not usable.
    [[ $st =~ ^(idle|mixed|allocated|completing)$ ]]
}
all_nodes_ready() {
    local name
    for name in "${NODE_NAMES[@]}"; do node_ready "$name" || return 1; done
}
nodes_summary() {
    local name out=()
    for name in "${NODE_NAMES[@]}"; do out+=("$name=$(node_state "$name")"); done
    echo "${out[*]}"
}

# ---------------------------------------------------------------- network (node 2)
# network_ok : the veth pair is up with both addresses (or one node: none needed).
network_ok() {
    ((NODES == 1)) && return 0
    netns_exists || return 1
    ip -o -4 addr show dev "$VETH_HOST" up 2>/dev/null | grep -q " $CTLD_ADDR/24 " || return 1
    ip -n "$NETNS" -o -4 addr show dev "$VETH_NODE" up 2>/dev/null | grep -q " ${NODE_ADDRS[1]}/24 " || return 1
    ip -n "$NETNS" -o link show dev lo up 2>/dev/null | grep -q .
}
setup_network() {
    local other
    # Only addresses of our own: refuse a subnet that this machine already uses.
    other=$(ip -o -4 addr show 2>/dev/null | awk -v dev="$VETH_HOST" -v net="$SUBNET." \
        '$2 != dev && $2 !~ ("^" dev "@") && index($4, net) == 1 { print $2 " " $4 }')
    [[ -z $other ]] || die "subnet $SUBNET.0/24 is already in use on this machine ($other); choose another with METICULOUS_SLURM_SUBNET"
    netns_exists || ip netns add "$NETNS"
    # A veth whose other end is not in the namespace (e.g. the namespace was
    # deleted by hand) is replaced.
    if ip link show dev "$VETH_HOST" >/dev/null 2>&1 &&
        ! ip -n "$NETNS" link show dev "$VETH_NODE" >/dev/null 2>&1; then
        ip link del "$VETH_HOST"
    fi
    if ! ip link show dev "$VETH_HOST" >/dev/null 2>&1; then
        ip link add "$VETH_HOST" type veth peer name "$VETH_NODE" netns "$NETNS"
    fi
    ip addr replace "$CTLD_ADDR/24" dev "$VETH_HOST"
    ip link set dev "$VETH_HOST" up
    ip -n "$NETNS" link set dev lo up
    ip -n "$NETNS" addr replace "${NODE_ADDRS[1]}/24" dev "$VETH_NODE"
    ip -n "$NETNS" link set dev "$VETH_NODE" up
}

# root_shared : make the root mount a shared one (as systemd does), so that
# each slurmd's mount namespace, a slave of this one, still receives what is
# mounted here later (an sshfs, a scratch disk), while its /etc/hosts bind
# mount never leaks back.  The former propagation is noted for teardown.sh.
root_shared() {
    local now
    now=$(findmnt -n -o PROPAGATION /)
    [[ $now == shared* ]] && return 0
    [[ -s $ROOT_PROPAGATION_FILE ]] || echo "$now" >"$ROOT_PROPAGATION_FILE"
    log "making the root mount shared (it was $now), so jobs see later mounts"
    mount --make-shared /
}

# start_slurmd NAME : start that node's slurmd in a mount namespace of its own
# (a slave of this one) where the cluster's hosts file is bind-mounted on
# /etc/hosts.  The second node also gets the network namespace (through
# nsenter: `ip netns exec` remounts /sys and hides the cgroup mounts, and
# slurmd then fails with "No filesystem mounted on /sys/fs/cgroup") and a UTS
# namespace of its own, with its own host name.
start_slurmd() {
    local name=$1
    # sh -c ... NAME HOSTS_FILE SET_HOSTNAME
    local inner='if [ "$3" = yes ]; then hostname "$1" || exit 1; fi
mount --bind "$2" /etc/hosts || exit 1
exec slurmd -N "$1"'
    local cmd=(unshare --mount --propagation slave sh -c "$inner" slurmd-launch "$name" "$HOSTS_FILE" no)
    if [[ $name != "$NODE" ]]; then
        cmd=(nsenter "--net=/run/netns/$NETNS" unshare --uts --mount --propagation slave
            sh -c "$inner" slurmd-launch "$name" "$HOSTS_FILE" yes)
    fi
    detach "$LOG_DIR/slurmd-$name.stdout" "${cmd[@]}"
}
# stop_all_slurmd : every slurmd this script ever started (the per-node pid
# files and the former one-node layout's slurmd.pid).
stop_all_slurmd() {
    local f
    for f in "$RUN_DIR"/slurmd.pid "$RUN_DIR"/slurmd-*.pid; do
        [[ -e $f ]] && stop_pidfile "$f" slurmd
    done
    return 0
}

# Fast path: nothing changed and everything answers.
if ((SLURM_CHANGED == 0 && DBD_CHANGED == 0 && MYSQL_CHANGED == 0 && HOSTS_CHANGED == 0)) &&
    munge_ok && mysql_ok && network_ok && all_slurmd_ok && ctld_ok && all_nodes_ready && sacct_ok && cluster_registered; then
    log "cluster '$CLUSTER' already up: $(nodes_summary); sacct answers"
    exit 0
fi

# ---------------------------------------------------------------- network
# First: every client (sacctmgr, scontrol, sacct) now reaches the daemons on
# the veth address.
if ((NODES == 2)); then
    if network_ok; then
        log "veth $VETH_HOST ($CTLD_ADDR) <-> $NETNS/$VETH_NODE (${NODE_ADDRS[1]}) already up"
    else
        log "creating network namespace $NETNS and veth $VETH_HOST ($CTLD_ADDR) <-> $VETH_NODE (${NODE_ADDRS[1]})"
        setup_network
        network_ok || die "the veth pair did not come up: $(ip -br addr show dev "$VETH_HOST" 2>&1)"
    fi
fi

# ---------------------------------------------------------------- munge
if munge_ok; then
    log "munged already running"
else
    log "starting munged"
    if [[ ! -s /etc/munge/munge.key ]]; then
        mkdir -p /etc/munge
        if command -v mungekey >/dev/null; then
            mungekey --create --keyfile=/etc/munge/munge.key
        else
            dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
        fi
    fi
    chown -R munge:munge /etc/munge
    chmod 700 /etc/munge
    chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    chown munge:munge /run/munge /var/lib/munge /var/log/munge
    chmod 755 /run/munge
    touch "$LOG_DIR/munged.log"
    chown munge:munge "$LOG_DIR/munged.log"
    chmod 640 "$LOG_DIR/munged.log"
    detach "$LOG_DIR/munged.stdout" runuser -u munge -- /usr/sbin/munged --force \
        --log-file="$LOG_DIR/munged.log" ||
        die "munged failed to start" "$LOG_DIR/munged.log" "$LOG_DIR/munged.stdout"
    wait_until "munge" 30 munge_ok || die "munge does not answer (munge -n | unmunge)" "$LOG_DIR/munged.log" "$LOG_DIR/munged.stdout"
    log "munged up"
fi

# ---------------------------------------------------------------- mariadb
if ((MYSQL_CHANGED)) && mysql_ok; then
    log "MariaDB settings changed: restarting MariaDB"
    mariadb-admin --protocol=socket shutdown >/dev/null 2>&1 || true
    wait_until "MariaDB to stop" 60 bash -c '! mariadb-admin --protocol=socket ping' || true
fi
if mysql_ok; then
    log "MariaDB already running"
else
    log "starting MariaDB (mysqld_safe)"
    mkdir -p /run/mysqld
    chown mysql:mysql /run/mysqld
    touch "$LOG_DIR/mariadb.log"
    chown mysql:mysql "$LOG_DIR/mariadb.log"
    if [[ ! -d /var/lib/mysql/mysql ]]; then
        log "initialising MariaDB data directory"
        mariadb-install-db --user=mysql --datadir=/var/lib/mysql >>"$LOG_DIR/mariadb.log" 2>&1 ||
            die "mariadb-install-db failed" "$LOG_DIR/mariadb.log"
    fi
    detach "$LOG_DIR/mysqld_safe.log" setsid -f mysqld_safe --skip-syslog --log-error="$LOG_DIR/mariadb.log"
    wait_until "MariaDB" 60 mysql_ok || die "MariaDB did not come up" "$LOG_DIR/mariadb.log" "$LOG_DIR/mysqld_safe.log"
    log "MariaDB up"
fi

mariadb --protocol=socket -u root <<EOF || die "could not create the accounting database/user" "$LOG_DIR/mariadb.log"
CREATE DATABASE IF NOT EXISTS $DB_NAME;
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL PRIVILEGES ON $DB_NAME.* TO '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
EOF

# ---------------------------------------------------------------- slurmdbd
if ((DBD_CHANGED)) && pid_alive "$RUN_DIR/slurmdbd.pid" slurmdbd; then
    log "slurmdbd.conf changed: restarting slurmdbd"
    stop_pidfile "$RUN_DIR/slurmdbd.pid" slurmdbd
fi
mark_applied "$DBD_CONF"
if pid_alive "$RUN_DIR/slurmdbd.pid" slurmdbd && dbd_ok; then
    log "slurmdbd already running"
else
    stop_pidfile "$RUN_DIR/slurmdbd.pid" slurmdbd # a hung one
    log "starting slurmdbd"
    detach "$LOG_DIR/slurmdbd.stdout" slurmdbd ||
        die "slurmdbd failed to start" "$LOG_DIR/slurmdbd.log" "$LOG_DIR/slurmdbd.stdout"
    # The first start creates the database tables, which takes a while.
    wait_until "slurmdbd" 90 dbd_ok || die "slurmdbd does not answer (sacctmgr list cluster)" "$LOG_DIR/slurmdbd.log" "$LOG_DIR/slurmdbd.stdout"
    log "slurmdbd up"
fi

if cluster_registered; then
    log "cluster '$CLUSTER' already in the accounting database"
else
    log "adding cluster '$CLUSTER' to the accounting database"
    timeout 30 sacctmgr -i add cluster "$CLUSTER" >>"$LOG_DIR/sacctmgr.log" 2>&1 ||
        cluster_registered ||
        die "sacctmgr add cluster $CLUSTER failed" "$LOG_DIR/sacctmgr.log" "$LOG_DIR/slurmdbd.log"
fi

# ---------------------------------------------------------------- slurmctld + slurmd
if ((SLURM_CHANGED)); then
    log "slurm.conf changed: restarting slurmctld and every slurmd"
    stop_all_slurmd
    stop_pidfile "$RUN_DIR/slurmctld.pid" slurmctld
    mark_applied "$SLURM_CONF"
    mark_applied "$CGROUP_CONF"
elif ((HOSTS_CHANGED)); then
    log "the cluster's hosts file changed: restarting every slurmd"
    stop_all_slurmd
fi
if ((NODES == 1)); then
    remove_network # left by an earlier two-node run
fi

if pid_alive "$RUN_DIR/slurmctld.pid" slurmctld && ctld_ok; then
    log "slurmctld already running"
else
    stop_pidfile "$RUN_DIR/slurmctld.pid" slurmctld # a hung one
    log "starting slurmctld"
    detach "$LOG_DIR/slurmctld.stdout" slurmctld ||
        die "slurmctld failed to start" "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmctld.stdout"
    wait_until "slurmctld" 60 ctld_ok || die "slurmctld does not answer (scontrol ping)" "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmctld.stdout"
    log "slurmctld up"
fi

root_shared
for name in "${NODE_NAMES[@]}"; do
    if slurmd_ok "$name"; then
        log "slurmd of node $name already running"
        continue
    fi
    # One in the wrong namespace or with a stale hosts file goes first.
    stop_pidfile "$RUN_DIR/slurmd-$name.pid" slurmd
    log "starting slurmd of node $name"
    start_slurmd "$name" ||
        die "slurmd of node $name failed to start" "$LOG_DIR/slurmd-$name.log" "$LOG_DIR/slurmd-$name.stdout"
    wait_until "slurmd of node $name" 30 slurmd_ok "$name" ||
        die "slurmd of node $name is not running" "$LOG_DIR/slurmd-$name.log" "$LOG_DIR/slurmd-$name.stdout"
    log "slurmd of node $name up"
done

# ---------------------------------------------------------------- wait for the nodes
log "waiting for node(s) ${NODE_NAMES[*]} to be usable"
declare -A resumed=()
while ! all_nodes_ready; do
    for name in "${NODE_NAMES[@]}"; do
        st=$(node_state "$name")
        # slurmd answers but the node is drained/down (e.g. left so by an
        # earlier run): put it back in service once.
        if [[ -z ${resumed[$name]:-} && -n $st && $st != *'*' && $st =~ (drain|down|fail) ]]; then
            log "node $name is '$st': resuming it"
            timeout 15 scontrol update nodename="$name" state=resume >/dev/null 2>&1 || true
            resumed[$name]=1
        fi
    done
    if ((SECONDS >= DEADLINE)); then
        timeout 15 scontrol show node >&2 || true
        logs=("$LOG_DIR/slurmctld.log")
        for name in "${NODE_NAMES[@]}"; do logs+=("$LOG_DIR/slurmd-$name.log"); done
        die "nodes not usable after ${TIMEOUT}s: $(nodes_summary)" "${logs[@]}"
    fi
    sleep 1
done

wait_until "sacct" 60 sacct_ok || die "sacct does not answer" "$LOG_DIR/slurmdbd.log" "$LOG_DIR/slurmctld.log"

log "cluster '$CLUSTER' up: $(nodes_summary) ($CPUS CPUs, ${REAL_MEMORY} MB each, $TASK_PLUGIN) in partition '$PARTITION'; sacct answers; logs in $LOG_DIR"
