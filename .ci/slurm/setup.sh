#!/usr/bin/env bash
# Install, configure and start a real one-node SLURM cluster (with accounting)
# on this Debian machine.  Run as root.  Idempotent: a second run when the
# cluster is already up returns in a second or two.
#
# No systemd: every daemon (munged, MariaDB, slurmdbd, slurmctld, slurmd) is
# started directly in the background.  See .ci/slurm/README.md.
#
# Environment knobs (all optional):
#   METICULOUS_SLURM_TIMEOUT   seconds to wait for the cluster (default 120)
#   METICULOUS_SLURM_CPUS      CPUs declared for the node (default: nproc)
set -euo pipefail

if [[ $EUID -ne 0 ]]; then
    echo "slurm-setup: must run as root" >&2
    exit 1
fi

# ---------------------------------------------------------------- settings
CLUSTER=meticulous
PARTITION=debug
SLURM_ETC=/etc/slurm
SLURM_CONF=$SLURM_ETC/slurm.conf
DBD_CONF=$SLURM_ETC/slurmdbd.conf
MYSQL_CNF=/etc/mysql/mariadb.conf.d/99-meticulous-slurm.cnf
STATE_ROOT=/tmp/slurm
STATE_DIR=$STATE_ROOT/state          # slurmctld StateSaveLocation
SPOOL_DIR=$STATE_ROOT/spool          # slurmd SlurmdSpoolDir
RUN_DIR=$STATE_ROOT/run              # pid files
LOG_DIR=/tmp/slurm-logs
DB_NAME=slurm_acct_db
DB_USER=slurm
DB_PASS=meticulous-slurm-ci          # local-only DB (bound to 127.0.0.1 / socket)
TIMEOUT=${METICULOUS_SLURM_TIMEOUT:-120}
PACKAGES=(slurm-wlm slurm-client slurmdbd munge mariadb-server mariadb-client)

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

# pid_of PIDFILE COMM : print the pid in PIDFILE if that process is alive
# and is COMM (so a stale pid file never matches another process).
pid_of() {
    local pidfile=$1 comm=$2 pid
    pid=$(tr -dc '0-9' 2>/dev/null <"$pidfile") || return 1
    [[ -n $pid ]] || return 1
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$comm" ]] || return 1
    echo "$pid"
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
REAL_CPUS=$(nproc)
CPUS=${METICULOUS_SLURM_CPUS:-$REAL_CPUS}
[[ $CPUS =~ ^[1-9][0-9]*$ ]] || die "METICULOUS_SLURM_CPUS must be a positive integer, got '$CPUS'"
MEM_MB=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
# A safe value below the real memory (slurmd rejects a node with less memory
# than configured); at least 1 MB.
REAL_MEMORY=$((MEM_MB * 8 / 10))
((REAL_MEMORY >= 1)) || REAL_MEMORY=1

mkdir -p "$STATE_DIR" "$SPOOL_DIR" "$RUN_DIR" "$LOG_DIR"
chmod 755 "$STATE_ROOT" "$LOG_DIR"
mkdir -p "$SLURM_ETC"

# ---------------------------------------------------------------- config files
SLURM_CHANGED=0
DBD_CHANGED=0
MYSQL_CHANGED=0

if write_if_changed "$SLURM_CONF" 644 root:root <<EOF; then SLURM_CHANGED=1; fi
# Generated by .ci/slurm/setup.sh -- do not edit by hand (it is rewritten).
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmdParameters=config_overrides
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmdSpoolDir=$SPOOL_DIR
StateSaveLocation=$STATE_DIR
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SwitchType=switch/none
TmpFS=/tmp
MailProg=/bin/true
# Scheduling: start small jobs quickly.
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_interval=5,bf_interval=5,bf_continue,default_queue_depth=1000
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
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
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
JobCompType=jobcomp/none
# The one node: this machine.
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE CPUs=$CPUS RealMemory=$REAL_MEMORY State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

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

# ---------------------------------------------------------------- health checks
munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
mysql_ok() { mariadb-admin --protocol=socket ping >/dev/null 2>&1; }
dbd_ok() { timeout 15 sacctmgr -n -P list cluster format=cluster >/dev/null 2>&1; }
ctld_ok() { timeout 15 scontrol ping 2>/dev/null | grep -q 'is UP'; }
slurmd_ok() { pid_alive "$RUN_DIR/slurmd.pid" slurmd; }
sacct_ok() { timeout 15 sacct -n -X -S now-1minutes >/dev/null 2>&1; }
cluster_registered() {
    timeout 15 sacctmgr -n -P list cluster format=cluster 2>/dev/null | grep -qx "$CLUSTER"
}
node_state() { timeout 15 sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -n 1; }
node_ready() {
    local st
    st=$(node_state)
    # idle / mixed / allocated / completing are all usable; a trailing '*'
    # means slurmd is not responding; drain/down/inval are not usable.
    [[ $st =~ ^(idle|mixed|allocated|completing)$ ]]
}

# Fast path: nothing changed and everything answers.
if ((SLURM_CHANGED == 0 && DBD_CHANGED == 0 && MYSQL_CHANGED == 0)) &&
    munge_ok && mysql_ok && slurmd_ok && ctld_ok && node_ready && sacct_ok && cluster_registered; then
    log "cluster '$CLUSTER' already up: node $NODE is $(node_state), sacct answers"
    exit 0
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
    if pid_alive "$RUN_DIR/slurmd.pid" slurmd || pid_alive "$RUN_DIR/slurmctld.pid" slurmctld; then
        log "slurm.conf changed: restarting slurmctld and slurmd"
    fi
    stop_pidfile "$RUN_DIR/slurmd.pid" slurmd
    stop_pidfile "$RUN_DIR/slurmctld.pid" slurmctld
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

if slurmd_ok; then
    log "slurmd already running"
else
    log "starting slurmd"
    detach "$LOG_DIR/slurmd.stdout" slurmd -N "$NODE" ||
        die "slurmd failed to start" "$LOG_DIR/slurmd.log" "$LOG_DIR/slurmd.stdout"
    wait_until "slurmd" 30 slurmd_ok || die "slurmd is not running" "$LOG_DIR/slurmd.log" "$LOG_DIR/slurmd.stdout"
    log "slurmd up"
fi

# ---------------------------------------------------------------- wait for the node
log "waiting for node $NODE to be usable"
resumed=0
while ! node_ready; do
    st=$(node_state)
    # slurmd answers but the node is drained/down (e.g. left so by an earlier
    # run): put it back in service once.
    if ((resumed == 0)) && [[ -n $st && $st != *'*' && $st =~ (drain|down|fail) ]]; then
        log "node $NODE is '$st': resuming it"
        timeout 15 scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
        resumed=1
    fi
    if ((SECONDS >= DEADLINE)); then
        timeout 15 scontrol show node "$NODE" >&2 || true
        die "node $NODE not usable after ${TIMEOUT}s (state: '${st:-unknown}')" "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log"
    fi
    sleep 1
done

wait_until "sacct" 60 sacct_ok || die "sacct does not answer" "$LOG_DIR/slurmdbd.log" "$LOG_DIR/slurmctld.log"

log "cluster '$CLUSTER' up: node $NODE ($CPUS CPUs, ${REAL_MEMORY} MB) is $(node_state) in partition '$PARTITION'; sacct answers; logs in $LOG_DIR"
