// The Hyper-V synthetic interface of one partition: its CPUID leaves, synthetic MSRs and
// hypercall entry, as a pure state machine (no hardware access, no allocation). What the
// partition calls, and when:
//   construction   one HypervPartition per partition, with HypervPartitionInfo.
//   CPUID          cpuid(leaf) answers 0x40000000-0x4000FFFF (std::nullopt elsewhere); after
//                  its own policy, adjust_cpuid(leaf, regs) for the leaves the Hyper-V state
//                  changes (0x80000007 EDX[8], invariant TSC, once the guest asked for it).
//   RDMSR/WRMSR    if claims_msr(msr): read_msr / write_msr; false -> inject #GP(0).
//                  `guest_tsc` is the calling vCPU's TSC as the guest reads it.
//   VMMCALL/VMCALL hypercall(regs, system) reads and writes the TLFS registers itself; on
//                  HypercallOutcome::completed advance RIP past the instruction (3 bytes), on
//                  undefined_opcode inject #UD and leave RIP.
//   guest reboot   reset().
// Not thread-safe: the partition serializes all calls (the partition-wide MSRs - guest OS ID,
// hypercall, reference TSC, invariant-TSC control - are shared by every vCPU).
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
// Writes to read-only MSRs and reserved (RsvdZ) bits raise #GP; RsvdP bits are kept as written.
#pragma once

#include "vmm/cpu_backend.hpp"
#include "vmm/hyperv/cpuid.hpp"
#include "vmm/hyperv/guest_page_writer.hpp"
#include "vmm/hyperv/hypercall.hpp"
#include "vmm/hyperv/partition_info.hpp"
#include "vmm/hyperv/reference_clock.hpp"

#include <optional>
#include <stdint.h>

namespace halcyon::vmm::hyperv {

enum class HypercallOutcome : uint8_t {
    completed,       // the result is in RAX (EDX:EAX): advance RIP past the instruction
    undefined_opcode // inject #UD, RIP unchanged
};

struct HypercallResult {
    HypercallOutcome outcome = HypercallOutcome::undefined_opcode;
    uint64_t value = 0; // the hypercall result value when completed
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
    [[nodiscard]] static bool claims_msr(uint32_t msr);
    [[nodiscard]] bool read_msr(uint32_t vcpu, uint32_t msr, uint64_t guest_tsc,
                                uint64_t& value) const;
    [[nodiscard]] bool write_msr(uint32_t vcpu, uint32_t msr, uint64_t value,
                                 GuestPageWriter& memory);

    // --- hypercalls ---
    // Whether the guest enabled the hypercall page (VMMCALL means a hypercall only then).
    [[nodiscard]] bool hypercalls_enabled() const { return (hypercall_ & kOverlayEnable) != 0; }
    [[nodiscard]] HypercallOutcome hypercall(GeneralRegisters& regs, const SystemRegisters& system);
    // The same, on decoded registers.
    [[nodiscard]] HypercallResult dispatch(const HypercallInput& input,
                                           const HypercallCaller& caller);

    // Every MSR back to its value at creation (a guest reboot). The reference time keeps
    // counting: it belongs to the partition, which a reboot does not recreate.
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
};

} // namespace halcyon::vmm::hyperv
