// The legacy PC devices the Multiboot2 boot stage programs itself, because on a BIOS machine no
// firmware service does it: the two 8259 interrupt controllers and a delay from the 8254 timer.
#pragma once

#include <stdint.h>

namespace halcyon::multiboot2 {

// The BIOS leaves the 8259s delivering the timer and other ISA interrupts on vectors 0x08-0x0F,
// which in protected mode are CPU exception vectors (0x08 is #DF). The core never uses the
// 8259s (it runs on the local APIC and I/O APIC), so they are moved to vectors 0x20-0x2F -
// harmless even for a spurious IRQ7 - and every line is masked, leaving the CPU as UEFI firmware
// leaves it after ExitBootServices: no legacy interrupts.
void quiet_legacy_interrupt_controllers();

// Waits about `milliseconds` by counting down the PIT's channel 2 (which drives nothing but the
// speaker gate, here kept silent): the stage has no calibrated clock, and the TSC's rate is
// unknown (and in an emulator unrelated to wall time).
void delay_milliseconds(uint32_t milliseconds);

} // namespace halcyon::multiboot2
