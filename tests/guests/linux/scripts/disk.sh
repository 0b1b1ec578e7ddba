# halcyon.test=disk | disk-verify: the storage checks of vmbus.sh on a disk QEMU emulates
# (virtio-blk, halcyon.disk default /dev/vda), for comparing storvsc on Halcyon with the same
# workload, same kernel and same VHDX on QEMU's own device model (busybox ash, run by /init).
. /tests/common.sh
. /tests/storage.sh
mode="$1"
tag=EMULATED-DISK
io_tag=EMULATED-IO

load_group qemu-disk
load_group fs
disk="$(option halcyon.disk /dev/vda)"
if ! wait_for_disk "$disk"; then
    failed "$tag FAILED no disk $disk after ${wait_seconds} s"
elif [ "$mode" = disk-verify ]; then
    storage_verify_check "$disk"
else
    storage_write_check "$disk"
fi
if [ "$failures" -eq 0 ]; then
    say "disk test PASS"
else
    say "disk test FAIL ($failures problems)"
fi
