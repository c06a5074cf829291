#!/usr/bin/env bash
# Start a real network filesystem for the shared-filesystem suite: a local
# sshd on a loopback port and one exported directory mounted twice with
# sshfs (FUSE), with a short and a long attribute cache, as two cluster
# nodes would see one NFS export with different acregmax settings.
# Run as root. Idempotent: when both mounts answer it returns at once.
#
#   export:  $METICULOUS_SHAREDFS_ROOT/export   (default /tmp/meticulous-sharedfs)
#   mounts:  $ROOT/short  (attr_timeout=1)   and   $ROOT/long  (attr_timeout=90);
#            sshfs's own stat cache (dcache_timeout, 20 s by default) is set the same
#
# The suite finds them through the same defaults (tests/sharedfs/conftest.py).
set -euo pipefail

if [[ $EUID -ne 0 ]]; then
    echo "sharedfs-setup: must run as root" >&2
    exit 1
fi

ROOT=${METICULOUS_SHAREDFS_ROOT:-/tmp/meticulous-sharedfs}
PORT=${METICULOUS_SHAREDFS_PORT:-2222}
EXPORT=$ROOT/export
STATE=$ROOT/sshd
SHORT=$ROOT/short
LONG=$ROOT/long

log() { printf '[sharedfs-setup] %s\n' "$*"; }

mounted() { grep -qs " $1 fuse.sshfs " /proc/mounts; }

if mounted "$SHORT" && mounted "$LONG" && ls "$SHORT" "$LONG" >/dev/null 2>&1; then
    log "already up: $SHORT and $LONG"
    exit 0
fi

if ! command -v sshfs >/dev/null || ! [[ -x /usr/sbin/sshd ]]; then
    log "installing openssh-server and sshfs"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends openssh-server openssh-client sshfs fuse3 >/dev/null
fi

# A mount whose sshfs process died (a killed session, a restarted machine)
# stays in /proc/mounts and answers every call with ENOTCONN, even mkdir -p:
# detach such mounts before anything touches their paths.
unmount_stale() {  # unmount_stale MOUNTPOINT
    if mounted "$1" && ! ls "$1" >/dev/null 2>&1; then
        log "detaching stale mount $1"
        fusermount3 -u -z "$1" 2>/dev/null || umount -l "$1"
    fi
}
unmount_stale "$SHORT"
unmount_stale "$LONG"

mkdir -p "$EXPORT" "$STATE" "$SHORT" "$LONG" /run/sshd
chmod 700 "$STATE"
[[ -f $STATE/host_key ]] || ssh-keygen -q -t ed25519 -N '' -f "$STATE/host_key"
[[ -f $STATE/client_key ]] || ssh-keygen -q -t ed25519 -N '' -f "$STATE/client_key"
cp "$STATE/client_key.pub" "$STATE/authorized_keys"
chmod 600 "$STATE/authorized_keys"

cat > "$STATE/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $PORT
HostKey $STATE/host_key
PidFile $STATE/sshd.pid
AuthorizedKeysFile $STATE/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
CONF

if ! { [[ -f $STATE/sshd.pid ]] && kill -0 "$(cat "$STATE/sshd.pid")" 2>/dev/null; }; then
    log "starting sshd on 127.0.0.1:$PORT"
    /usr/sbin/sshd -f "$STATE/sshd_config" -E "$STATE/sshd.log"
fi

SSH_OPTS=(-o "IdentityFile=$STATE/client_key" -o "Port=$PORT"
          -o StrictHostKeyChecking=no -o "UserKnownHostsFile=$STATE/known_hosts"
          -o BatchMode=yes -o reconnect -o ServerAliveInterval=5)

mount_one() {  # mount_one MOUNTPOINT ATTR_TIMEOUT
    local point=$1 timeout=$2
    if mounted "$point"; then
        ls "$point" >/dev/null 2>&1 && return 0
        fusermount3 -u -z "$point" 2>/dev/null || umount -l "$point" || true
    fi
    log "mounting $point (attr_timeout=$timeout)"
    local tries
    for tries in 1 2 3 4 5 6 7 8 9 10; do
        if sshfs "root@127.0.0.1:$EXPORT" "$point" "${SSH_OPTS[@]}" \
            -o "attr_timeout=$timeout,entry_timeout=$timeout,negative_timeout=$timeout,dcache_timeout=$timeout" \
            -o allow_other 2>"$STATE/sshfs-$(basename "$point").log"; then
            return 0
        fi
        sleep 0.5  # sshd may still be binding its port
    done
    cat "$STATE/sshfs-$(basename "$point").log" >&2
    echo "sharedfs-setup: ERROR: could not mount $point" >&2
    exit 1
}

mount_one "$SHORT" 1
mount_one "$LONG" 90
log "up: $EXPORT mounted at $SHORT (1 s attribute cache) and $LONG (90 s)"
