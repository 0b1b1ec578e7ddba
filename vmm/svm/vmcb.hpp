// The AMD SVM Virtual Machine Control Block as a typed structure (AMD APM vol. 2, appendix B,
// "Layout of VMCB"). One 4 KiB page per vCPU: the control area (what to intercept, how to enter,
// why we left) followed by the state save area (the guest's registers that VMRUN loads and
// #VMEXIT stores). Every field the core uses is pinned to its architectural offset by a
// static_assert, so a miscounted reserved gap fails the build instead of corrupting a guest.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace halcyon::svm {

// A segment register as the VMCB stores it: attributes are the descriptor's bits 8..15 and
// 20..23 packed into 12 bits (type, S, DPL, P, AVL, L, D/B, G).
struct VmcbSegment {
    uint16_t selector;
    uint16_t attributes;
    uint32_t limit;
    uint64_t base;
};
static_assert(sizeof(VmcbSegment) == 16);

namespace segment_attributes {
inline constexpr uint16_t kAccessed = 1u << 0;
inline constexpr uint16_t kWritable = 1u << 1;   // data: writable; code: readable
inline constexpr uint16_t kCode = 1u << 3;       // type bit 3: code segment
inline constexpr uint16_t kCodeOrData = 1u << 4; // S: not a system segment
inline constexpr uint16_t kPresent = 1u << 7;
inline constexpr uint16_t kLong = 1u << 9;       // L: 64-bit code
inline constexpr uint16_t kDefault32 = 1u << 10; // D/B
inline constexpr uint16_t kGranularity = 1u << 11;
inline constexpr uint16_t kTypeBusyTss64 = 0xB;
inline constexpr uint16_t kTypeLdt = 0x2;
} // namespace segment_attributes

struct VmcbControl {
    uint32_t intercept_cr;         // 0x000: bits 0-15 reads of CR0-15, 16-31 writes
    uint32_t intercept_dr;         // 0x004: bits 0-15 reads of DR0-15, 16-31 writes
    uint32_t intercept_exceptions; // 0x008: one bit per exception vector
    uint32_t intercept_misc1;      // 0x00C: INTR .. SHUTDOWN (svm::intercept1)
    uint32_t intercept_misc2;      // 0x010: VMRUN .. (svm::intercept2)
    uint32_t intercept_misc3;      // 0x014
    uint8_t reserved_018[0x03C - 0x018];
    uint16_t pause_filter_threshold; // 0x03C
    uint16_t pause_filter_count;     // 0x03E
    uint64_t iopm_base_pa;           // 0x040
    uint64_t msrpm_base_pa;          // 0x048
    uint64_t tsc_offset;             // 0x050
    uint32_t guest_asid;             // 0x058
    uint8_t tlb_control;             // 0x05C
    uint8_t reserved_05d[3];
    uint64_t virtual_interrupt;  // 0x060: V_TPR, V_IRQ, V_INTR_PRIO, V_INTR_MASKING, vector
    uint64_t interrupt_shadow;   // 0x068: bit 0 = guest is in an interrupt shadow
    uint64_t exit_code;          // 0x070
    uint64_t exit_info_1;        // 0x078
    uint64_t exit_info_2;        // 0x080
    uint64_t exit_int_info;      // 0x088: an event that was being delivered when we exited
    uint64_t nested_control;     // 0x090: bit 0 = nested paging
    uint64_t avic_apic_bar;      // 0x098
    uint64_t ghcb_pa;            // 0x0A0
    uint64_t event_injection;    // 0x0A8
    uint64_t nested_cr3;         // 0x0B0
    uint64_t virtualization_ext; // 0x0B8: LBR virtualization, virtual VMSAVE/VMLOAD
    uint32_t clean_bits;         // 0x0C0
    uint32_t reserved_0c4;
    uint64_t next_rip;                     // 0x0C8 (only with NRIP save; TCG has none)
    uint8_t guest_instruction_bytes_count; // 0x0D0 (decode assists; TCG has none)
    uint8_t guest_instruction_bytes[15];   // 0x0D1
    uint8_t reserved_0e0[0x400 - 0x0E0];
};
static_assert(sizeof(VmcbControl) == 0x400);
static_assert(offsetof(VmcbControl, intercept_misc1) == 0x00C);
static_assert(offsetof(VmcbControl, intercept_misc2) == 0x010);
static_assert(offsetof(VmcbControl, iopm_base_pa) == 0x040);
static_assert(offsetof(VmcbControl, msrpm_base_pa) == 0x048);
static_assert(offsetof(VmcbControl, tsc_offset) == 0x050);
static_assert(offsetof(VmcbControl, guest_asid) == 0x058);
static_assert(offsetof(VmcbControl, tlb_control) == 0x05C);
static_assert(offsetof(VmcbControl, virtual_interrupt) == 0x060);
static_assert(offsetof(VmcbControl, exit_code) == 0x070);
static_assert(offsetof(VmcbControl, exit_info_1) == 0x078);
static_assert(offsetof(VmcbControl, exit_info_2) == 0x080);
static_assert(offsetof(VmcbControl, exit_int_info) == 0x088);
static_assert(offsetof(VmcbControl, nested_control) == 0x090);
static_assert(offsetof(VmcbControl, event_injection) == 0x0A8);
static_assert(offsetof(VmcbControl, nested_cr3) == 0x0B0);
static_assert(offsetof(VmcbControl, clean_bits) == 0x0C0);
static_assert(offsetof(VmcbControl, next_rip) == 0x0C8);
static_assert(offsetof(VmcbControl, guest_instruction_bytes) == 0x0D1);

