# halcyon.test=trim: a discard in the guest reaches the VHDX behind storvsc and releases its
# blocks (issue #7). On a fresh dynamic VHDX with 8 MiB blocks (qemu-img's for a 128 MiB disk):
#   1. 32 MiB of known data at 8 MiB (VHDX blocks 1-4), flushed, read back from the disk;
#   2. blkdiscard of the 16 MiB at 16 MiB (blocks 2 and 3): sd sends UNMAP, storvsp trims;
#   3. the discarded range reads zeros (the disk says LBPRZ), the data around it is intact.
# Halcyon logs what the trim did to the VHDX ("vm NAME: disk 0 (...): 1 trim: payload blocks
# allocated 4 -> 2 of 16") and what the disk holds when the VM is gone. The last line is
# "trim test PASS" or "trim test FAIL (N problems)".
. /tests/common.sh
tag=TRIM
seed=11
mib=1048576

# sha256 of `count` MiB of the test stream starting `skip` MiB into it.
stream_sha() {
    halcyon-disktest fill "$seed" $((32 * mib)) |
        dd bs=1M skip="$1" count="$2" iflag=fullblock 2>/dev/null | sha256sum | cut -d' ' -f1
}

# sha256 of `count` MiB of the disk at `skip` MiB, from the disk (the page cache dropped).
disk_sha() {
    blockdev --flushbufs "$disk"
    echo 3 >/proc/sys/vm/drop_caches
    dd if="$disk" bs=1M skip="$1" count="$2" 2>/dev/null | sha256sum | cut -d' ' -f1
}

check() {
    if [ "$2" = "$3" ]; then
        say "$tag OK $1 $2"
    else
        failed "$tag FAILED $1 read $2 expected $3"
    fi
}

load_group vmbus
start_kvp # Get-VM: the host name and addresses (common.sh)
disk="$(option halcyon.disk /dev/sda)"
if ! wait_for_disk "$disk"; then
    failed "$tag FAILED no disk $disk after ${wait_seconds} s"
else
    queue="/sys/block/$(basename "$disk")/queue"
    say "$tag $disk discard_granularity $(cat "$queue/discard_granularity")" \
        "discard_max_bytes $(cat "$queue/discard_max_bytes")"
    halcyon-disktest fill "$seed" $((32 * mib)) |
        dd of="$disk" bs=1M seek=8 iflag=fullblock conv=fsync 2>/tmp/dd.log ||
        failed "$tag FAILED write: $(tr '\n' ' ' </tmp/dd.log)"
    check "written 32 MiB at 8 MiB" "$(disk_sha 8 32)" "$(stream_sha 0 32)"
    if blkdiscard -o $((16 * mib)) -l $((16 * mib)) "$disk" 2>/tmp/discard.log; then
        say "$tag discarded 16 MiB at 16 MiB"
    else
        failed "$tag FAILED blkdiscard: $(tr '\n' ' ' </tmp/discard.log)"
    fi
    zeros="$(dd if=/dev/zero bs=1M count=16 2>/dev/null | sha256sum | cut -d' ' -f1)"
    check "discarded 16 MiB at 16 MiB reads zeros" "$(disk_sha 16 16)" "$zeros"
    check "kept 8 MiB at 8 MiB" "$(disk_sha 8 8)" "$(stream_sha 0 8)"
    check "kept 8 MiB at 32 MiB" "$(disk_sha 32 8)" "$(stream_sha 24 8)"
    errors="$(dmesg | grep -i -E 'I/O error|critical medium error|blk_update_request')"
    [ -z "$errors" ] || failed "$tag FAILED the kernel reported I/O errors: $errors"
fi

if [ "$failures" -eq 0 ]; then
    say "trim test PASS"
else
    say "trim test FAIL ($failures problems)"
fi
