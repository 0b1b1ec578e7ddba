#!/bin/bash
# Runs a flat test guest on bare QEMU - KVM when /dev/kvm is usable, else TCG - instead of
# Halcyon, to check the guest itself against real hardware: its checks must pass there too,
# except where the machine differs from Halcyon's platform, which the build adjusts for:
#   - the local APIC timer runs at 1 GHz under QEMU/KVM (APIC_TIMER_HZ), not 100 MHz;
#   - there is no MMIO scratch page: mmio_forms and exceptions use a RAM page at 9 MiB instead
#     (so mmio_forms' "#UD on MMIO" checks fail there by design);
#   - QEMU 7's TCG has no x2APIC or TSC-deadline timer, and wakes HLT with IF=0 (use KVM);
#   - the final "HLT with IF=0" of hlt_wakeup simply halts until the timeout.
# usage: run-reference.sh GUEST [VCPUS [SECONDS]]      e.g. run-reference.sh ipi 2
set -euo pipefail
guest=$1 vcpus=${2:-1} seconds=${3:-60}
here=$(cd "$(dirname "$0")" && pwd)
guests=$(dirname "$here")
work=$(mktemp -d /tmp/halcyon-reference.XXXXXX)
trap 'rm -rf "$work"' EXIT

clang --target=i386-unknown-none-elf -c "$here/shim.S" -o "$work/shim.o"
printf 'ENTRY(entry)\nSECTIONS { . = 0x800000; .text : { *(.multiboot) *(.text) } .data : { *(.data) } }\n' \
    >"$work/shim.ld"
ld.lld -m elf_i386 -T "$work/shim.ld" -o "$work/shim.elf" "$work/shim.o"
llvm-objcopy -O binary "$work/shim.elf" "$work/shim.bin"

# The flags of tests/guests/CMakeLists.txt, plus the adjustments above.
flags=(--target=x86_64-unknown-none-elf -std=c17 -O2 -g0 -ffreestanding -fno-pic -fno-pie
       -mno-red-zone -mgeneral-regs-only -fno-stack-protector -fno-asynchronous-unwind-tables
       -Wall -Wextra -Werror -Wno-unused-parameter "-I$guests"
       -DAPIC_TIMER_HZ=1000000000ull -DMMIO_BASE=0x900000ull '-DMMIO_OPERAND_TEXT="0x900800"')
objects=()
for source in "$guests/$guest.c" "$guests"/lib/*.S "$guests"/lib/*.c; do
    object="$work/$(basename "$source").o"
    clang "${flags[@]}" -c "$source" -o "$object"
    objects+=("$object")
done
ld.lld -nostdlib -static -T "$guests/lib/link.ld" -o "$work/guest.elf" "${objects[@]}"
llvm-objcopy -O binary "$work/guest.elf" "$work/guest.bin"

accel=(-accel tcg -cpu EPYC)
if [ -w /dev/kvm ]; then accel=(-accel kvm -cpu host); fi
timeout "$seconds" qemu-system-x86_64 -machine q35 "${accel[@]}" -smp "$vcpus" -m 64 \
    -display none -serial stdio -no-reboot -kernel "$work/shim.bin" \
    -device "loader,file=$work/guest.bin,addr=0x100000,force-raw=on" 2>/dev/null || true