// The state save area, at VMCB offset 0x400 (offsets below are relative to the VMCB).
struct VmcbState {
    VmcbSegment es, cs, ss, ds, fs, gs; // 0x400 .. 0x45F
    VmcbSegment gdtr;                   // 0x460 (only limit and base are used)
    VmcbSegment ldtr;                   // 0x470
    VmcbSegment idtr;                   // 0x480 (only limit and base are used)
    VmcbSegment tr;                     // 0x490
    uint8_t reserved_4a0[0x4CB - 0x4A0];
    uint8_t cpl; // 0x4CB
    uint32_t reserved_4cc;
    uint64_t efer; // 0x4D0
    uint8_t reserved_4d8[0x548 - 0x4D8];
    uint64_t cr4;    // 0x548
    uint64_t cr3;    // 0x550
    uint64_t cr0;    // 0x558
    uint64_t dr7;    // 0x560
    uint64_t dr6;    // 0x568
    uint64_t rflags; // 0x570
    uint64_t rip;    // 0x578
    uint8_t reserved_580[0x5D8 - 0x580];
    uint64_t rsp; // 0x5D8
    uint8_t reserved_5e0[0x5F8 - 0x5E0];
    uint64_t rax;            // 0x5F8
    uint64_t star;           // 0x600
    uint64_t lstar;          // 0x608
    uint64_t cstar;          // 0x610
    uint64_t sfmask;         // 0x618
    uint64_t kernel_gs_base; // 0x620
    uint64_t sysenter_cs;    // 0x628
    uint64_t sysenter_esp;   // 0x630
    uint64_t sysenter_eip;   // 0x638
    uint64_t cr2;            // 0x640
    uint8_t reserved_648[0x668 - 0x648];
    uint64_t guest_pat;     // 0x668: the guest's PAT when nested paging is on
    uint64_t debug_control; // 0x670
    uint8_t reserved_678[0x1000 - 0x678];
};

struct alignas(4096) Vmcb {
    VmcbControl control;
    VmcbState state;
};
static_assert(sizeof(Vmcb) == 4096);
static_assert(offsetof(Vmcb, state) == 0x400);
static_assert(offsetof(Vmcb, state.cs) == 0x410);
static_assert(offsetof(Vmcb, state.gdtr) == 0x460);
static_assert(offsetof(Vmcb, state.idtr) == 0x480);
static_assert(offsetof(Vmcb, state.tr) == 0x490);
static_assert(offsetof(Vmcb, state.cpl) == 0x4CB);
static_assert(offsetof(Vmcb, state.efer) == 0x4D0);
static_assert(offsetof(Vmcb, state.cr4) == 0x548);
static_assert(offsetof(Vmcb, state.cr3) == 0x550);
static_assert(offsetof(Vmcb, state.cr0) == 0x558);
static_assert(offsetof(Vmcb, state.rflags) == 0x570);
static_assert(offsetof(Vmcb, state.rip) == 0x578);
static_assert(offsetof(Vmcb, state.rsp) == 0x5D8);
static_assert(offsetof(Vmcb, state.rax) == 0x5F8);
static_assert(offsetof(Vmcb, state.star) == 0x600);
static_assert(offsetof(Vmcb, state.kernel_gs_base) == 0x620);
static_assert(offsetof(Vmcb, state.cr2) == 0x640);
static_assert(offsetof(Vmcb, state.guest_pat) == 0x668);

