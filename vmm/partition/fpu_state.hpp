// The x87/SSE state of vCPUs. SVM switches none of it and the core never uses it (it is built
// without SSE), so a guest's FPU registers stay live in the CPU after an exit; they only need
// saving when a different vCPU is about to run on the same physical CPU. FXSAVE covers x87 and
// SSE; XSAVE state is not offered to guests yet (the CPUID policy hides XSAVE/AVX).
#pragma once

#include <stdint.h>

namespace halcyon::vmm {

struct alignas(64) FpuState {
    uint8_t fxsave[512];
};

// The state of a CPU after reset (FNINIT + default MXCSR).
void init_fpu_state(FpuState& state);

// Makes `state` the live FPU state of this physical CPU, saving the previous owner's first.
void activate_fpu_state(FpuState& state);

// Forgets `state` as a live owner (its vCPU is going away).
void release_fpu_state(FpuState& state);

} // namespace halcyon::vmm
