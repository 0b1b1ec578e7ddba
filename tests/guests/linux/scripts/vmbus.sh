# halcyon.test=vmbus | vmbus-verify | vmbus-cycle: the Hyper-V guest drivers of the unmodified
# Debian kernel on Halcyon's VMBus (busybox ash, run by /init with the mode as $1).
#   1. the ACPI VMBus device Linux binds to (from the VM's DSDT)
#   2. insmod of hv_vmbus, hv_utils, hv_balloon, hv_netvsc, sd_mod, hv_storvsc and ext4 with
#      their dependencies, one line per module
#   3. the negotiated VMBus version (hv_vmbus's "Vmbus version:" line) and the devices the host
#      offered, with their class ids, drivers and channel counts
#   4. the disk (halcyon.disk, default /dev/sda) when one is named or the host offered a SCSI
#      controller: vmbus writes the files and runs the random I/O workload (storage.sh),
#      vmbus-verify reads back and verifies what an earlier vmbus boot wrote, vmbus-cycle does
#      the one or the other: it writes and reboots when the disk has no file system yet, and
#      verifies (then powers off) when it has one - two boots of one VM, one disk; vmbus-persist
#      does the same but powers off after writing (for a disk that outlives the host's power-off:
#      a VHDX on the datastore, checked on the host between two boots)
# The last line is "vmbus test PASS" or "vmbus test FAIL (N problems)".
. /tests/common.sh
. /tests/storage.sh
mode="$1"
tag=VMBUS-DISK
io_tag=VMBUS-IO

# 1. ACPI: the device hv_vmbus's ACPI driver matches ("VMBUS" or "VMBus").
acpi_devices=0
for device in /sys/bus/acpi/devices/*; do
    hid="$(cat "$device/hid" 2>/dev/null)"
    case "$hid" in
    VMBUS | VMBus)
        acpi_devices=$((acpi_devices + 1))
        say "acpi $(basename "$device") hid $hid path $(cat "$device/path" 2>/dev/null)" \
            "status $(cat "$device/status" 2>/dev/null || echo none)"
        ;;
    esac
done
[ "$acpi_devices" -eq 1 ] || failed "acpi: $acpi_devices VMBus devices (expected 1)"

# 2. The drivers.
load_group vmbus
load_group fs

# 3. What hv_vmbus says, the version it negotiated and the devices on the bus.
dmesg | grep -E 'hv_vmbus|hv_utils|hv_balloon|hv_netvsc|hv_storvsc|storvsc|vmbus|Hyper-V' | grep -v -i 'command line' |
    while read -r line; do say "dmesg: $line"; done
version="$(dmesg | sed -n 's/.*Vmbus version:\([0-9]*\.[0-9]*\).*/\1/p' | tail -n 1)"
if [ -n "$version" ]; then
    say "vmbus version $version"
else
    failed "vmbus version: none negotiated"
fi

class_name() {
    case "$1" in
    ba6163d9-04a1-4d29-b605-72e2ffb1dc7f) echo scsi ;;
    f8615163-df3e-46c5-913f-f2d2f965ed0e) echo network ;;
    32412632-86cb-44a2-9b5c-50d1417354f5) echo ide ;;
    0e0b6031-5213-4934-818b-38d90ced39db) echo shutdown ;;
    9527e630-d0ae-497b-adce-e80ab0175caf) echo timesync ;;
    57164f39-9115-4e78-ab55-382f3bd5422d) echo heartbeat ;;
    a9a0f4e7-5a45-4d96-b827-8a841e8c03e6) echo kvp ;;
    35fa2e29-ea23-4236-96ae-3a6ebacba440) echo vss ;;
    525074dc-8985-46e2-8057-a307dc18a502) echo balloon ;;
    34d14be3-dee4-41c8-9ae7-6b174977c192) echo fcopy ;;
    da0a7802-e377-4aac-8e77-0558eb1073f8) echo synthvid ;;
    f912ad6d-2b17-48ea-bd65-f927a61c7684) echo keyboard ;;
    cfa8b69e-5b4a-4cc0-b98b-8ba1a1f3f95a) echo mouse ;;
    44c4f61d-4444-4400-9d52-802e27ede19f) echo pci ;;
    *) echo unknown ;;
    esac
}
count=0
for device in /sys/bus/vmbus/devices/*; do
    [ -e "$device/class_id" ] || continue
    count=$((count + 1))
    class="$(tr -d '{}' <"$device/class_id")"
    driver=none
    [ -L "$device/driver" ] && driver="$(basename "$(readlink "$device/driver")")"
    # channels/: the primary channel and the sub-channels the driver opened (multi-queue).
    say "vmbus device $(basename "$device") class $class ($(class_name "$class")) driver $driver" \
        "channels $(ls "$device/channels" 2>/dev/null | wc -l)"
done
say "vmbus devices $count"

# 3b. The KVP daemon, so that the host's Get-VM shows the guest's host name and addresses while
#     the checks below run (not one of this test's checks: vm_kvp_e2e tests KVP).
start_kvp

# 4. Storage: a disk is expected when halcyon.disk names one or the host offered a SCSI
# controller (storvsc scans its LUNs in the background, so the disk may take a moment).
disk="$(option halcyon.disk /dev/sda)"
scsi_controllers="$(cat /sys/bus/vmbus/devices/*/class_id 2>/dev/null | grep -c ba6163d9)"
if [ -z "$(option halcyon.disk '')" ] && [ "$scsi_controllers" -eq 0 ]; then
    say "no SCSI controller on the bus: storage check skipped"
elif ! wait_for_disk "$disk"; then
    failed "$tag FAILED no disk $disk after ${wait_seconds} s"
elif [ "$mode" = vmbus-verify ]; then
    storage_verify_check "$disk"
elif [ "$mode" = vmbus-cycle ] && mount -t ext4 -o ro "$disk" /mnt 2>/dev/null; then
    # vmbus-cycle, second boot: the disk holds what the first boot wrote.
    umount /mnt
    say "vmbus-cycle: the disk has a file system: verifying what the last boot wrote"
    storage_verify_check "$disk"
elif [ "$mode" = vmbus-persist ] && mount -t ext4 -o ro "$disk" /mnt 2>/dev/null; then
    # vmbus-persist, a later boot of the host: the disk (on the datastore) kept what was written.
    umount /mnt
    say "vmbus-persist: the disk has a file system: verifying what an earlier boot wrote"
    storage_verify_check "$disk"
elif [ "$mode" = vmbus-persist ]; then
    say "vmbus-persist: no file system on the disk: writing, then powering off"
    storage_write_check "$disk"
elif [ "$mode" = vmbus-cycle ]; then
    say "vmbus-cycle: no file system on the disk: writing, then rebooting to read it back"
    storage_write_check "$disk"
    if [ "$failures" -eq 0 ]; then
        say "reboot"
        reboot -f
    fi
else
    storage_write_check "$disk"
fi

if [ "$failures" -eq 0 ]; then
    say "vmbus test PASS"
else
    say "vmbus test FAIL ($failures problems)"
fi
