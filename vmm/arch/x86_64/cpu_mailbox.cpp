#include "vmm/arch/x86_64/cpu_mailbox.hpp"

#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/interrupts.hpp"
#include "vmm/arch/x86_64/lapic.hpp"

namespace halcyon::x86::mailbox {
namespace {

struct alignas(64) Slot { // own cache line: the BSP and the AP both write it
    Work work = nullptr;
    void* argument = nullptr;
    bool serving = false;
};
Slot g_slots[kMaxCpus];

void wake_handler(InterruptFrame&) {
    // The wake-up itself is the message: the loop in serve_forever looks at the slot.
    lapic::end_of_interrupt();
}

} // namespace

void serve_forever(PerCpu& cpu) {
    register_interrupt_handler(kWakeVector, wake_handler);
    Slot& slot = g_slots[cpu.index];
    __atomic_store_n(&slot.serving, true, __ATOMIC_RELEASE);
    for (;;) {
        cli();
        Work work = __atomic_load_n(&slot.work, __ATOMIC_ACQUIRE);
        if (work != nullptr) {
            work(slot.argument);
            __atomic_store_n(&slot.work, nullptr, __ATOMIC_RELEASE);
            continue;
        }
        // STI takes effect after the next instruction, so an IPI that arrived since the check
        // above is taken by this HLT rather than lost before it.
        asm volatile("sti; hlt" ::: "memory");
    }
}

bool serving(uint32_t index) {
    return index < kMaxCpus && __atomic_load_n(&g_slots[index].serving, __ATOMIC_ACQUIRE);
}

ErrorOr<void> post(uint32_t index, Work work, void* argument) {
    if (!serving(index) || index == this_cpu().index)
        return Error(ErrorCode::not_supported, "that CPU does not serve a mailbox");
    Slot& slot = g_slots[index];
    if (__atomic_load_n(&slot.work, __ATOMIC_ACQUIRE) != nullptr)
        return Error(ErrorCode::busy, "that CPU is still running its previous job");
    slot.argument = argument;
    __atomic_store_n(&slot.work, work, __ATOMIC_RELEASE);
    PerCpu* target = cpu_by_index(index);
    return lapic::send_fixed(target->apic_id, kWakeVector);
}

void wait_idle(uint32_t index) {
    while (__atomic_load_n(&g_slots[index].work, __ATOMIC_ACQUIRE) != nullptr)
        pause();
}

} // namespace halcyon::x86::mailbox
