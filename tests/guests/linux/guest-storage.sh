#!/usr/bin/env bash
# Interop check of the Linux test guest's storage side (scripts/storage.sh, halcyon-disktest, the
# kernel modules of the initramfs) on a disk QEMU emulates, so it is proven before storvsp exists
# and the same workload has a reference on QEMU's own device model:
#   1. QEMU (TCG, SeaBIOS, -kernel) boots the Debian kernel with 2 vCPUs and a fresh qemu-img
#      VHDX as virtio-blk; halcyon.test=disk makes the file system, writes the files, reads them
#      back after a remount and runs the random read/write workload on both vCPUs;
#   2. on the host, check-guest-disk.sh finds the same data in the VHDX (qemu-img, e2fsck,
#      debugfs, halcyon-disktest random-verify);
#   3. a second boot with halcyon.test=disk-verify reads everything back.
#   guest-storage.sh ASSET_DIR WORKDIR
# Exit 77 (a ctest skip) when ASSET_DIR has no vmlinuz/initramfs (build the linux_guest target).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
assets="$1" work="$2"
if [[ ! -f "$assets/vmlinuz" || ! -f "$assets/initramfs.cpio.gz" ||
      ! -x "$assets/halcyon-disktest" ]]; then
    echo "no Linux guest in $assets (ninja linux_guest): skipped"
    exit 77
fi
rm -rf "$work" && mkdir -p "$work"
disk="$work/disk.vhdx"
qemu-img create -q -f vhdx "$disk" 128M

failures=0
boot() {
    local mode="$1" log="$work/$1.log" status=0
    timeout 240 qemu-system-x86_64 -machine q35 -accel tcg -cpu EPYC -smp 2 -m 512 \
        -kernel "$assets/vmlinuz" -initrd "$assets/initramfs.cpio.gz" \
        -append "console=ttyS0 panic=-1 halcyon.test=$mode halcyon.io-ops=300" \
        -drive "file=$disk,format=vhdx,if=virtio" -display none -serial "file:$log" \
        -no-reboot 2>"$work/$mode.stderr" || status=$?
    grep -a 'HALCYON-GUEST: ' "$log" | sed -n '/HALCYON-GUEST: test /,$p'
    if [[ $status -ne 0 ]] || ! grep -a -q "HALCYON-GUEST: disk test PASS" "$log"; then
        echo "FAIL: halcyon.test=$mode (QEMU status $status); serial log: $log"
        tail -n 30 "$log"
        failures=$((failures + 1))
        return 1
    fi
    if grep -a -q -E 'Kernel panic|BUG:|WARNING: CPU|Oops' "$log"; then
        echo "FAIL: the kernel complained during halcyon.test=$mode"
        failures=$((failures + 1))
    fi
}
expect() {
    grep -a -q -E -- "$1" "$work/$2.log" || {
        echo "FAIL: no line matching '$1' in $2.log"
        failures=$((failures + 1))
    }
}

# The files storage.sh writes (name seed bytes) and the SHA-256 their seeds give.
files=("small.bin 1 4096" "medium.bin 2 1048576" "large.bin 3 8388608")
expect_files() {
    local name seed bytes
    for entry in "${files[@]}"; do
        read -r name seed bytes <<<"$entry"
        expect "HALCYON-GUEST: EMULATED-DISK $1 $name $("$assets/halcyon-disktest" fill "$seed" \
            "$bytes" | sha256sum | cut -d' ' -f1)[[:space:]]*\$" "$2"
    done
}

if boot disk; then
    expect_files OK disk
    expect 'HALCYON-GUEST: EMULATED-IO random OK jobs=2 ' disk
    "$here/check-guest-disk.sh" "$assets/halcyon-disktest" "$disk" ||
        failures=$((failures + 1))
    if boot disk-verify; then
        expect_files VERIFIED disk-verify
        expect 'HALCYON-GUEST: EMULATED-IO random-verify OK jobs=2 ' disk-verify
    fi
fi
[[ $failures -eq 0 ]] || { echo "$failures check(s) failed"; exit 1; }
echo "the guest's storage checks pass on QEMU's virtio-blk, and the host reads the same data"
