#!/usr/bin/env bash
# Interop check of the Linux loader (vmm/worker/linux) against the real Debian kernel: the
# loader's complete output - zero page, e820 map, ACPI tables, page tables, GDT, kernel, initrd
# and the vCPU entry state - is booted on QEMU's q35 (TCG) with no firmware, only the mode switch
# of firmware/entry.S. The kernel must find our tables (not QEMU's: there are none), reach the
# initramfs's marker with every vCPU up, and power off through our \_S5 (SLP_TYP 5; QEMU is told
# that 5 is its S4/off value).
# With `vmbus` the DSDT has the VMBus device and the guest runs halcyon.test=vmbus: Linux's ACPI
# must enumerate \_SB.VMBS as "VMBus" and present (what hv_vmbus binds to); hv_vmbus itself must
# refuse to load (ENODEV) because QEMU's TCG is no Hyper-V, and the ext4 modules must load.
#   boot-loader-output.sh LINUX_BOOT_INSPECT ENTRY_BIN ASSET_DIR WORKDIR [CPUS] [vmbus]
# Exit 77 (a ctest skip) when ASSET_DIR has no vmlinuz/initramfs (build the linux_guest target).
set -euo pipefail
inspect="$1" entry="$2" assets="$3" work="$4" cpus="${5:-2}" variant="${6:-}"
memory_mib=256
if [[ ! -f "$assets/vmlinuz" || ! -f "$assets/initramfs.cpio.gz" ]]; then
    echo "no Linux guest in $assets (ninja linux_guest): skipped"
    exit 77
fi
rm -rf "$work" && mkdir -p "$work"
test=poweroff vmbus_option=()
if [[ "$variant" == vmbus ]]; then
    test=vmbus vmbus_option=(--vmbus)
fi
"$inspect" qemu-image "$assets/vmlinuz" "$assets/initramfs.cpio.gz" --out "$work" \
    --entry-code "$entry" --memory-mib "$memory_mib" --cpus "$cpus" "${vmbus_option[@]}" \
    --cmdline "console=ttyS0 panic=-1 halcyon.test=$test halcyon.wait=30"
mapfile -t placement <"$work/qemu-args"

status=0
timeout 240 qemu-system-x86_64 -machine q35 -accel tcg -cpu EPYC -smp "$cpus" -m "$memory_mib" \
    -nodefaults -display none -serial "file:$work/serial.log" -no-reboot \
    -global ICH9-LPC.s4_val=5 "${placement[@]}" || status=$?
log="$work/serial.log"
echo "QEMU exit status $status; serial log: $log"

failures=0
expect() {
    if grep -a -q -E -- "$1" "$log"; then
        echo "ok: $2"
    else
        echo "FAIL: $2 (no line matching '$1')"
        failures=$((failures + 1))
    fi
}
end_hex=$(printf '%016x' $(((memory_mib << 20) - 1)))
expect 'BIOS-e820: \[mem 0x0000000000000000-0x000000000009fbff\] usable' "e820: conventional memory"
expect 'BIOS-e820: \[mem 0x00000000000e0000-0x00000000000fffff\] reserved' "e820: ACPI area reserved"
expect "BIOS-e820: \\[mem 0x0000000000100000-0x$end_hex\\] usable" "e820: RAM up to ${memory_mib} MiB"
expect 'ACPI: RSDP 0x00000000000E0000 000024 \(v02 HALCYN\)' "RSDP from boot_params"
expect 'ACPI: FACP 0x00000000000E0100 000114 \(v06 HALCYN' "FADT revision 6"
expect 'ACPI: PM-Timer IO Port: 0x608' "PM timer port from the FADT"
expect 'ACPI: LAPIC_NMI \(acpi_id\[0xff\] dfl dfl lint\[0x1\]\)' "LINT1 NMI for all processors"
expect 'ACPI: INT_SRC_OVR \(bus 0 bus_irq 0 global_irq 2 dfl dfl\)' "IRQ0 -> GSI 2"
expect 'ACPI: INT_SRC_OVR \(bus 0 bus_irq 9 global_irq 9 ' "IRQ9 -> GSI 9"
expect "IOAPIC\\[0\\]: apic_id $cpus, version [0-9]+, address 0xfec00000, GSI 0-23" "IOAPIC from the MADT"
expect "smp: Brought up 1 node, $cpus CPUs?" "all $cpus vCPUs up (INIT/SIPI through the LAPICs)"
expect 'ACPI: 1 ACPI AML tables successfully acquired and loaded' "DSDT loaded by ACPICA"
expect 'ACPI: PM: \(supports S0 S5\)' "\\_S5 found"
expect '^HALCYON-GUEST: shell up' "initramfs marker"
expect "^HALCYON-GUEST: cpus $cpus" "user space sees $cpus CPUs"
if [[ "$variant" == vmbus ]]; then
    expect '^HALCYON-GUEST: acpi VMBUS:00 hid VMBUS path \\_SB_\.VMBS status 15' \
        "Linux enumerates \\_SB.VMBS (_HID VMBus, which ACPICA upper-cases; _STA 0x0F)"
    expect "^HALCYON-GUEST: module hv_vmbus FAILED: .*No such device" \
        "hv_vmbus refuses to load on a hypervisor that is not Hyper-V"
    expect '^HALCYON-GUEST: module ext4 loaded' "the initramfs's modules load (ext4)"
fi
expect 'ACPI: PM: Preparing to enter system sleep state S5' "ACPI power-off path"
if [[ $status -ne 0 ]]; then
    echo "FAIL: QEMU did not power off (status $status): PM1a_CNT SLP_TYP=5 never arrived"
    failures=$((failures + 1))
fi
if grep -a -q -E 'Kernel panic|BUG:|WARNING: CPU|Oops' "$log"; then
    echo "FAIL: the kernel complained:"
    grep -a -E -A3 'Kernel panic|BUG:|WARNING: CPU|Oops' "$log" | head -20
    failures=$((failures + 1))
fi
[[ $failures -eq 0 ]] || { echo "$failures check(s) failed; serial log:"; tail -n 40 "$log"; exit 1; }
echo "Debian $(grep -a -o -m1 'HALCYON-GUEST: kernel .*' "$log" | cut -d' ' -f3) booted from the loader's output"