// Intercept vector 3 (VmcbControl::intercept_misc1).
namespace intercept1 {
inline constexpr uint32_t kIntr = 1u << 0;
inline constexpr uint32_t kNmi = 1u << 1;
inline constexpr uint32_t kSmi = 1u << 2;
inline constexpr uint32_t kInit = 1u << 3;
inline constexpr uint32_t kVintr = 1u << 4;
inline constexpr uint32_t kCpuid = 1u << 18;
inline constexpr uint32_t kInvd = 1u << 22;
inline constexpr uint32_t kPause = 1u << 23;
inline constexpr uint32_t kHlt = 1u << 24;
inline constexpr uint32_t kInvlpga = 1u << 26;
inline constexpr uint32_t kIoio = 1u << 27;
inline constexpr uint32_t kMsr = 1u << 28;
inline constexpr uint32_t kTaskSwitch = 1u << 29;
inline constexpr uint32_t kShutdown = 1u << 31;
} // namespace intercept1

// Intercept vector 4 (VmcbControl::intercept_misc2).
namespace intercept2 {
inline constexpr uint32_t kVmrun = 1u << 0; // must be set, or VMRUN fails
inline constexpr uint32_t kVmmcall = 1u << 1;
inline constexpr uint32_t kVmload = 1u << 2;
inline constexpr uint32_t kVmsave = 1u << 3;
inline constexpr uint32_t kStgi = 1u << 4;
inline constexpr uint32_t kClgi = 1u << 5;
inline constexpr uint32_t kSkinit = 1u << 6;
inline constexpr uint32_t kRdtscp = 1u << 7;
inline constexpr uint32_t kIcebp = 1u << 8;
inline constexpr uint32_t kMonitor = 1u << 10;
inline constexpr uint32_t kMwait = 1u << 11;
inline constexpr uint32_t kMwaitConditional = 1u << 12;
inline constexpr uint32_t kXsetbv = 1u << 13;
} // namespace intercept2

// TLB_CONTROL values. TCG implements only "flush everything" (no flush-by-ASID).
inline constexpr uint8_t kTlbControlNothing = 0;
inline constexpr uint8_t kTlbControlFlushAll = 1;

inline constexpr uint64_t kNestedPagingEnable = 1ull << 0;
// VmcbControl::virtual_interrupt: V_IRQ asks the CPU for a virtual interrupt; with V_IGN_TPR
// and the highest priority it is taken as soon as RFLAGS.IF allows, which (with the VINTR
// intercept) is exactly an interrupt-window exit.
inline constexpr uint64_t kVirtualIrq = 1ull << 8;
inline constexpr uint64_t kVirtualInterruptPriorityHighest = 0xFull << 16;
inline constexpr uint64_t kVirtualIgnoreTpr = 1ull << 20;
inline constexpr uint64_t kVirtualInterruptMasking = 1ull << 24;

// EVENTINJ / EXITINTINFO encoding.
namespace event {
inline constexpr uint64_t kTypeExternal = 0ull << 8;
inline constexpr uint64_t kTypeNmi = 2ull << 8;
inline constexpr uint64_t kTypeException = 3ull << 8;
inline constexpr uint64_t kTypeSoftwareInterrupt = 4ull << 8;
inline constexpr uint64_t kErrorCodeValid = 1ull << 11;
inline constexpr uint64_t kValid = 1ull << 31;
} // namespace event

} // namespace halcyon::svm
