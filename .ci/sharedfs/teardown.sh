#!/usr/bin/env bash
# Undo setup.sh: unmount both sshfs mounts and stop the sshd. Keeps the keys
# and the export's content (delete $ROOT to start from nothing).
set -uo pipefail
ROOT=${METICULOUS_SHAREDFS_ROOT:-/tmp/meticulous-sharedfs}
for point in "$ROOT/short" "$ROOT/long"; do
    if grep -qs " $point fuse.sshfs " /proc/mounts; then
        fusermount3 -u "$point" 2>/dev/null || umount -l "$point"
    fi
done
if [[ -f $ROOT/sshd/sshd.pid ]]; then
    kill "$(cat "$ROOT/sshd/sshd.pid")" 2>/dev/null || true
    rm -f "$ROOT/sshd/sshd.pid"
fi
echo "[sharedfs-teardown] done"
