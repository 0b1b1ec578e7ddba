// The x87/SSE/AVX state of vCPUs. SVM switches none of it and the core never uses it (it is
// built without SSE), so a guest's registers stay live in the CPU after an exit; they only need
// saving when a different vCPU is about to run on the same physical CPU (lazy switching).
//
// With XSAVE the switch is XSAVE + XRSTOR of every component guests may enable
// (guest_xcr0_components(): x87, SSE and, where the host has it, AVX), whatever the outgoing or
// incoming vCPU's XCR0 holds at the moment: a component a guest disabled keeps its values when
// re-enabled (as on hardware), and the next vCPU never sees the previous one's. Plain XSAVE, not
// XSAVEOPT: the latter's modified optimization tracks the last XRSTOR's address, which guests
// execute too. Without XSAVE, FXSAVE/FXRSTOR of the legacy region.
//
// The guest's XCR0 itself is part of the CPU backend's state (CpuBackend::guest_xcr0()); the
// backend loads it around VMRUN.
//
// vCPUs stay on the physical CPU they were placed on (vmm/worker/cpu_runner): a vCPU whose
// state is live on one CPU must not be activated on another before that CPU saved it.
#pragma once

#include "vmm/partition/cpuid_policy.hpp"

#include <stddef.h>
#include <stdint.h>

namespace halcyon::vmm {

// One vCPU's save area: an XSAVE area in the standard format (its first 512 bytes are the
// FXSAVE layout), 64-byte aligned as XSAVE requires. Fixed capacity because it lives inside the
// partition; the size actually used comes from CPUID 0xD (xsave_standard_size), and
// guest_supported_xcr0() offers no component that would not fit.
struct alignas(64) FpuState {
    uint8_t area[kGuestXsaveAreaCapacity];
};

// The XSAVE components switched between vCPUs on this host, which are exactly those a guest may
// enable with XSETBV (guest_supported_xcr0() of the real CPU, computed once). 0 when the host
// has no XSAVE.
[[nodiscard]] uint64_t guest_xcr0_components();

// The state of a CPU after reset (FNINIT, MXCSR = 0x1F80, XMM/YMM registers zero).
void init_fpu_state(FpuState& state);

// Makes `state` the live FPU state of this physical CPU, saving the previous owner's first.
void activate_fpu_state(FpuState& state);

// Forgets `state` as a live owner (its vCPU is going away or being reset).
void release_fpu_state(FpuState& state);

} // namespace halcyon::vmm
