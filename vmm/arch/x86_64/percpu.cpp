#include "vmm/arch/x86_64/percpu.hpp"

#include "mm/heap_core.hpp"
#include "mm/x86_page_format.hpp"
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/extended_state.hpp"
#include "vmm/arch/x86_64/interrupts.hpp"

#include <string.h>

namespace halcyon::x86 {
namespace {

constexpr uint32_t kIa32Pat = 0x277;

// The BSP's block is static: the BSP needs its tables (and a crash-report path) long before the
// heap exists.
alignas(4096) PerCpu g_bsp;
PerCpu* g_cpus[kMaxCpus] = {};
uint32_t g_cpu_count = 0;

void initialize(PerCpu& cpu, uint32_t index, uint32_t apic_id) {
    memset(&cpu, 0, sizeof(cpu));
    cpu.self = &cpu;
    cpu.index = index;
    cpu.apic_id = apic_id;
    for (size_t slot = 0; slot < kIstStackCount; ++slot) {
        // tss.ist[0] is IST1: the stack tops, 16-byte aligned as the CPU expects.
        cpu.tss.ist[slot] = reinterpret_cast<uint64_t>(&cpu.ist_stacks[slot][kIstStackSize]);
    }
    // An I/O bitmap offset at or past the limit means "no bitmap": ring 0 ignores it anyway,
    // and nothing ever runs in ring 3 on the core's TSS.
    cpu.tss.iomap_base = sizeof(Tss);
    build_gdt(cpu.gdt, cpu.tss);
}

} // namespace

ErrorOr<PerCpu*> allocate_percpu(uint32_t index, uint32_t apic_id) {
    if (index >= kMaxCpus)
        return Error(ErrorCode::out_of_range, "CPU index beyond kMaxCpus");
    if (index != g_cpu_count)
        return Error(ErrorCode::invalid_argument,
                     "per-CPU blocks must be allocated in index order");

    PerCpu* cpu = &g_bsp;
    if (index != 0) {
        mm::Heap* heap = mm::core_heap();
        if (heap == nullptr)
            return Error(ErrorCode::not_supported, "heap not initialized before AP per-CPU data");
        cpu = static_cast<PerCpu*>(heap->allocate(sizeof(PerCpu), 4096));
        if (cpu == nullptr)
            return Error(ErrorCode::out_of_memory, "no memory for a per-CPU block");
        void* stack = heap->allocate(kApKernelStackSize, 4096);
        if (stack == nullptr) {
            (void)heap->deallocate(cpu);
            return Error(ErrorCode::out_of_memory, "no memory for an AP kernel stack");
        }
        initialize(*cpu, index, apic_id);
        cpu->kernel_stack_base = reinterpret_cast<uint64_t>(stack);
        cpu->kernel_stack_top = cpu->kernel_stack_base + kApKernelStackSize;
    } else {
        initialize(*cpu, index, apic_id);
    }
    // Publish the block before the count, so readers that see the count see the pointer.
    __atomic_store_n(&g_cpus[index], cpu, __ATOMIC_RELEASE);
    __atomic_store_n(&g_cpu_count, index + 1, __ATOMIC_RELEASE);
    return cpu;
}

PerCpu* cpu_by_index(uint32_t index) {
    if (index >= __atomic_load_n(&g_cpu_count, __ATOMIC_ACQUIRE))
        return nullptr;
    return __atomic_load_n(&g_cpus[index], __ATOMIC_ACQUIRE);
}

uint32_t allocated_cpu_count() {
    return __atomic_load_n(&g_cpu_count, __ATOMIC_ACQUIRE);
}

PerCpu* this_cpu_if_ready() {
    const uint64_t gs_base = rdmsr(msr::kGsBase);
    if (gs_base == 0)
        return nullptr;
    const uint32_t count = allocated_cpu_count();
    for (uint32_t i = 0; i < count; ++i) {
        PerCpu* cpu = __atomic_load_n(&g_cpus[i], __ATOMIC_ACQUIRE);
        if (reinterpret_cast<uint64_t>(cpu) == gs_base)
            return cpu;
    }
    return nullptr;
}

void load_cpu_tables(PerCpu& cpu) {
    // Every CPU must agree on the PAT before it uses the core's page tables, whose cache-mode
    // bits index it; index 0 stays write-back, so this is safe under the loader's tables too.
    wrmsr(kIa32Pat, mm::kX86PatMsrValue);
    load_gdt_and_tss(cpu.gdt);
    build_idt();
    load_idt();
    // After the segment reloads: loading a null selector into GS may clear its base.
    wrmsr(msr::kGsBase, reinterpret_cast<uint64_t>(&cpu));
    wrmsr(msr::kKernelGsBase, 0);
    // CR4.OSXSAVE and the host's XCR0: XCR0 is per CPU, so every CPU sets its own.
    enable_extended_state();
}

} // namespace halcyon::x86
