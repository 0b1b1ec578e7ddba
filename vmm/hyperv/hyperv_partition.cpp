#include "vmm/hyperv/hyperv_partition.hpp"

#include "vmm/hyperv/hypercall_page.hpp"
#include "vmm/hyperv/tlfs.hpp"

#include <array>

namespace halcyon::vmm::hyperv {
namespace {

// The hypercalls Halcyon implements (CPUID 0x40000003 EBX grants PostMessages and
// SignalEvents). Every other code ends in validate_hypercall's invalid_hypercall_code.
constexpr std::array<HypercallDescriptor, 2> kImplementedHypercalls{{
    {.code = call::kPostMessage, .input_bytes = kPostMessageInputBytes},
    {.code = call::kSignalEvent, .fast_form = true, .input_bytes = kSignalEventInputBytes},
}};

} // namespace

HypervPartition::HypervPartition(const HypervPartitionInfo& info)
    : info_(info), clock_(info.tsc_hz, info.creation_tsc) {}

void HypervPartition::adjust_cpuid(uint32_t leaf, virt::CpuidRegisters& regs) const {
    // Hyper-V exposes the invariant-TSC bit once the guest sets HV_X64_MSR_TSC_INVARIANT_CONTROL
    // bit 0; Halcyon only adds it then (the host's own bit passes through either way, the guest
    // TSC being the host's).
    if (leaf == kLeafAdvancedPowerManagement && (tsc_invariant_control_ & kTscInvariantExpose))
        regs.edx |= kInvariantTscBit;
}

bool HypervPartition::claims_msr(uint32_t index) {
    switch (index) {
    case msr::kGuestOsId:
    case msr::kHypercall:
    case msr::kVpIndex:
    case msr::kTimeRefCount:
    case msr::kReferenceTsc:
    case msr::kTscFrequency:
    case msr::kApicFrequency:
    case msr::kVpAssistPage:
    case msr::kTscInvariantControl:
        return true;
    default:
        return VpSynic::claims_msr(index);
    }
}

bool HypervPartition::read_msr(uint32_t vcpu, uint32_t index, uint64_t guest_tsc,
                               uint64_t& value) const {
    if (vcpu >= info_.vcpu_count || vcpu >= kMaxVirtualProcessors)
        return false;
    switch (index) {
    case msr::kGuestOsId:
        value = guest_os_id_;
        return true;
    case msr::kHypercall:
        value = hypercall_;
        return true;
    case msr::kVpIndex:
        value = vcpu;
        return true;
    case msr::kTimeRefCount:
        value = clock_.time_at(guest_tsc);
        return true;
    case msr::kReferenceTsc:
        value = reference_tsc_;
        return true;
    case msr::kTscFrequency:
        value = info_.tsc_hz;
        return true;
    case msr::kApicFrequency:
        value = info_.apic_timer_hz;
        return true;
    case msr::kVpAssistPage:
        value = vp_assist_page_[vcpu];
        return true;
    case msr::kTscInvariantControl:
        value = tsc_invariant_control_;
        return true;
    default:
        return false;
    }
}

bool HypervPartition::write_msr(uint32_t vcpu, uint32_t index, uint64_t value,
                                GuestPageWriter& memory) {
    if (vcpu >= info_.vcpu_count || vcpu >= kMaxVirtualProcessors)
        return false;
    switch (index) {
    case msr::kGuestOsId:
        guest_os_id_ = value;
        // TLFS: zeroing the guest OS identity disables the hypercall page.
        if (value == 0)
            hypercall_ &= ~kOverlayEnable;
        return true;
    case msr::kHypercall:
        return write_hypercall_msr(value, memory);
    case msr::kReferenceTsc:
        reference_tsc_ = value;
        // A page outside guest RAM is simply not accessible (TLFS: no fault); the guest then
        // reads its own memory there, and a zero TscSequence sends it to the MSR.
        if (value & kOverlayEnable)
            (void)memory.fill_page(value & kOverlayPageMask, clock_.page_header());
        return true;
    case msr::kVpAssistPage:
        vp_assist_page_[vcpu] = value;
        // A fresh overlay page reads as zero. Nothing in it is used while no enlightenment that
        // needs it (lazy EOI, nested virtualization) is offered.
        if (value & kOverlayEnable)
            (void)memory.fill_page(value & kOverlayPageMask, {});
        return true;
    case msr::kTscInvariantControl:
        if (value & ~kTscInvariantExpose)
            return false;
        tsc_invariant_control_ = value;
        return true;
    default: // VP index, reference counter and frequencies are read-only; others unknown
        return false;
    }
}

bool HypervPartition::write_hypercall_msr(uint64_t value, GuestPageWriter& memory) {
    // TLFS: once the locked bit is set the MSR is immutable until a reset. Writes are ignored
    // rather than refused: the TLFS names no fault for them.
    if (hypercall_ & kHypercallLocked)
        return true;
    // Without a guest OS identity the enable bit stays clear even if one is written.
    if (guest_os_id_ == 0)
        value &= ~kOverlayEnable;
    if ((value & kOverlayEnable) &&
        !memory.fill_page(value & kOverlayPageMask, hypercall_page_code(info_.vendor)))
        return false; // TLFS: a hypercall page beyond the guest-physical space raises #GP
    hypercall_ = value;
    return true;
}

HypercallResult HypervPartition::hypercall(GeneralRegisters& regs, const SystemRegisters& system,
                                           GuestMemory& memory) {
    const HypercallCaller caller = hypercall_caller(system);
    HypercallResult result = dispatch(read_hypercall_input(regs, caller.long_mode), caller, memory);
    if (result.outcome == HypercallOutcome::completed)
        store_hypercall_result(regs, caller.long_mode, result.value);
    return result;
}

HypercallResult HypervPartition::dispatch(const HypercallInput& input,
                                          const HypercallCaller& caller, GuestMemory& memory) {
    // VMMCALL without the hypercall page is not a Hyper-V hypercall; like a CPU that does not
    // implement it, raise #UD. The TLFS allows hypercalls only at CPL 0 in protected mode and
    // answers anything else with #UD too.
    if (!hypercalls_enabled() || !caller.protected_mode || caller.cpl != 0)
        return HypercallResult{};
    const ValidatedHypercall validated =
        validate_hypercall(input, kImplementedHypercalls, info_.guest_physical_size);
    HypercallResult result{HypercallOutcome::completed, hypercall_result(validated.status), {}};
    if (validated.status != HvStatus::success)
        return result;
    HvStatus status = HvStatus::invalid_hypercall_code;
    switch (validated.control.code) {
    case call::kPostMessage:
        status = decode_post_message(validated.control, input, memory, result.port_call);
        break;
    case call::kSignalEvent:
        status = decode_signal_event(validated.control, input, memory, result.port_call);
        break;
    }
    if (status == HvStatus::success)
        result.outcome = HypercallOutcome::port_call;
    else
        result.value = hypercall_result(status);
    return result;
}

void HypervPartition::reset() {
    guest_os_id_ = 0;
    hypercall_ = 0;
    reference_tsc_ = 0;
    tsc_invariant_control_ = 0;
    for (uint64_t& page : vp_assist_page_)
        page = 0;
    for (VpSynic& synic : synics_)
        synic.reset();
}

} // namespace halcyon::vmm::hyperv
