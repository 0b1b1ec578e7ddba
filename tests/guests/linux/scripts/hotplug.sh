# halcyon.test=hotplug: disks that change under a running guest (the VHD verbs; the integration
# case vm_vhd_e2e and its driver tests/integration/vm_vhd_e2e.py). Loads the Hyper-V drivers
# (hv_utils answers the integration services, hv_storvsc drives the synthetic SCSI controller),
# waits for /dev/sda, then watches every SCSI disk and prints one line per change:
#   hotplug sdX appeared bytes N sector S     a disk came (hot-add)
#   hotplug sdX resized bytes N               its capacity changed (online resize); when it grew,
#                                             the new last sector is written (marker
#                                             HALCYON-RESIZED-N, flushed) and read back
#   hotplug sdX removed                       it went (hot-remove)
# It never ends by itself: the host shuts the VM down (Stop-VM through the shutdown service).
. /tests/common.sh

load_group vmbus
start_kvp # Get-VM: the host name and addresses (common.sh)
if wait_for_disk /dev/sda; then
    say "hotplug watching"
else
    failed "hotplug FAILED: no /dev/sda after ${wait_seconds} s"
fi

# Writes a marker into the last sector of disk $1 (of $2 bytes), flushed, and reads it back.
mark_last_sector() {
    local marker="HALCYON-RESIZED-$2" sector=$(($2 / 512 - 1)) back
    printf '%s' "$marker" | dd of="/dev/$1" bs=512 seek="$sector" conv=notrunc,fsync 2>/dev/null
    back="$(dd if="/dev/$1" bs=512 skip="$sector" count=1 2>/dev/null | head -c ${#marker})"
    if [ "$back" = "$marker" ]; then
        say "hotplug $1 last sector written: $marker"
    else
        failed "hotplug $1 FAILED: the last sector reads back '$back'"
    fi
}

known=""
while true; do
    current=""
    for block in /sys/block/sd*; do
        [ -e "$block/size" ] || continue
        name="${block##*/}"
        bytes=$(($(cat "$block/size") * 512)) # /sys counts 512-byte units on every disk
        current="$current $name:$bytes"
        case " $known " in
        *" $name:$bytes "*) ;;
        *" $name:"*)
            old="${known#* "$name":}"
            old="${old%% *}"
            say "hotplug $name resized bytes $bytes"
            [ "$bytes" -gt "$old" ] && mark_last_sector "$name" "$bytes"
            ;;
        *) say "hotplug $name appeared bytes $bytes sector $(cat "$block/queue/logical_block_size")" ;;
        esac
    done
    for entry in $known; do
        name="${entry%%:*}"
        case " $current " in
        *" $name:"*) ;;
        *) say "hotplug $name removed" ;;
        esac
    done
    known="$current"
    usleep 200000
done
