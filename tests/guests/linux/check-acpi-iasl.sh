#!/usr/bin/env bash
# Interop check of the Linux guest's ACPI tables against ACPICA, the reference implementation
# (Debian package acpica-tools), for a VM without and with VMBus:
#   1. `iasl -d` disassembles every table; ACPICA's table checks (checksums, FADT field
#      consistency, ...) report problems as warnings or errors, and any of them fails the test;
#   2. the disassembled DSDT must be `Name (_S5, Package (0x04) { 0x05, 0x05, Zero, Zero })` and,
#      with VMBus, Scope (_SB) { Device (VMBS) } with the objects Linux's hv_vmbus needs; without
#      VMBus there must be no such device;
#   3. recompiling that DSDT with iasl must give exactly our AML bytes (the encoder agrees with
#      the ASL compiler, not just with our own parser). One iasl diagnostic is expected and
#      ignored: error 6033, "_HID string must be exactly 7 or 8 characters" - the VMBus device's
#      _HID is "VMBus", the ID Linux, FreeBSD and Windows match and Hyper-V itself uses, which
#      is not a PNP/ACPI ID of the standard form.
#   check-acpi-iasl.sh LINUX_BOOT_INSPECT WORKDIR [CPUS]
set -euo pipefail
inspect="$1" work="$2" cpus="${3:-4}"
command -v iasl >/dev/null || { echo "iasl is missing (Debian package acpica-tools)" >&2; exit 1; }
rm -rf "$work" && mkdir -p "$work"
status=0
fail() {
    echo "FAIL: $*"
    status=1
}

# DSDT text with the disassembler's comments and all blanks removed, for matching.
compact_dsdt() {
    sed 's#//.*##' dsdt.dsl | tr -d ' \n'
}

check_variant() {
    local name="$1"
    shift
    echo "== $name"
    mkdir -p "$work/$name" && cd "$work/$name"
    "$inspect" acpi . --cpus "$cpus" "$@"
    for table in xsdt facp facs dsdt apic; do
        output="$(iasl -d "$table.dat" 2>&1)" || {
            echo "$output"
            fail "iasl -d $table.dat"
            continue
        }
        if grep -i -E "warning|error|incorrect|invalid" - "$table.dsl" <<<"$output"; then
            fail "ACPICA complains about $table"
        else
            echo "ok: iasl -d $table.dat"
        fi
    done

    # The MADT as ACPICA decodes it: one local APIC per vCPU, the IOAPIC, two overrides, LINT1 NMI.
    [[ "$(grep -c 'Subtable Type : 00 \[Processor Local APIC\]' apic.dsl)" == "$cpus" ]] ||
        fail "MADT does not list $cpus local APICs"
    grep -q "I/O Apic ID : $(printf '%02X' "$cpus")" apic.dsl || fail "IOAPIC id is not $cpus"
    [[ "$(grep -c 'Interrupt Source Override' apic.dsl)" == 2 ]] ||
        fail "MADT does not have two interrupt source overrides"

    compact_dsdt | grep -q 'Name(_S5,Package(0x04){0x05,0x05,Zero,Zero})' ||
        fail "the DSDT is not Name (_S5, Package () { 5, 5, 0, 0 })"

    iasl -vw 6033 -p recompiled dsdt.dsl >iasl-compile.log 2>&1 ||
        { cat iasl-compile.log; fail "iasl cannot compile the disassembled DSDT"; }
    if cmp -s <(tail -c +37 dsdt.dat) <(tail -c +37 recompiled.aml); then
        echo "ok: iasl compiles the disassembled DSDT to the same AML"
    else
        fail "iasl encodes the DSDT differently:"
        od -A x -t x1 dsdt.dat
        od -A x -t x1 recompiled.aml
    fi
    cd - >/dev/null
}

check_variant no-vmbus
if grep -q 'VMBS' "$work/no-vmbus/dsdt.dsl"; then
    fail "the DSDT of a VM without VMBus has a VMBus device"
else
    echo "ok: no VMBus device without VMBus"
fi

check_variant vmbus --vmbus
cd "$work/vmbus"
# What Linux 6.1's hv_vmbus relies on: an ACPI device whose _HID it matches ("VMBUS"/"VMBus"),
# present (_STA), and a _CRS that acpi_walk_resources can walk (here: just the end tag).
vmbus_device='Scope(_SB){Device(VMBS){Name(_HID,"VMBus")Name(_UID,Zero)Name(_DDN,"VMBUS")'
vmbus_device+='Method(_STA,0,NotSerialized){Return(0x0F)}Name(_CRS,Buffer(0x02){0x79,0x00})}}'
if compact_dsdt | grep -q -F "$vmbus_device"; then
    echo "ok: \\_SB.VMBS with _HID \"VMBus\", _UID, _DDN, _STA 0x0F and an empty _CRS"
else
    fail "the DSDT has no VMBus device as Linux needs it; the DSDT is:"
    cat dsdt.dsl
fi
exit $status
