#include "vmm/partition/fpu_state.hpp"

#include "vmm/arch/x86_64/percpu.hpp"

#include <string.h>

namespace halcyon::vmm {
namespace {

// Which vCPU's state each physical CPU's FPU registers hold right now.
FpuState* g_owner[x86::kMaxCpus];

} // namespace

void init_fpu_state(FpuState& state) {
    memset(state.fxsave, 0, sizeof(state.fxsave));
    const uint16_t control_word = 0x037F; // all exceptions masked, 64-bit precision
    const uint32_t mxcsr = 0x1F80;        // all SSE exceptions masked, round to nearest
    memcpy(state.fxsave + 0, &control_word, sizeof(control_word));
    memcpy(state.fxsave + 24, &mxcsr, sizeof(mxcsr));
}

void activate_fpu_state(FpuState& state) {
    FpuState*& owner = g_owner[x86::this_cpu().index];
    if (owner == &state)
        return;
    if (owner != nullptr)
        asm volatile("fxsave64 %0" : "=m"(owner->fxsave));
    asm volatile("fxrstor64 %0" : : "m"(state.fxsave));
    owner = &state;
}

void release_fpu_state(FpuState& state) {
    for (FpuState*& owner : g_owner) {
        if (owner == &state)
            owner = nullptr;
    }
}

} // namespace halcyon::vmm
