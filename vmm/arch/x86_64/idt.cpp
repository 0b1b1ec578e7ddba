#include "vmm/arch/x86_64/gdt.hpp"
#include "vmm/arch/x86_64/interrupts.hpp"
#include "vmm/arch/x86_64/lapic.hpp"

extern "C" const uint64_t interrupt_stub_table[256];

namespace halcyon::x86 {
namespace {

// A 64-bit interrupt gate (Intel SDM vol. 3, 6.14.1).
struct [[gnu::packed]] IdtGate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attributes;
    uint16_t offset_middle;
    uint32_t offset_high;
    uint32_t reserved;
};
static_assert(sizeof(IdtGate) == 16);

// Present, DPL 0, type 0xE (64-bit interrupt gate: clears IF on entry, so handlers never nest
// through maskable interrupts).
constexpr uint8_t kInterruptGate = 0x8E;

alignas(16) IdtGate g_idt[256];
bool g_idt_built = false;
InterruptHandler g_handlers[256] = {};
uint64_t g_spurious_count = 0;

uint8_t ist_for(unsigned vector) {
    switch (vector) {
    case 2:
        return static_cast<uint8_t>(IstSlot::nmi);
    case 8:
        return static_cast<uint8_t>(IstSlot::double_fault);
    case 18:
        return static_cast<uint8_t>(IstSlot::machine_check);
    default:
        return 0;
    }
}

} // namespace

void build_idt() {
    // The BSP builds the table before any AP exists; APs then find it built.
    if (g_idt_built)
        return;
    for (unsigned vector = 0; vector < 256; ++vector) {
        const uint64_t handler = interrupt_stub_table[vector];
        g_idt[vector] = IdtGate{
            .offset_low = static_cast<uint16_t>(handler),
            .selector = kKernelCodeSelector,
            .ist = ist_for(vector),
            .type_attributes = kInterruptGate,
            .offset_middle = static_cast<uint16_t>(handler >> 16),
            .offset_high = static_cast<uint32_t>(handler >> 32),
            .reserved = 0,
        };
    }
    g_idt_built = true;
}

void load_idt() {
    const DescriptorTablePointer pointer{sizeof(g_idt) - 1, reinterpret_cast<uint64_t>(&g_idt)};
    asm volatile("lidt %0" : : "m"(pointer) : "memory");
}

void register_interrupt_handler(uint8_t vector, InterruptHandler handler) {
    if (vector < kFirstExternalVector)
        return; // exceptions always go to the crash path
    __atomic_store_n(&g_handlers[vector], handler, __ATOMIC_RELEASE);
}

uint64_t spurious_interrupt_count() {
    return __atomic_load_n(&g_spurious_count, __ATOMIC_RELAXED);
}

// Defined in exceptions.cpp: the CPU-exception path (crash report, or halt for a stop NMI).
void handle_exception(InterruptFrame& frame);

} // namespace halcyon::x86

// Called by interrupt_common (interrupt_stubs.S) with the saved frame.
extern "C" void interrupt_dispatch(halcyon::x86::InterruptFrame* frame) {
    using namespace halcyon::x86;
    if (frame->vector < kFirstExternalVector) {
        handle_exception(*frame);
        return;
    }
    InterruptHandler handler = __atomic_load_n(&g_handlers[frame->vector], __ATOMIC_ACQUIRE);
    if (handler != nullptr) {
        handler(*frame);
        return;
    }
    __atomic_fetch_add(&g_spurious_count, 1, __ATOMIC_RELAXED);
    // An interrupt nobody claimed is still in service in the local APIC: without an EOI it
    // would block every interrupt of its priority class and below on this CPU for good (kicks
    // and timer ticks included). The APIC's own spurious vector is never in service. Handlers
    // do not nest (interrupt gates), so the EOI retires exactly this vector.
    if (frame->vector != lapic::kSpuriousVector && lapic::mode() != lapic::Mode::uninitialized)
        lapic::end_of_interrupt();
}
