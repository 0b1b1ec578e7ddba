// The core's segment tables. Long mode ignores most of segmentation, but a CPU still needs a GDT
// with a 64-bit code segment, a data segment for SS, and a TSS: the TSS is where the CPU finds
// the interrupt stacks (IST) that let #DF, NMI and #MC run on a known-good stack even when the
// kernel stack is what broke. Every CPU has its own GDT and TSS (they live in PerCpu) because the
// TSS descriptor's busy bit and the IST stacks are per CPU.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace halcyon::x86 {

// Selectors (index * 8, RPL 0). Fixed so assembly (entry, AP trampoline, interrupt stubs) can
// use them as constants.
inline constexpr uint16_t kKernelCodeSelector = 0x08;
inline constexpr uint16_t kKernelDataSelector = 0x10;
inline constexpr uint16_t kTssSelector = 0x18;

// Interrupt stack table slots (1-based, as the IDT gate's IST field counts them).
enum class IstSlot : uint8_t { double_fault = 1, nmi = 2, machine_check = 3 };
inline constexpr size_t kIstStackCount = 3;

// The 64-bit Task State Segment (Intel SDM vol. 3, 8.7). Only rsp0 and the IST pointers matter
// to us; the I/O bitmap is disabled by pointing iomap_base past the segment limit.
struct [[gnu::packed]] Tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};
static_assert(sizeof(Tss) == 104);

// null, code64, data, and the 16-byte TSS descriptor (two slots).
struct alignas(16) Gdt {
    uint64_t entries[5];
};

struct [[gnu::packed]] DescriptorTablePointer {
    uint16_t limit;
    uint64_t base;
};

// Fills `gdt` with the flat kernel segments and a TSS descriptor pointing at `tss`.
void build_gdt(Gdt& gdt, const Tss& tss);

// Loads `gdt`, reloads CS/DS/ES/SS (FS and GS to the null selector, keeping their bases usable
// through the MSRs) and loads the task register with kTssSelector.
void load_gdt_and_tss(const Gdt& gdt);

} // namespace halcyon::x86
