#include "vmm/vmx/capabilities.hpp"

#include "vmm/vmx/control_bits.hpp"

namespace halcyon::vmx {
namespace {

// Builds a NamedControl whose messages name the control and where the CPU reports it. A macro
// because the messages must be static strings (Error carries a pointer, never a buffer), and only
// string-literal concatenation builds those at compile time.
#define HALCYON_VMX_CONTROL(msr_name, bit, text)                                                   \
    NamedControl {                                                                                 \
        1u << (bit), text,                                                                         \
            "VT-x: the CPU cannot set the required control \"" text "\" (" msr_name " bit " #bit   \
            ")",                                                                                   \
            "VT-x: the CPU cannot clear the control \"" text "\" (" msr_name " bit " #bit ")"      \
    }

constexpr NamedControl kPinBasedNames[] = {
    HALCYON_VMX_CONTROL("pin-based", 0, "external-interrupt exiting"),
    HALCYON_VMX_CONTROL("pin-based", 3, "NMI exiting"),
    HALCYON_VMX_CONTROL("pin-based", 5, "virtual NMIs"),
    HALCYON_VMX_CONTROL("pin-based", 6, "activate VMX-preemption timer"),
    HALCYON_VMX_CONTROL("pin-based", 7, "process posted interrupts"),
};

constexpr NamedControl kPrimaryNames[] = {
    HALCYON_VMX_CONTROL("primary processor-based", 2, "interrupt-window exiting"),
    HALCYON_VMX_CONTROL("primary processor-based", 3, "use TSC offsetting"),
    HALCYON_VMX_CONTROL("primary processor-based", 7, "HLT exiting"),
    HALCYON_VMX_CONTROL("primary processor-based", 9, "INVLPG exiting"),
    HALCYON_VMX_CONTROL("primary processor-based", 10, "MWAIT exiting"),
    HALCYON_VMX_CONTROL("primary processor-based", 12, "RDTSC exiting"),
    HALCYON_VMX_CONTROL("primary processor-based", 15, "CR3-load exiting"),
    HALCYON_VMX_CONTROL("primary processor-based", 16, "CR3-store exiting"),
    HALCYON_VMX_CONTROL("primary processor-based", 19, "CR8-load exiting"),
    HALCYON_VMX_CONTROL("primary processor-based", 20, "CR8-store exiting"),
    HALCYON_VMX_CONTROL("primary processor-based", 21, "use TPR shadow"),
    HALCYON_VMX_CONTROL("primary processor-based", 22, "NMI-window exiting"),
    HALCYON_VMX_CONTROL("primary processor-based", 23, "MOV-DR exiting"),
    HALCYON_VMX_CONTROL("primary processor-based", 24, "unconditional I/O exiting"),
    HALCYON_VMX_CONTROL("primary processor-based", 25, "use I/O bitmaps"),
    HALCYON_VMX_CONTROL("primary processor-based", 27, "monitor trap flag"),
    HALCYON_VMX_CONTROL("primary processor-based", 28, "use MSR bitmaps"),
    HALCYON_VMX_CONTROL("primary processor-based", 29, "MONITOR exiting"),
    HALCYON_VMX_CONTROL("primary processor-based", 30, "PAUSE exiting"),
    HALCYON_VMX_CONTROL("primary processor-based", 31, "activate secondary controls"),
};

constexpr NamedControl kSecondaryNames[] = {
    HALCYON_VMX_CONTROL("IA32_VMX_PROCBASED_CTLS2", 1, "enable EPT"),
    HALCYON_VMX_CONTROL("IA32_VMX_PROCBASED_CTLS2", 5, "enable VPID"),
    HALCYON_VMX_CONTROL("IA32_VMX_PROCBASED_CTLS2", 7, "unrestricted guest"),
};

constexpr NamedControl kExitNames[] = {
    HALCYON_VMX_CONTROL("VM-exit", 2, "save debug controls"),
    HALCYON_VMX_CONTROL("VM-exit", 9, "host address-space size"),
    HALCYON_VMX_CONTROL("VM-exit", 12, "load IA32_PERF_GLOBAL_CTRL"),
    HALCYON_VMX_CONTROL("VM-exit", 15, "acknowledge interrupt on exit"),
    HALCYON_VMX_CONTROL("VM-exit", 18, "save IA32_PAT"),
    HALCYON_VMX_CONTROL("VM-exit", 19, "load IA32_PAT"),
    HALCYON_VMX_CONTROL("VM-exit", 20, "save IA32_EFER"),
    HALCYON_VMX_CONTROL("VM-exit", 21, "load IA32_EFER"),
    HALCYON_VMX_CONTROL("VM-exit", 22, "save VMX-preemption timer value"),
};

constexpr NamedControl kEntryNames[] = {
    HALCYON_VMX_CONTROL("VM-entry", 2, "load debug controls"),
    HALCYON_VMX_CONTROL("VM-entry", 9, "IA-32e mode guest"),
    HALCYON_VMX_CONTROL("VM-entry", 10, "entry to SMM"),
    HALCYON_VMX_CONTROL("VM-entry", 11, "deactivate dual-monitor treatment"),
    HALCYON_VMX_CONTROL("VM-entry", 13, "load IA32_PERF_GLOBAL_CTRL"),
    HALCYON_VMX_CONTROL("VM-entry", 14, "load IA32_PAT"),
    HALCYON_VMX_CONTROL("VM-entry", 15, "load IA32_EFER"),
};

#undef HALCYON_VMX_CONTROL

// Host interrupts and NMIs must reach the host; virtual NMIs make NMI blocking visible and
// NMI-window exits possible. A preemption timer or posted interrupts would change what an exit
// means.
constexpr ControlRequest kPinBasedRequest{
    .required = pin::kExternalInterruptExiting | pin::kNmiExiting,
    .desired = pin::kVirtualNmis,
    .must_be_clear = pin::kPreemptionTimer | pin::kPostedInterrupts,
};

// What the guest must not do natively: HLT (the scheduler blocks the vCPU), port I/O (device
// models), MSRs other than the pass-through list (the MSR policy), MONITOR/MWAIT (hidden by the
// CPUID policy). The TPR shadow keeps a 64-bit guest's MOV to CR8 away from the host's APIC, as
// V_TPR does on SVM. CR3 accesses, INVLPG, RDTSC and DR accesses run natively (EPT makes them
// harmless), so the CPU must let those controls be 0.
constexpr ControlRequest kPrimaryRequest{
    .required = primary::kUseTscOffsetting | primary::kHltExiting | primary::kMwaitExiting |
                primary::kUseTprShadow | primary::kUnconditionalIoExiting |
                primary::kUseMsrBitmaps | primary::kMonitorExiting |
                primary::kActivateSecondaryControls,
    .desired = primary::kPauseExiting,
    .toggled_required = primary::kInterruptWindowExiting,
    .toggled_desired = primary::kNmiWindowExiting,
    .must_be_clear = primary::kInvlpgExiting | primary::kRdtscExiting | primary::kCr3LoadExiting |
                     primary::kCr3StoreExiting | primary::kCr8LoadExiting |
                     primary::kCr8StoreExiting | primary::kMovDrExiting | primary::kUseIoBitmaps |
                     primary::kMonitorTrapFlag,
};

// Everything else of the secondary controls stays 0: RDTSCP, INVPCID and XSAVES then raise #UD
// in the guest, which matches the CPUID policy hiding them.
constexpr ControlRequest kSecondaryRequest{
    .required = secondary::kEnableEpt,
    .desired = secondary::kUnrestrictedGuest | secondary::kEnableVpid,
};

// The host gets its own PAT and EFER back on every exit and the guest's are saved, so neither
// needs an MSR switch; the guest's DR7/DEBUGCTL are saved because the exit resets DR7. Interrupts
// stay pending in the local APIC (no acknowledge): the host takes them in an interrupt window.
constexpr ControlRequest kExitRequest{
    .required = exit_control::kSaveDebugControls | exit_control::kHostAddressSpaceSize |
                exit_control::kSavePat | exit_control::kLoadPat | exit_control::kSaveEfer |
                exit_control::kLoadEfer,
    .must_be_clear = exit_control::kAcknowledgeInterruptOnExit |
                     exit_control::kSavePreemptionTimer | exit_control::kLoadPerfGlobalControl,
};

constexpr ControlRequest kEntryRequest{
    .required =
        entry_control::kLoadDebugControls | entry_control::kLoadPat | entry_control::kLoadEfer,
    .toggled_required = entry_control::kIa32eModeGuest,
    .must_be_clear = entry_control::kEntryToSmm | entry_control::kDeactivateDualMonitor |
                     entry_control::kLoadPerfGlobalControl,
};

const NamedControl* find_name(std::span<const NamedControl> names, uint32_t bit) {
    for (const NamedControl& named : names) {
        if (named.mask == bit)
            return &named;
    }
    return nullptr;
}

// The error for the lowest bit of `bits`.
Error control_error(std::span<const NamedControl> names, uint32_t bits, bool cannot_set) {
    const uint32_t bit = bits & (~bits + 1);
    const NamedControl* named = find_name(names, bit);
    if (named == nullptr)
        return Error(ErrorCode::not_supported,
                     cannot_set ? "VT-x: the CPU cannot set a required control"
                                : "VT-x: the CPU cannot clear a control Halcyon needs clear");
    return Error(ErrorCode::not_supported, cannot_set ? named->cannot_set : named->cannot_clear);
}

FixedBits fixed_bits(uint64_t fixed0, uint64_t fixed1) {
    // A bit the CPU reports as fixed to 1 is always allowed to be 1, whatever FIXED1 says.
    return FixedBits{.must_be_one = fixed0, .may_be_one = fixed1 | fixed0};
}

} // namespace

int FixedBits::first_violation(uint64_t value) const {
    const uint64_t wrong = value ^ apply(value);
    if (wrong == 0)
        return -1;
    return __builtin_ctzll(wrong);
}

bool has_true_controls(uint64_t basic_value) {
    return (basic_value & basic::kTrueControls) != 0;
}

bool has_secondary_controls(uint64_t processor) {
    return ((processor >> 32) & primary::kActivateSecondaryControls) != 0;
}

bool has_ept_vpid_capability(uint64_t processor2) {
    return ((processor2 >> 32) & (secondary::kEnableEpt | secondary::kEnableVpid)) != 0;
}

ErrorOr<ResolvedControl> resolve_control(uint64_t capability, const ControlRequest& request,
                                         std::span<const NamedControl> names) {
    const auto must_be_one = static_cast<uint32_t>(capability);
    const auto may_be_one = static_cast<uint32_t>(capability >> 32);
    if ((must_be_one & ~may_be_one) != 0)
        return Error(ErrorCode::corrupt,
                     "VT-x: a capability MSR forces a control to 1 that it does not allow");
    const uint32_t needed_one = request.required | request.toggled_required;
    if (const uint32_t missing = needed_one & ~may_be_one; missing != 0)
        return control_error(names, missing, true);
    const uint32_t needed_zero = request.toggled_required | request.must_be_clear;
    if (const uint32_t forced = needed_zero & must_be_one; forced != 0)
        return control_error(names, forced, false);
    ResolvedControl resolved;
    resolved.value = must_be_one | request.required | (request.desired & may_be_one);
    resolved.toggles =
        request.toggled_required | (request.toggled_desired & may_be_one & ~must_be_one);
    return resolved;
}

ErrorOr<VmxConfiguration> compute_configuration(const VmxMsrValues& msrs) {
    VmxConfiguration config;
    config.revision = static_cast<uint32_t>(msrs.basic & basic::kRevisionMask);
    config.region_size =
        static_cast<uint32_t>((msrs.basic >> basic::kRegionSizeShift) & basic::kRegionSizeMask);
    if (config.region_size == 0 || config.region_size > 4096)
        return Error(ErrorCode::not_supported,
                     "VT-x: IA32_VMX_BASIC reports a VMCS region size that is not 1..4096 bytes");
    config.regions_below_4g = (msrs.basic & basic::kAddressesBelow4G) != 0;
    config.true_controls = has_true_controls(msrs.basic);

    const uint64_t pin_msr = config.true_controls ? msrs.true_pin_based : msrs.pin_based;
    const uint64_t primary_msr = config.true_controls ? msrs.true_processor : msrs.processor;
    const uint64_t exit_msr = config.true_controls ? msrs.true_exit : msrs.exit;
    const uint64_t entry_msr = config.true_controls ? msrs.true_entry : msrs.entry;

    // EPT first: a CPU without it (everything before Nehalem) fails for that reason, which says
    // more than the older controls it also lacks. Without secondary controls at all,
    // processor2 is 0 and EPT is just as missing.
    const ResolvedControl secondary_controls =
        TRY(resolve_control(msrs.processor2, kSecondaryRequest, kSecondaryNames));
    const ResolvedControl pin_based =
        TRY(resolve_control(pin_msr, kPinBasedRequest, kPinBasedNames));
    const ResolvedControl primary_controls =
        TRY(resolve_control(primary_msr, kPrimaryRequest, kPrimaryNames));
    const ResolvedControl exit_controls = TRY(resolve_control(exit_msr, kExitRequest, kExitNames));
    const ResolvedControl entry_controls =
        TRY(resolve_control(entry_msr, kEntryRequest, kEntryNames));

    config.pin_based_capability = pin_msr;
    config.primary_capability = primary_msr;
    config.secondary_capability = msrs.processor2;
    config.exit_capability = exit_msr;
    config.entry_capability = entry_msr;
    config.pin_based = pin_based.value;
    config.primary = primary_controls.value;
    config.secondary = secondary_controls.value;
    config.exit = exit_controls.value;
    config.entry = entry_controls.value;
    config.virtual_nmis = (config.pin_based & pin::kVirtualNmis) != 0;
    // NMI-window exiting exists only together with virtual NMIs (SDM 26.2.1.1).
    config.nmi_window_exiting =
        config.virtual_nmis && (primary_controls.toggles & primary::kNmiWindowExiting) != 0;
    config.pause_exiting = (config.primary & primary::kPauseExiting) != 0;
    config.unrestricted_guest = (config.secondary & secondary::kUnrestrictedGuest) != 0;
    config.exit_stores_lma = (msrs.misc & misc::kExitStoresLma) != 0;

    const uint64_t cap = msrs.ept_vpid_capability;
    if ((cap & ept_vpid::kPageWalk4) == 0)
        return Error(ErrorCode::not_supported,
                     "VT-x: EPT cannot walk 4-level tables (IA32_VMX_EPT_VPID_CAP bit 6)");
    if ((cap & ept_vpid::kMemoryTypeWriteBack) == 0)
        return Error(ErrorCode::not_supported,
                     "VT-x: EPT paging structures cannot be write-back (IA32_VMX_EPT_VPID_CAP "
                     "bit 14)");
    if ((cap & ept_vpid::kLargePage2M) == 0)
        return Error(ErrorCode::not_supported,
                     "VT-x: EPT has no 2 MiB pages (IA32_VMX_EPT_VPID_CAP bit 16)");
    if ((cap & ept_vpid::kInvept) == 0 ||
        (cap & (ept_vpid::kInveptSingleContext | ept_vpid::kInveptAllContext)) == 0)
        return Error(ErrorCode::not_supported,
                     "VT-x: the CPU has no INVEPT (IA32_VMX_EPT_VPID_CAP bits 20, 25, 26)");
    config.ept_2m_pages = true;
    config.ept_1g_pages = (cap & ept_vpid::kLargePage1G) != 0;
    config.ept_accessed_dirty = (cap & ept_vpid::kAccessedDirty) != 0;
    config.invept_single_context = (cap & ept_vpid::kInveptSingleContext) != 0;

    // VPIDs are only worth it when the CPU can also flush one of them (INVVPID): a VPID that is
    // reused could otherwise see stale translations of its previous owner.
    const bool invvpid =
        (cap & ept_vpid::kInvvpid) != 0 &&
        (cap & (ept_vpid::kInvvpidSingleContext | ept_vpid::kInvvpidAllContext)) != 0;
    config.vpid = (config.secondary & secondary::kEnableVpid) != 0 && invvpid;
    if (!config.vpid)
        config.secondary &= ~secondary::kEnableVpid;
    config.invvpid_single_context = config.vpid && (cap & ept_vpid::kInvvpidSingleContext) != 0;

    config.cr0_host = fixed_bits(msrs.cr0_fixed0, msrs.cr0_fixed1);
    config.cr4_host = fixed_bits(msrs.cr4_fixed0, msrs.cr4_fixed1);
    config.cr0_guest = config.cr0_host;
    if (config.unrestricted_guest)
        config.cr0_guest.must_be_one &= ~(cr0::kPe | cr0::kPg);
    config.cr4_guest = config.cr4_host;
    // Bits VMX forces to 1 that a guest may want 0 (CR0.NE: real-mode software; CR4.VMXE: every
    // guest, VMX is hidden) are owned by the host: the guest reads its own value from the read
    // shadow, and a write that changes one exits. PE and PG stay guest-owned: with unrestricted
    // guest they are not forced, and without it the guest cannot clear them anyway (#GP).
    config.cr0_guest_host_mask = config.cr0_guest.must_be_one & ~(cr0::kPe | cr0::kPg);
    config.cr4_guest_host_mask = config.cr4_guest.must_be_one;
    return config;
}

uint64_t ept_pointer(uint64_t root, const VmxConfiguration& configuration) {
    constexpr uint64_t kWriteBack = 6;
    constexpr uint64_t kWalkLength4 = 3ull << 3; // page-walk length minus one
    constexpr uint64_t kAccessedDirty = 1ull << 6;
    return (root & ~0xFFFull) | kWriteBack | kWalkLength4 |
           (configuration.ept_accessed_dirty ? kAccessedDirty : 0);
}

} // namespace halcyon::vmx
