#include "mgmt/partition/runtime/cpu_tables.hpp"

#include <stddef.h>

extern "C" const uint64_t mgmt_exception_stubs[32];
extern "C" void mgmt_timer_stub();
extern "C" void mgmt_spurious_stub();
extern "C" uint8_t mgmt_crash_stack_top[];

namespace halcyon::mgmt::partition {
namespace {

constexpr uint16_t kCodeSelector = 0x08;
constexpr uint16_t kDataSelector = 0x10;
constexpr uint16_t kTssSelector = 0x18;

// 64-bit TSS (Intel SDM Vol. 3, 8.7): only IST1 is used.
struct [[gnu::packed]] Tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t io_map_base;
};
static_assert(sizeof(Tss) == 104);

struct [[gnu::packed]] TablePointer {
    uint16_t limit;
    uint64_t base;
};

struct IdtGate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attributes;
    uint16_t offset_middle;
    uint32_t offset_high;
    uint32_t reserved;
};
static_assert(sizeof(IdtGate) == 16);

// null, code (L, P, DPL0, execute/read), data (P, DPL0, read/write), TSS (two slots).
alignas(16) uint64_t g_gdt[5] = {0, 0x00AF'9A00'0000'FFFFull, 0x00CF'9200'0000'FFFFull, 0, 0};
alignas(16) Tss g_tss;
alignas(16) IdtGate g_idt[256];

IdtGate gate(uint64_t handler, uint8_t ist) {
    // Present, DPL 0, 64-bit interrupt gate (type 0xE): IF is cleared on entry.
    return IdtGate{static_cast<uint16_t>(handler),
                   kCodeSelector,
                   ist,
                   0x8E,
                   static_cast<uint16_t>(handler >> 16),
                   static_cast<uint32_t>(handler >> 32),
                   0};
}

void load_gdt() {
    const uint64_t tss = reinterpret_cast<uint64_t>(&g_tss);
    g_tss.io_map_base = sizeof(Tss); // no I/O permission bitmap
    g_tss.ist[0] = reinterpret_cast<uint64_t>(mgmt_crash_stack_top);
    const uint64_t limit = sizeof(Tss) - 1;
    // Available 64-bit TSS (type 9), present.
    g_gdt[3] = (limit & 0xFFFF) | ((tss & 0xFF'FFFF) << 16) | (0x89ull << 40) |
               (((limit >> 16) & 0xF) << 48) | (((tss >> 24) & 0xFF) << 56);
    g_gdt[4] = tss >> 32;
    const TablePointer pointer{sizeof(g_gdt) - 1, reinterpret_cast<uint64_t>(g_gdt)};
    asm volatile("lgdt %0" : : "m"(pointer));
    // Reload CS with a far return, then the data segments and the task register.
    asm volatile("pushq %[code]\n\t"
                 "leaq 1f(%%rip), %%rax\n\t"
                 "pushq %%rax\n\t"
                 "lretq\n"
                 "1:\n\t"
                 "movw %[data], %%ax\n\t"
                 "movw %%ax, %%ds\n\t"
                 "movw %%ax, %%es\n\t"
                 "movw %%ax, %%ss\n\t"
                 "movw %%ax, %%fs\n\t"
                 "movw %%ax, %%gs\n\t"
                 "ltr %w[tss]"
                 :
                 : [code] "i"(kCodeSelector), [data] "i"(kDataSelector), [tss] "r"(kTssSelector)
                 : "rax", "memory");
}

void load_idt() {
    for (size_t vector = 0; vector < 32; ++vector)
        g_idt[vector] = gate(mgmt_exception_stubs[vector], 1);
    g_idt[kTimerVector] = gate(reinterpret_cast<uint64_t>(mgmt_timer_stub), 0);
    g_idt[kSpuriousVector] = gate(reinterpret_cast<uint64_t>(mgmt_spurious_stub), 0);
    const TablePointer pointer{sizeof(g_idt) - 1, reinterpret_cast<uint64_t>(g_idt)};
    asm volatile("lidt %0" : : "m"(pointer));
}

} // namespace

void load_cpu_tables() {
    load_gdt();
    load_idt();
}

void triple_fault() {
    const TablePointer empty{0, 0};
    asm volatile("cli\n\t"
                 "lidt %0\n\t"
                 "ud2"
                 :
                 : "m"(empty));
    __builtin_unreachable();
}

} // namespace halcyon::mgmt::partition
