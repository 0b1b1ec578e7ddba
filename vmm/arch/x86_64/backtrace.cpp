#include "vmm/arch/x86_64/backtrace.hpp"

#include "vmm/arch/x86_64/percpu.hpp"

namespace halcyon::x86 {
namespace {

StackBounds g_boot_stack = {0, 0};

bool is_canonical(uint64_t address) {
    // 48-bit virtual addresses: bits 63..47 all equal.
    const uint64_t top = address >> 47;
    return top == 0 || top == 0x1'FFFF;
}

} // namespace

void set_boot_stack(StackBounds bounds) {
    g_boot_stack = bounds;
}

StackBounds stack_containing(uint64_t address) {
    if (PerCpu* cpu = this_cpu_if_ready()) {
        const StackBounds kernel{cpu->kernel_stack_base, cpu->kernel_stack_top};
        if (kernel.low != 0 && kernel.contains(address, 1))
            return kernel;
        for (size_t slot = 0; slot < kIstStackCount; ++slot) {
            const auto low = reinterpret_cast<uint64_t>(&cpu->ist_stacks[slot][0]);
            const StackBounds ist{low, low + kIstStackSize};
            if (ist.contains(address, 1))
                return ist;
        }
    }
    if (g_boot_stack.contains(address, 1))
        return g_boot_stack;
    return {0, 0};
}

size_t walk_frame_pointers(uint64_t rbp, uint64_t* return_addresses, size_t capacity) {
    const StackBounds bounds = stack_containing(rbp);
    size_t count = 0;
    while (count < capacity) {
        if (rbp == 0 || !is_canonical(rbp) || (rbp & 7) != 0 || !bounds.contains(rbp, 16))
            break;
        const auto* frame = reinterpret_cast<const uint64_t*>(rbp);
        const uint64_t next = frame[0];
        const uint64_t return_address = frame[1];
        if (return_address == 0 || !is_canonical(return_address))
            break;
        return_addresses[count++] = return_address;
        // Frames live at increasing addresses as we unwind; anything else is a loop or garbage.
        if (next != 0 && next <= rbp)
            break;
        rbp = next;
    }
    return count;
}

} // namespace halcyon::x86
