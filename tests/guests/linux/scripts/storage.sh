# The storage checks of the Linux test guest (sourced after common.sh; busybox ash). Disk layout:
#   [0, 64 MiB)          an ext2 file system (busybox mke2fs; mounted by the ext4 driver) holding
#                        deterministic files (halcyon-disktest fill) and their SHA-256 manifest
#   [64 MiB, 68 MiB)     the 4 KiB random read/write region (halcyon-disktest random)
#   [72 MiB, 104 MiB)    sequential throughput (only with halcyon.bench=1)
# Lines: "TAG OK|VERIFIED|FAILED ..." for the files, "IO-TAG <halcyon-disktest result>".

fs_mib=64
random_offset_mib=64
random_mib=4
bench_offset_mib=72
bench_mib=32
minimum_disk_mib=$((bench_offset_mib + bench_mib))
random_ops="$(option halcyon.io-ops 1000)" # per job; one job per vCPU
random_seed=42

# NAME SEED BYTES: the files the check writes; their SHA-256 is known in advance (the content is
# a function of the seed), e.g. `halcyon-disktest fill 1 4096 | sha256sum` on the host.
test_files() {
    echo "small.bin 1 4096"
    echo "medium.bin 2 1048576"
    echo "large.bin 3 8388608"
}

sha256() {
    sha256sum "$1" | cut -d' ' -f1
}

describe_disk() {
    local disk="$1" device
    device="$(basename "$disk")"
    say "disk $disk bytes $(blockdev --getsize64 "$disk") logical-sector $(blockdev --getss "$disk")" \
        "physical-sector $(cat "/sys/block/$device/queue/physical_block_size")" \
        "queues $(ls "/sys/block/$device/mq" 2>/dev/null | wc -l)"
}

# Flushes what the file system wrote and forgets the cached blocks, so what is read next comes
# from the disk, not from memory.
unmount_and_drop_caches() {
    sync
    umount /mnt || failed "$tag FAILED umount"
    blockdev --flushbufs "$1"
    echo 3 >/proc/sys/vm/drop_caches
}

mount_disk() {
    mount -t ext4 "$1" /mnt && return 0
    failed "$tag FAILED mount $1: $(dmesg | grep -i ext4 | tail -n 2 | tr '\n' ' ')"
    return 1
}

# Compares every file against the manifest and against the hash its seed gives; $1 is the word
# for success (OK after writing, VERIFIED on a later boot).
check_files() {
    local word="$1" name seed bytes expected recorded got
    test_files | while read -r name seed bytes; do
        expected="$(halcyon-disktest fill "$seed" "$bytes" | sha256sum | cut -d' ' -f1)"
        recorded="$(grep " $name\$" /mnt/MANIFEST | cut -d' ' -f1)"
        if [ ! -f "/mnt/$name" ]; then
            echo "$tag FAILED $name missing"
            continue
        fi
        got="$(sha256 "/mnt/$name")"
        if [ "$got" = "$expected" ] && [ "$recorded" = "$expected" ]; then
            echo "$tag $word $name $got"
        else
            echo "$tag FAILED $name read $got expected $expected manifest ${recorded:-none}"
        fi
    done >/tmp/check-files
    while read -r line; do
        case "$line" in
        *" FAILED "*) failed "$line" ;;
        *) say "$line" ;;
        esac
    done </tmp/check-files
}

kernel_io_errors() {
    local errors
    errors="$(dmesg | grep -i -E 'I/O error|EXT4-fs error|EXT4-fs warning|critical medium error|blk_update_request|Buffer I/O')"
    [ -z "$errors" ] && return 0
    echo "$errors" | head -n 10 | while read -r line; do say "kernel: $line"; done
    failed "$tag FAILED the kernel reported I/O errors"
}

run_disktest() {
    local line
    line="$(halcyon-disktest "$@" 2>&1)"
    case "$line" in
    *" OK "*) say "$io_tag $line" ;;
    *) failed "$io_tag $line" ;;
    esac
}

# Writes the files, reads them back after a remount, runs the random workload.
storage_write_check() {
    local disk="$1" name seed bytes
    describe_disk "$disk"
    if [ "$(blockdev --getsize64 "$disk")" -lt $((minimum_disk_mib << 20)) ]; then
        failed "$tag FAILED $disk is smaller than ${minimum_disk_mib} MiB"
        return
    fi
    if ! mke2fs -q -F -b 4096 -L halcyon "$disk" $((fs_mib * 1024)) >/tmp/mke2fs 2>&1; then
        failed "$tag FAILED mke2fs: $(tr '\n' ' ' </tmp/mke2fs)"
        return
    fi
    mount_disk "$disk" || return
    : >/mnt/MANIFEST.new
    test_files | while read -r name seed bytes; do
        halcyon-disktest fill "$seed" "$bytes" >"/mnt/$name"
        echo "$(halcyon-disktest fill "$seed" "$bytes" | sha256sum | cut -d' ' -f1)  $name" \
            >>/mnt/MANIFEST.new
    done
    mv /mnt/MANIFEST.new /mnt/MANIFEST
    echo "$random_offset_mib $random_mib $random_ops $(nproc) $random_seed" >/mnt/IO-PARAMETERS
    unmount_and_drop_caches "$disk"
    mount_disk "$disk" || return
    check_files OK
    umount /mnt
    say "$tag files written, synced and read back after a remount"
    run_disktest random "$disk" $random_offset_mib $random_mib "$random_ops" "$(nproc)" \
        $random_seed
    if [ "$(option halcyon.bench 0)" = 1 ]; then
        run_disktest sequential "$disk" $bench_offset_mib $bench_mib
        run_disktest random "$disk" $bench_offset_mib $bench_mib $((random_ops * 4)) "$(nproc)" 7
    fi
    kernel_io_errors
}

# Reads back what storage_write_check wrote on an earlier boot, changing nothing.
storage_verify_check() {
    local disk="$1" offset size ops jobs seed
    describe_disk "$disk"
    mount_disk "$disk" || return
    check_files VERIFIED
    if read -r offset size ops jobs seed </mnt/IO-PARAMETERS; then
        umount /mnt
        run_disktest random-verify "$disk" "$offset" "$size" "$ops" "$jobs" "$seed"
    else
        umount /mnt
        failed "$tag FAILED no IO-PARAMETERS on the file system"
    fi
    kernel_io_errors
}
