// The Hyper-V synthetic interface of one partition: its CPUID leaves, synthetic MSRs and
// hypercall entry, as a pure state machine (no hardware access, no allocation). What the
// partition calls, and when:
//   construction   one HypervPartition per partition, with HypervPartitionInfo.
//   CPUID          cpuid(leaf) answers 0x40000000-0x4000FFFF (std::nullopt elsewhere); after
//                  its own policy, adjust_cpuid(leaf, regs) for the leaves the Hyper-V state
//                  changes (0x80000007 EDX[8], invariant TSC, once the guest asked for it).
//   RDMSR/WRMSR    if claims_msr(msr): read_msr / write_msr; false -> inject #GP(0).
//                  `guest_tsc` is the calling vCPU's TSC as the guest reads it.
//                  The SynIC and synthetic-timer MSRs (VpSynic::claims_msr) are per virtual
//                  processor: read_msr/write_msr refuse them, synic(vcpu) handles them.
//   VMMCALL/VMCALL hypercall(regs, system, memory) reads and writes the TLFS registers itself;
//                  on HypercallOutcome::completed advance RIP past the instruction (3 bytes),
//                  on undefined_opcode inject #UD and leave RIP; on port_call (HvPostMessage,
//                  HvSignalEvent passed the checks) look up the port of
//                  result.port_call.connection_id, call_port() with no lock held, store its
//                  status with store_hypercall_result and advance RIP.
//   guest reboot   reset().
// Not thread-safe: the partition serializes all calls (the partition-wide MSRs - guest OS ID,
// hypercall, reference TSC, invariant-TSC control - are shared by every vCPU), except that each
// virtual processor's VpSynic (synic(vcpu)) is independent of the rest and of the others: the
// partition locks those one by one.
//
// MSRs (docs/hyperv.md has the details and the TLFS references):
//   0x40000000 GUEST_OS_ID      partition-wide, read/write; zero disables the hypercall page
//   0x40000001 HYPERCALL        partition-wide; enable needs a non-zero guest OS ID (else the
//                               enable bit stays clear); enabling writes the hypercall page
//                               (#GP if that page is not guest RAM); once locked, immutable
//   0x40000002 VP_INDEX         read-only: the vCPU index (= APIC ID)
//   0x40000020 TIME_REF_COUNT   read-only: 100 ns units since partition creation
//   0x40000021 REFERENCE_TSC    partition-wide; enabling writes the reference TSC page
//   0x40000022 TSC_FREQUENCY    read-only, Hz
//   0x40000023 APIC_FREQUENCY   read-only, Hz (the LAPIC timer input clock)
//   0x40000073 VP_ASSIST_PAGE   per vCPU; accepted although CPUID does not offer it (Linux 6.1
//                               writes it unconditionally in hv_cpu_init); enabling zeroes it
//   0x40000118 TSC_INVARIANT_CONTROL  partition-wide; bit 0 exposes CPUID 0x80000007 EDX[8]
//   0x40000080-84, 0x40000090-9F  SynIC (per vCPU, vp_synic.hpp / synic.hpp)
//   0x400000B0-B7 synthetic timers (per vCPU, vp_synic.hpp / synthetic_timer.hpp)
// Writes to read-only MSRs and reserved (RsvdZ) bits raise #GP; RsvdP bits are kept as written.
#pragma once

#include "vmm/cpu_backend.hpp"
#include "vmm/hyperv/cpuid.hpp"
#include "vmm/hyperv/guest_memory.hpp"
#include "vmm/hyperv/guest_page_writer.hpp"
#include "vmm/hyperv/hypercall.hpp"
#include "vmm/hyperv/partition_info.hpp"
#include "vmm/hyperv/reference_clock.hpp"
#include "vmm/hyperv/synic_hypercalls.hpp"
#include "vmm/hyperv/vp_synic.hpp"

#include <optional>
#include <stdint.h>

namespace halcyon::vmm::hyperv {

enum class HypercallOutcome : uint8_t {
    completed,        // the result is in RAX (EDX:EAX): advance RIP past the instruction
    undefined_opcode, // inject #UD, RIP unchanged
    port_call,        // valid HvPostMessage / HvSignalEvent: the port decides the result
};

struct HypercallResult {
    HypercallOutcome outcome = HypercallOutcome::undefined_opcode;
    uint64_t value = 0; // the hypercall result value when completed
    PortCall port_call; // when port_call
};

class HypervPartition {
public:
    explicit HypervPartition(const HypervPartitionInfo& info);

    [[nodiscard]] const HypervPartitionInfo& info() const { return info_; }
    [[nodiscard]] const ReferenceClock& clock() const { return clock_; }

    // --- CPUID ---
    [[nodiscard]] std::optional<virt::CpuidRegisters> cpuid(uint32_t leaf) const {
        return hyperv_cpuid(leaf, info_);
    }
    void adjust_cpuid(uint32_t leaf, virt::CpuidRegisters& regs) const;

    // --- MSRs ---
    // Every synthetic MSR, the per-vCPU SynIC and timer ones included.
    [[nodiscard]] static bool claims_msr(uint32_t msr);
    [[nodiscard]] bool read_msr(uint32_t vcpu, uint32_t msr, uint64_t guest_tsc,
                                uint64_t& value) const;
    [[nodiscard]] bool write_msr(uint32_t vcpu, uint32_t msr, uint64_t value,
                                 GuestPageWriter& memory);

    // --- hypercalls ---
    // Whether the guest enabled the hypercall page (VMMCALL means a hypercall only then).
    [[nodiscard]] bool hypercalls_enabled() const { return (hypercall_ & kOverlayEnable) != 0; }
    // Reads the TLFS registers; stores the result itself unless the outcome is port_call.
    // `memory` serves memory-form parameter blocks.
    [[nodiscard]] HypercallResult hypercall(GeneralRegisters& regs, const SystemRegisters& system,
                                            GuestMemory& memory);
    // The same, on decoded registers.
    [[nodiscard]] HypercallResult dispatch(const HypercallInput& input,
                                           const HypercallCaller& caller, GuestMemory& memory);

    // --- SynIC and synthetic timers of virtual processor `vcpu` (< kMaxVirtualProcessors) ---
    [[nodiscard]] VpSynic& synic(uint32_t vcpu) { return synics_[vcpu % kMaxVirtualProcessors]; }

    // Every MSR back to its value at creation (a guest reboot), every SynIC and timer too. The
    // reference time keeps counting: it belongs to the partition, which a reboot does not
    // recreate.
    void reset();

private:
    [[nodiscard]] bool write_hypercall_msr(uint64_t value, GuestPageWriter& memory);

    HypervPartitionInfo info_;
    ReferenceClock clock_;
    uint64_t guest_os_id_ = 0;
    uint64_t hypercall_ = 0;
    uint64_t reference_tsc_ = 0;
    uint64_t tsc_invariant_control_ = 0;
    uint64_t vp_assist_page_[kMaxVirtualProcessors] = {};
    VpSynic synics_[kMaxVirtualProcessors];
};

} // namespace halcyon::vmm::hyperv
