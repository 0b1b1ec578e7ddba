// Layout of the AP trampoline page, shared by trampoline.S (which includes this file through the
// C preprocessor, hence macros) and smp.cpp (which fills the parameter block).
//
// The page (Handoff::ap_trampoline, below 1 MiB) holds the trampoline code copied from the core
// image at offset 0 -- a STARTUP IPI with vector page/4K starts the AP in real mode at CS:IP =
// page/16:0 -- and, at kTrampolineParametersOffset, the parameters the BSP writes for the one AP
// being started.
#pragma once

#define TRAMPOLINE_PARAMETERS_OFFSET 0xF00

// Offsets inside the parameter block.
#define TRAMPOLINE_TEMPORARY_CR3 0x00 // u32: page tables below 4 GiB identity-mapping 0-2 MiB
#define TRAMPOLINE_STAGE 0x04         // u32: written by the AP as it progresses (kStage*)
#define TRAMPOLINE_FINAL_CR3 0x08     // u64: the core's PML4
#define TRAMPOLINE_CR4 0x10           // u64: the BSP's CR4
#define TRAMPOLINE_EFER 0x18          // u64: EFER to load before paging (LME, NXE, ...)
#define TRAMPOLINE_CR0 0x20           // u64: the BSP's CR0 (caches on, WP, NE)
#define TRAMPOLINE_STACK_TOP 0x28     // u64: virtual, 16-byte aligned
#define TRAMPOLINE_PERCPU 0x30        // u64: PerCpu* passed to the entry point in rdi
#define TRAMPOLINE_ENTRY 0x38         // u64: virtual address of ap_entry
#define TRAMPOLINE_PARAMETERS_SIZE 0x40

// Stages the AP reports (so a CPU that never comes online can be diagnosed).
#define TRAMPOLINE_STAGE_REAL_MODE 1
#define TRAMPOLINE_STAGE_PROTECTED_MODE 2
#define TRAMPOLINE_STAGE_LONG_MODE 3 // last write: the core's identity mapping is read-only

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

namespace halcyon::x86 {

inline constexpr uint64_t kTrampolineParametersOffset = TRAMPOLINE_PARAMETERS_OFFSET;

struct TrampolineParameters {
    uint32_t temporary_cr3;
    volatile uint32_t stage;
    uint64_t final_cr3;
    uint64_t cr4;
    uint64_t efer;
    uint64_t cr0;
    uint64_t stack_top;
    uint64_t percpu;
    uint64_t entry;
};
static_assert(offsetof(TrampolineParameters, temporary_cr3) == TRAMPOLINE_TEMPORARY_CR3);
static_assert(offsetof(TrampolineParameters, stage) == TRAMPOLINE_STAGE);
static_assert(offsetof(TrampolineParameters, final_cr3) == TRAMPOLINE_FINAL_CR3);
static_assert(offsetof(TrampolineParameters, cr4) == TRAMPOLINE_CR4);
static_assert(offsetof(TrampolineParameters, efer) == TRAMPOLINE_EFER);
static_assert(offsetof(TrampolineParameters, cr0) == TRAMPOLINE_CR0);
static_assert(offsetof(TrampolineParameters, stack_top) == TRAMPOLINE_STACK_TOP);
static_assert(offsetof(TrampolineParameters, percpu) == TRAMPOLINE_PERCPU);
static_assert(offsetof(TrampolineParameters, entry) == TRAMPOLINE_ENTRY);
static_assert(sizeof(TrampolineParameters) == TRAMPOLINE_PARAMETERS_SIZE);
static_assert(TRAMPOLINE_PARAMETERS_OFFSET + TRAMPOLINE_PARAMETERS_SIZE <= 4096);

// The trampoline code in the core image (trampoline.S), copied to the page at offset 0.
extern "C" const uint8_t ap_trampoline_start[];
extern "C" const uint8_t ap_trampoline_end[];

} // namespace halcyon::x86
#endif
