#include "vmm/arch/x86_64/gdt.hpp"

namespace halcyon::x86 {
namespace {

// Long-mode code segment: present, DPL 0, execute/read, L=1 (64-bit), G=1. Base and limit are
// ignored in long mode but kept flat for tools that decode the GDT.
constexpr uint64_t kCode64Descriptor = 0x00AF'9A00'0000'FFFFULL;
// Data segment: present, DPL 0, read/write, G=1, D/B=1.
constexpr uint64_t kDataDescriptor = 0x00CF'9200'0000'FFFFULL;
// System descriptor type 0x9: available 64-bit TSS.
constexpr uint64_t kTssAvailable = 0x9;
constexpr uint64_t kPresent = 1ULL << 47;

} // namespace

void build_gdt(Gdt& gdt, const Tss& tss) {
    const auto base = reinterpret_cast<uint64_t>(&tss);
    const uint64_t limit = sizeof(Tss) - 1;

    gdt.entries[0] = 0;
    gdt.entries[kKernelCodeSelector / 8] = kCode64Descriptor;
    gdt.entries[kKernelDataSelector / 8] = kDataDescriptor;
    // A 16-byte system descriptor (Intel SDM vol. 3, 8.2.3): limit 15:0, base 23:0, type, P,
    // limit 19:16, base 31:24 in the first quadword; base 63:32 in the second.
    gdt.entries[kTssSelector / 8] = (limit & 0xFFFF) | ((base & 0xFF'FFFF) << 16) |
                                    (kTssAvailable << 40) | kPresent |
                                    (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    gdt.entries[kTssSelector / 8 + 1] = base >> 32;
}

void load_gdt_and_tss(const Gdt& gdt) {
    const DescriptorTablePointer pointer{sizeof(Gdt) - 1, reinterpret_cast<uint64_t>(&gdt)};
    asm volatile("lgdt %0" : : "m"(pointer) : "memory");
    // CS can only be reloaded by a far transfer: push the new CS and the return address, lretq.
    asm volatile(
        "pushq %[code]\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "1:\n\t"
        "movw %[data], %%ax\n\t"
        "movw %%ax, %%ds\n\t"
        "movw %%ax, %%es\n\t"
        "movw %%ax, %%ss\n\t"
        "xorl %%eax, %%eax\n\t"
        "movw %%ax, %%fs\n\t"
        "movw %%ax, %%gs\n\t"
        :
        : [code] "i"(static_cast<uint64_t>(kKernelCodeSelector)), [data] "i"(kKernelDataSelector)
        : "rax", "memory");
    asm volatile("ltr %w0" : : "r"(kTssSelector) : "memory");
}

} // namespace halcyon::x86
