// Per-CPU state. Each CPU's PerCpu is reachable through its GS base, so `this_cpu()` is one
// instruction (mov %gs:0) and needs no CPU-number lookup; `cpu_by_index()` finds another CPU's
// block (for IPIs, statistics and crash reports).
//
// Lifecycle: allocate_percpu() creates the block (the BSP's is static, because it is needed before
// the heap exists; the APs' come from the heap), then the CPU itself calls load_cpu_tables() as its
// first C++ step, which loads the GDT, TSS, IDT and GS base.
#pragma once

#include "lib/base/error_or.hpp"
#include "vmm/arch/x86_64/gdt.hpp"

#include <stddef.h>
#include <stdint.h>

namespace halcyon::x86 {

inline constexpr uint32_t kMaxCpus = 256;
inline constexpr size_t kIstStackSize = 16 * 1024;
// Stack an AP runs its C++ code on (the BSP keeps the loader's 64 KiB boot stack).
inline constexpr size_t kApKernelStackSize = 64 * 1024;

struct PerCpu {
    PerCpu* self;     // must stay first: this_cpu() reads it from gs:[0]
    uint32_t index;   // dense: 0 = BSP, then APs in start order
    uint32_t apic_id; // local APIC (or x2APIC) ID
    // The stack this CPU's ordinary code runs on. The AP trampoline switches to
    // kernel_stack_top; backtraces refuse frames outside [kernel_stack_base, kernel_stack_top).
    uint64_t kernel_stack_base;
    uint64_t kernel_stack_top;
    volatile bool online; // set by the CPU itself once it runs core code with its own tables
    // Opaque slot for the virtualization layer (VMCB/VMCS bookkeeping); null until it claims it.
    void* virtualization;

    Gdt gdt;
    Tss tss;
    // #DF, NMI and #MC stacks (IstSlot order). Inline so a CPU's block is one allocation.
    alignas(16) uint8_t ist_stacks[kIstStackCount][kIstStackSize];
};

// This CPU's block. Only valid after load_cpu_tables() ran on this CPU.
[[nodiscard]] inline PerCpu& this_cpu() {
    PerCpu* self;
    asm volatile("mov %%gs:0, %0" : "=r"(self));
    return *self;
}

// This CPU's block, or nullptr if this CPU has not loaded its tables yet (reads the GS base MSR
// and checks it against the registered blocks, so it is safe at any time: used by logging and
// crash reports, which may run before load_cpu_tables()).
[[nodiscard]] PerCpu* this_cpu_if_ready();

// The block with this index, or nullptr when no such CPU was allocated.
[[nodiscard]] PerCpu* cpu_by_index(uint32_t index);

// How many blocks have been allocated (indices 0 .. count-1).
[[nodiscard]] uint32_t allocated_cpu_count();

// Creates the block for CPU `index` (indices must be allocated densely, in order, starting at 0).
// Index 0 is the BSP: its block is static and its stack is the boot stack (set by the caller with
// kernel_stack_base/top). Other indices get a heap-allocated block and kernel stack.
[[nodiscard]] ErrorOr<PerCpu*> allocate_percpu(uint32_t index, uint32_t apic_id);

// Loads GDT, TSS, IDT and GS base for `cpu` on the calling CPU. Called by the BSP and by every AP
// as its first C++ step. Interrupts must be disabled.
void load_cpu_tables(PerCpu& cpu);

} // namespace halcyon::x86
