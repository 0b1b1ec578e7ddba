#!/usr/bin/env bash
# Interop check of the Linux guest's ACPI tables against ACPICA, the reference implementation
# (Debian package acpica-tools):
#   1. `iasl -d` disassembles every table; ACPICA's table checks (checksums, FADT field
#      consistency, ...) report problems as warnings or errors, and any of them fails the test;
#   2. the disassembled DSDT must be `Name (_S5, Package (0x04) { 0x05, 0x05, Zero, Zero })`;
#   3. recompiling that DSDT with iasl must give exactly our AML bytes (the encoder agrees with
#      the ASL compiler, not just with our own parser).
#   check-acpi-iasl.sh LINUX_BOOT_INSPECT WORKDIR [CPUS]
set -euo pipefail
inspect="$1" work="$2" cpus="${3:-4}"
command -v iasl >/dev/null || { echo "iasl is missing (Debian package acpica-tools)" >&2; exit 1; }
rm -rf "$work" && mkdir -p "$work" && cd "$work"

"$inspect" acpi . --cpus "$cpus"
status=0
for table in xsdt facp facs dsdt apic; do
    output="$(iasl -d "$table.dat" 2>&1)" || { echo "$output"; echo "FAIL: iasl -d $table.dat"; exit 1; }
    if grep -i -E "warning|error|incorrect|invalid" <<<"$output" "$table.dsl"; then
        echo "FAIL: ACPICA complains about $table"
        status=1
    else
        echo "ok: iasl -d $table.dat"
    fi
done

# The MADT as ACPICA decodes it: one local APIC per vCPU, the IOAPIC, two overrides, LINT1 NMI.
[[ "$(grep -c 'Subtable Type : 00 \[Processor Local APIC\]' apic.dsl)" == "$cpus" ]] ||
    { echo "FAIL: MADT does not list $cpus local APICs"; status=1; }
grep -q "I/O Apic ID : $(printf '%02X' "$cpus")" apic.dsl ||
    { echo "FAIL: IOAPIC id is not $cpus"; status=1; }
[[ "$(grep -c 'Interrupt Source Override' apic.dsl)" == 2 ]] ||
    { echo "FAIL: MADT does not have two interrupt source overrides"; status=1; }

tr -d ' \n' <dsdt.dsl | grep -q 'Name(_S5,Package(0x04)//_S5_:S5SystemState{0x05,0x05,Zero,Zero})' ||
    { echo "FAIL: the DSDT is not Name (_S5, Package () { 5, 5, 0, 0 })"; status=1; }

iasl -p recompiled dsdt.dsl >/dev/null
if cmp -s <(tail -c +37 dsdt.dat) <(tail -c +37 recompiled.aml); then
    echo "ok: iasl compiles the disassembled DSDT to the same AML"
else
    echo "FAIL: iasl encodes the DSDT differently:"
    od -A x -t x1 dsdt.dat; od -A x -t x1 recompiled.aml
    status=1
fi
exit $status
