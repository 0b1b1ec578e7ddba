// Register numbers and bit layouts of the local APIC (Intel SDM vol. 3 ch. 11 "Advanced
// Programmable Interrupt Controller", x2APIC specification; AMD APM vol. 2 ch. 16). Internal to
// vmm/lapic: the partition only needs vlapic.hpp and ipi.hpp.
#pragma once

#include <stdint.h>

namespace halcyon::vmm::lapic {

// xAPIC MMIO offsets (each register is 32 bits at a 16-byte step). The x2APIC MSR of a register
// is 0x800 + offset / 16.
namespace offset {
inline constexpr uint32_t id = 0x020;
inline constexpr uint32_t version = 0x030;
inline constexpr uint32_t tpr = 0x080;
inline constexpr uint32_t apr = 0x090;
inline constexpr uint32_t ppr = 0x0A0;
inline constexpr uint32_t eoi = 0x0B0;
inline constexpr uint32_t rrd = 0x0C0;
inline constexpr uint32_t ldr = 0x0D0;
inline constexpr uint32_t dfr = 0x0E0;
inline constexpr uint32_t svr = 0x0F0;
inline constexpr uint32_t isr = 0x100; // 8 registers: 0x100..0x170
inline constexpr uint32_t tmr = 0x180; // 0x180..0x1F0
inline constexpr uint32_t irr = 0x200; // 0x200..0x270
inline constexpr uint32_t esr = 0x280;
inline constexpr uint32_t lvt_cmci = 0x2F0; // not modelled: reserved for us
inline constexpr uint32_t icr_low = 0x300;
inline constexpr uint32_t icr_high = 0x310;
inline constexpr uint32_t lvt_first = 0x320; // timer, thermal, perfmon, LINT0, LINT1, error
inline constexpr uint32_t lvt_last = 0x370;
inline constexpr uint32_t timer_initial = 0x380;
inline constexpr uint32_t timer_current = 0x390;
inline constexpr uint32_t timer_divide = 0x3E0;
inline constexpr uint32_t self_ipi = 0x3F0; // x2APIC only
} // namespace offset

namespace msr {
inline constexpr uint32_t apic_base = 0x1B;
inline constexpr uint32_t tsc_deadline = 0x6E0;
inline constexpr uint32_t x2apic_first = 0x800;
inline constexpr uint32_t x2apic_last = 0x8FF;
inline constexpr uint32_t x2apic_icr = 0x830;
} // namespace msr

// IA32_APIC_BASE.
namespace base {
inline constexpr uint64_t bsp = 1u << 8;
inline constexpr uint64_t x2apic_enable = 1u << 10; // EXTD
inline constexpr uint64_t global_enable = 1u << 11; // EN
inline constexpr uint64_t default_address = 0xFEE00000;
} // namespace base

// Index of a local vector table entry; the MMIO offset is lvt_first + index * 16.
enum class Lvt : uint8_t { timer = 0, thermal = 1, perfmon = 2, lint0 = 3, lint1 = 4, error = 5 };
inline constexpr unsigned kLvtCount = 6;
// Version register: version 0x14 (integrated APIC), max LVT entry = count - 1 in bits 16..23.
// Bit 24 (EOI-broadcast suppression) is clear: see vlapic.hpp.
inline constexpr uint32_t kVersion = 0x14 | ((kLvtCount - 1) << 16);

namespace lvt {
inline constexpr uint32_t vector = 0xFF;
inline constexpr uint32_t delivery_mode = 7u << 8;
inline constexpr uint32_t delivery_status = 1u << 12; // read-only, always idle here
inline constexpr uint32_t polarity = 1u << 13;
inline constexpr uint32_t remote_irr = 1u << 14; // read-only, never set here
inline constexpr uint32_t trigger_mode = 1u << 15;
inline constexpr uint32_t mask = 1u << 16;
inline constexpr uint32_t timer_mode_shift = 17;
inline constexpr uint32_t timer_mode = 3u << timer_mode_shift;
inline constexpr uint32_t reset_value = mask;
} // namespace lvt

// Bits software can write in each LVT entry (indexed by Lvt), and the read-only bits a WRMSR may
// carry without #GP (they are defined, not reserved).
inline constexpr uint32_t kLvtWritable[kLvtCount] = {
    lvt::vector | lvt::mask | lvt::timer_mode,                                        // timer
    lvt::vector | lvt::delivery_mode | lvt::mask,                                     // thermal
    lvt::vector | lvt::delivery_mode | lvt::mask,                                     // perfmon
    lvt::vector | lvt::delivery_mode | lvt::polarity | lvt::trigger_mode | lvt::mask, // LINT0
    lvt::vector | lvt::delivery_mode | lvt::polarity | lvt::trigger_mode | lvt::mask, // LINT1
    lvt::vector | lvt::mask,                                                          // error
};
inline constexpr uint32_t kLvtReadOnly[kLvtCount] = {
    lvt::delivery_status,
    lvt::delivery_status,
    lvt::delivery_status,
    lvt::delivery_status | lvt::remote_irr,
    lvt::delivery_status | lvt::remote_irr,
    lvt::delivery_status,
};

namespace svr {
inline constexpr uint32_t vector = 0xFF;
inline constexpr uint32_t software_enable = 1u << 8;
inline constexpr uint32_t focus_checking = 1u << 9; // stored, no effect (no focus processor)
inline constexpr uint32_t suppress_eoi_broadcast = 1u << 12; // not offered: reserved here
inline constexpr uint32_t writable = vector | software_enable | focus_checking;
inline constexpr uint32_t reset_value = 0xFF;
} // namespace svr

namespace esr {
inline constexpr uint32_t redirectable_ipi = 1u << 4;
inline constexpr uint32_t send_illegal_vector = 1u << 5;
inline constexpr uint32_t receive_illegal_vector = 1u << 6;
inline constexpr uint32_t illegal_register = 1u << 7;
} // namespace esr

namespace dfr {
inline constexpr uint32_t model_flat = 0xFu << 28;
inline constexpr uint32_t model_cluster = 0;
inline constexpr uint32_t reserved_ones = 0x0FFFFFFF; // bits 27:0 read as 1
inline constexpr uint32_t reset_value = 0xFFFFFFFF;
} // namespace dfr

// Interrupt command register, as one 64-bit value (xAPIC: high dword << 32).
namespace icr {
inline constexpr uint64_t vector = 0xFF;
inline constexpr unsigned delivery_mode_shift = 8;
inline constexpr uint64_t delivery_mode = 7u << delivery_mode_shift;
inline constexpr uint64_t logical = 1u << 11;
inline constexpr uint64_t delivery_status = 1u << 12; // xAPIC only, read-only, always idle
inline constexpr uint64_t level_assert = 1u << 14;
inline constexpr uint64_t level_triggered = 1u << 15;
inline constexpr unsigned shorthand_shift = 18;
inline constexpr uint64_t shorthand = 3u << shorthand_shift;
inline constexpr uint64_t low_writable =
    vector | delivery_mode | logical | level_assert | level_triggered | shorthand;
inline constexpr uint32_t xapic_destination_shift = 56; // bits 63:56 (ICR high 31:24)
inline constexpr uint32_t high_writable = 0xFF000000;
inline constexpr uint64_t x2apic_writable = low_writable | 0xFFFFFFFF00000000ull;
} // namespace icr

// Timer divide configuration: bits 0, 1 and 3.
inline constexpr uint32_t kDivideWritable = 0xB;

} // namespace halcyon::vmm::lapic
