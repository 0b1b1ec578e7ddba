// The CPU backend interface: everything above it (partitions, the run loop, the VM worker) sees
// a virtual processor only through this class, so the VT-x/EPT backend (issue #8) can be added
// next to vmm/svm/ without touching anything above it.
//
// A backend owns the hardware control structure of one vCPU (a VMCB for SVM, a VMCS for VT-x)
// and translates its exits into the neutral `VcpuExit`. It handles by itself only what is
// specific to its hardware (e.g. SVM instructions executed by the guest become #UD there);
// architectural policy (CPUID, MSRs, memory, devices) is decided above it.
#pragma once

#include "lib/base/error_or.hpp"

#include <stddef.h>
#include <stdint.h>

namespace halcyon::vmm {

// The guest's general-purpose registers, RIP and RFLAGS.
struct GeneralRegisters {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip, rflags;
};

// A segment register in the packed 12-bit attribute format of the SVM VMCB (descriptor bits
// 8..15 and 20..23); the VT-x backend converts to its access-rights format.
struct Segment {
    uint16_t selector = 0;
    uint16_t attributes = 0;
    uint32_t limit = 0;
    uint64_t base = 0;
};

struct DescriptorTable {
    uint64_t base = 0;
    uint16_t limit = 0;
};

// Control and segment state: what a loader sets once and what emulation needs to read.
struct SystemRegisters {
    uint64_t cr0 = 0, cr2 = 0, cr3 = 0, cr4 = 0;
    uint64_t efer = 0; // as the guest sees it (the backend hides its own requirements)
    uint64_t pat = 0;
    Segment cs, ds, es, fs, gs, ss, tr, ldtr;
    DescriptorTable gdtr, idtr;
    uint8_t cpl = 0;
};

enum class ExitReason : uint8_t {
    cpuid,             // RIP at the CPUID instruction
    msr_read,          // RDMSR: msr = ECX
    msr_write,         // WRMSR: msr = ECX, value = EDX:EAX
    io,                // IN/OUT/INS/OUTS: see IoExit
    hlt,               // RIP at the HLT instruction
    pause,             // RIP at the PAUSE instruction
    shutdown,          // triple fault (or a shutdown the guest caused otherwise)
    nested_page_fault, // guest-physical access the nested tables do not allow: see MemoryExit
    host_interrupt,    // a host interrupt arrived while the guest ran (nothing to do for the guest)
    interrupt_window,  // the guest can take an external interrupt now (request_interrupt_window)
    hypercall,         // VMMCALL / VMCALL: RIP at the instruction (3 bytes on both vendors)
    retry,             // the backend handled the exit itself; run again
    invalid_state,     // the hardware refused to enter the guest (bad guest state)
    unhandled,         // an exit the backend does not understand (raw_code says which)
};
inline constexpr size_t kExitReasonCount = static_cast<size_t>(ExitReason::unhandled) + 1;

[[nodiscard]] constexpr const char* exit_reason_name(ExitReason reason) {
    constexpr const char* kNames[kExitReasonCount] = {
        "cpuid", "msr_read", "msr_write",  "io",        "hlt",   "pause",   "shutdown",
        "npf",   "host_irq", "irq_window", "hypercall", "retry", "invalid", "unhandled"};
    return kNames[static_cast<size_t>(reason)];
}

struct IoExit {
    uint16_t port;
    uint8_t size; // 1, 2 or 4 bytes
    bool in;
    bool string;       // INS/OUTS
    bool repeat;       // REP prefix
    uint64_t next_rip; // SVM reports it for I/O even without NRIP save
};

struct MemoryExit {
    uint64_t guest_physical;
    bool write;
    bool execute;
    bool present; // the translation existed but did not allow the access
};

struct VcpuExit {
    ExitReason reason = ExitReason::unhandled;
    uint32_t raw_code = 0; // the backend's own exit code, for diagnostics
    // What the CPU reported about the instruction, when it can (SVM NRIP save and decode
    // assists; QEMU TCG has neither): the RIP after it (0: unknown, decode it), and for a nested
    // page fault the bytes it fetched (the emulator then needs no guest page walk to fetch them).
    uint64_t next_rip = 0;
    uint8_t instruction_byte_count = 0;
    uint8_t instruction_bytes[15] = {};
    uint32_t msr = 0;
    uint64_t msr_value = 0;
    IoExit io{};
    MemoryExit memory{};
};

// What a vCPU's backend needs to be created.
struct BackendSetup {
    uint64_t nested_root = 0; // physical address of the nested page table root
    // Identifies the partition's address space (1, 2, ...); the backend maps it to a hardware
    // ASID / VPID (never 0, the host's) and flushes when partitions have to share one.
    uint32_t address_space_id = 0;
};

class CpuBackend {
public:
    virtual ~CpuBackend() = default;

    // Enters the guest and returns at the next exit the layer above must see.
    [[nodiscard]] virtual ErrorOr<VcpuExit> run() = 0;

    [[nodiscard]] virtual GeneralRegisters& registers() = 0;
    [[nodiscard]] virtual SystemRegisters system_registers() const = 0;
    virtual void set_system_registers(const SystemRegisters& registers) = 0;

    // Queues an exception for delivery at the next entry (error code when has_error_code).
    virtual void inject_exception(uint8_t vector, bool has_error_code, uint32_t error_code) = 0;
    // Queues an external interrupt for delivery at the next entry (the guest must accept it).
    virtual void inject_interrupt(uint8_t vector) = 0;
    // Queues an NMI for delivery at the next entry.
    virtual void inject_nmi() = 0;
    // Whether an event is already queued for the next entry (one at a time: a second injection
    // would overwrite the first).
    [[nodiscard]] virtual bool event_pending() const = 0;
    // Whether the guest currently accepts external interrupts (RFLAGS.IF and no shadow).
    [[nodiscard]] virtual bool interrupts_enabled() const = 0;
    // Asks for an `interrupt_window` exit as soon as the guest accepts external interrupts (the
    // request ends with that exit or when cancelled with `false`).
    virtual void request_interrupt_window(bool enable) = 0;

    // Sets bits in the guest's DR6 (e.g. BS before injecting a single-step #DB).
    virtual void set_debug_status(uint64_t dr6_bits) = 0;

    // The guest's TSC as it reads it (for MSR emulation), and setting it.
    [[nodiscard]] virtual uint64_t guest_tsc() const = 0;
    virtual void set_guest_tsc(uint64_t value) = 0;

    // Back to the state after creation (a guest reboot): registers zeroed, no queued event,
    // XCR0 = 1.
    virtual void reset() = 0;

    // The guest's XCR0. Only the guest's XSETBV changes it; the backend validates that and
    // switches XCR0 around guest entries, since neither VMRUN nor VM entry does. For the CPUID
    // policy (leaf 0xD EBX).
    [[nodiscard]] virtual uint64_t guest_xcr0() const = 0;

    // The nested tables changed in a way that may leave stale translations (unmap, protect).
    virtual void request_tlb_flush() = 0;
};

} // namespace halcyon::vmm
