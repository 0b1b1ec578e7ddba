/* root_hv.h: the privileged hypercall interface as a tiny root partition sees it
 * (docs/management-partition.md): call codes, status codes, the hypercall page and parameter
 * pages, and little-endian access to parameter blocks. Shared by root_partition.c and
 * root_unprivileged.c. */
#pragma once

#include "lib/guest.h"

/* Guest-physical pages of the caller (its image lives at 1 MiB, in the first 2 MiB). */
#define HYPERCALL_PAGE 0x300000ull
#define SIMP_PAGE 0x301000ull
#define INPUT_PAGE 0x304000ull
#define OUTPUT_PAGE 0x305000ull

#define MSR_GUEST_OS_ID 0x40000000
#define MSR_HYPERCALL 0x40000001
#define MSR_SCONTROL 0x40000080
#define MSR_SIMP 0x40000083
#define MSR_EOM 0x40000084
#define MSR_SINT0 0x40000090
#define SINT_MASKED (1ull << 16)
#define SINT_POLLING (1ull << 18)

/* Call codes (TLFS / Linux include/hyperv/hvgdk_mini.h). */
#define HVCALL_CREATE_PARTITION 0x0040
#define HVCALL_INITIALIZE_PARTITION 0x0041
#define HVCALL_FINALIZE_PARTITION 0x0042
#define HVCALL_DELETE_PARTITION 0x0043
#define HVCALL_GET_PARTITION_PROPERTY 0x0044
#define HVCALL_SET_PARTITION_PROPERTY 0x0045
#define HVCALL_GET_PARTITION_ID 0x0046
#define HVCALL_DEPOSIT_MEMORY 0x0048
#define HVCALL_WITHDRAW_MEMORY 0x0049
#define HVCALL_MAP_GPA_PAGES 0x004B
#define HVCALL_UNMAP_GPA_PAGES 0x004C
#define HVCALL_INSTALL_INTERCEPT 0x004D
#define HVCALL_CREATE_VP 0x004E
#define HVCALL_DELETE_VP 0x004F
#define HVCALL_GET_VP_REGISTERS 0x0050
#define HVCALL_SET_VP_REGISTERS 0x0051
#define HVCALL_POST_MESSAGE 0x005C
#define HVCALL_ASSERT_VIRTUAL_INTERRUPT 0x0094
#define HVCALL_SIGNAL_EVENT_DIRECT 0x00C0
#define HVCALL_POST_MESSAGE_DIRECT 0x00C1
#define HVCALL_DISPATCH_VP 0x00C2
/* Halcyon's vendor call of the management partition (docs/management-partition.md). */
#define HVCALL_HALCYON_MANAGEMENT 0x7F00
#define HVCALL_MAP_VP_STATE_PAGE 0x00E1
#define HVCALL_UNMAP_VP_STATE_PAGE 0x00E2
#define HVCALL_GET_VP_STATE 0x00E3
#define HVCALL_SET_VP_STATE 0x00E4
#define CALL_FAST (1ull << 16)
#define REPS(n) ((uint64_t)(n) << 32)

#define HV_STATUS_SUCCESS 0x0
#define HV_STATUS_INVALID_HYPERCALL_CODE 0x2
#define HV_STATUS_INVALID_HYPERCALL_INPUT 0x3
#define HV_STATUS_INVALID_ALIGNMENT 0x4
#define HV_STATUS_INVALID_PARAMETER 0x5
#define HV_STATUS_ACCESS_DENIED 0x6
#define HV_STATUS_INVALID_PARTITION_STATE 0x7
#define HV_STATUS_INSUFFICIENT_MEMORY 0xB
#define HV_STATUS_INVALID_PARTITION_ID 0xD
#define HV_STATUS_INVALID_VP_INDEX 0xE
#define HV_STATUS_INVALID_CONNECTION_ID 0x12
#define HV_STATUS_INVALID_SYNIC_STATE 0x18
#define HV_STATUS_NO_RESOURCES 0x1D
#define HV_STATUS_INVALID_REGISTER_VALUE 0x50

/* The hypercall result value: status in bits 15:0, reps completed in 43:32. */
static inline uint16_t hv_status(uint64_t result) {
    return (uint16_t)(result & 0xFFFF);
}
static inline uint32_t hv_reps(uint64_t result) {
    return (uint32_t)((result >> 32) & 0xFFF);
}

/* A hypercall through the page (64-bit convention: RCX control, RDX input, R8 output). */
static inline uint64_t hypercall(uint64_t control, uint64_t input, uint64_t output) {
    uint64_t result;
    register uint64_t r8 __asm__("r8") = output;
    __asm__ volatile("call *%[page]"
                     : "=a"(result), "+c"(control), "+d"(input), "+r"(r8)
                     : [page] "r"(HYPERCALL_PAGE)
                     : "memory", "r9", "r10", "r11", "cc");
    return result;
}

static inline void enable_hypercalls(void) {
    wrmsr(MSR_GUEST_OS_ID, 0x8100000000000001ull); /* open source, "Linux"-style id */
    wrmsr(MSR_HYPERCALL, HYPERCALL_PAGE | 1);
}

/* Parameter blocks: little-endian fields at byte offsets. */
static inline void put64(uint64_t page, uint32_t offset, uint64_t value) {
    *(volatile uint64_t*)(page + offset) = value;
}
static inline void put32(uint64_t page, uint32_t offset, uint32_t value) {
    *(volatile uint32_t*)(page + offset) = value;
}
static inline void put16(uint64_t page, uint32_t offset, uint16_t value) {
    *(volatile uint16_t*)(page + offset) = value;
}
static inline uint64_t get64(uint64_t page, uint32_t offset) {
    return *(volatile uint64_t*)(page + offset);
}
static inline uint32_t get32(uint64_t page, uint32_t offset) {
    return *(volatile uint32_t*)(page + offset);
}
static inline uint16_t get16(uint64_t page, uint32_t offset) {
    return *(volatile uint16_t*)(page + offset);
}
static inline void clear_page(uint64_t page) {
    for (uint32_t i = 0; i < 4096; i += 8)
        put64(page, i, 0);
}
