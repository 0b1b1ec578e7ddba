#include "vmm/vmx/guest_state_check.hpp"

#include "vmm/vmx/control_bits.hpp"
#include "vmm/vmx/event_injection.hpp"

namespace halcyon::vmx {
namespace {

namespace ar = access_rights;

constexpr uint32_t kActivityHlt = 1;
constexpr uint32_t kActivityWaitForSipi = 3;
constexpr uint64_t kPendingDebugDefined = 0xF | (1ull << 12) | (1ull << 14) | (1ull << 16);
constexpr uint64_t kPendingDebugBs = 1ull << 14;

Violation fail(const char* check, uint64_t detail) {
    return Violation{check, detail};
}

uint32_t type_of(const VmxSegment& s) {
    return s.access_rights & ar::kTypeMask;
}
uint32_t dpl_of(const VmxSegment& s) {
    return (s.access_rights >> ar::kDplShift) & 3;
}
bool usable(const VmxSegment& s) {
    return (s.access_rights & ar::kUnusable) == 0;
}

// Limit and granularity must agree: any of limit bits 11:0 clear needs G = 0, any of bits 31:20
// set needs G = 1.
bool limit_matches_granularity(const VmxSegment& s) {
    const bool g = (s.access_rights & ar::kGranularity) != 0;
    if ((s.limit & 0xFFF) != 0xFFF && g)
        return false;
    if ((s.limit & 0xFFF0'0000) != 0 && !g)
        return false;
    return true;
}

bool valid_memory_type(uint64_t type) {
    return type == 0 || type == 1 || type == 4 || type == 5 || type == 6 || type == 7;
}

Violation check_control_registers(const GuestStateSnapshot& s, const VmxConfiguration& config) {
    const bool ia32e = (s.entry_controls & entry_control::kIa32eModeGuest) != 0;
    if (const int bit = config.cr0_guest.first_violation(s.cr0); bit >= 0)
        return fail("guest CR0 breaks IA32_VMX_CR0_FIXED0/FIXED1 (detail: bit)", bit);
    if ((s.cr0 & cr0::kPg) != 0 && (s.cr0 & cr0::kPe) == 0)
        return fail("guest CR0.PG is set without CR0.PE", s.cr0);
    if (const int bit = config.cr4_guest.first_violation(s.cr4); bit >= 0)
        return fail("guest CR4 breaks IA32_VMX_CR4_FIXED0/FIXED1 (detail: bit)", bit);
    if (ia32e && (s.cr0 & cr0::kPg) == 0)
        return fail("\"IA-32e mode guest\" is set but guest CR0.PG is clear", s.cr0);
    if (ia32e && (s.cr4 & cr4::kPae) == 0)
        return fail("\"IA-32e mode guest\" is set but guest CR4.PAE is clear", s.cr4);
    if (!ia32e && (s.cr4 & cr4::kPcide) != 0)
        return fail("guest CR4.PCIDE is set outside IA-32e mode", s.cr4);
    if ((s.cr3 >> 52) != 0)
        return fail("guest CR3 sets bits beyond the physical-address width", s.cr3);
    if ((s.dr7 >> 32) != 0)
        return fail("guest DR7 bits 63:32 are not zero", s.dr7);
    if (!is_canonical(s.sysenter_esp) || !is_canonical(s.sysenter_eip))
        return fail("guest IA32_SYSENTER_ESP/EIP is not canonical", s.sysenter_eip);
    if ((s.entry_controls & entry_control::kLoadPat) != 0) {
        for (int i = 0; i < 8; ++i) {
            if (!valid_memory_type((s.pat >> (8 * i)) & 0xFF))
                return fail("guest IA32_PAT holds an invalid memory type", s.pat);
        }
    }
    if ((s.entry_controls & entry_control::kLoadEfer) != 0) {
        if ((s.efer & ~efer::kDefined) != 0)
            return fail("guest IA32_EFER has reserved bits set", s.efer);
        if (((s.efer & efer::kLma) != 0) != ia32e)
            return fail("guest EFER.LMA differs from the \"IA-32e mode guest\" entry control",
                        s.efer);
        if ((s.cr0 & cr0::kPg) != 0 && ((s.efer & efer::kLma) != 0) != ((s.efer & efer::kLme) != 0))
            return fail("guest EFER.LME differs from EFER.LMA while CR0.PG is set", s.efer);
    }
    return {};
}

Violation check_tr_and_ldtr(const GuestStateSnapshot& s, bool ia32e) {
    const VmxSegment& tr = s.segment(SegmentRegister::tr);
    if ((tr.selector & 4) != 0)
        return fail("guest TR selector has TI set", tr.selector);
    if (!usable(tr))
        return fail("guest TR is unusable", tr.access_rights);
    const uint32_t tr_type = type_of(tr);
    if (tr_type != 11 && (ia32e || tr_type != 3))
        return fail("guest TR type is not a busy TSS (11, or 3 outside IA-32e mode)", tr_type);
    if ((tr.access_rights & ar::kCodeOrData) != 0 || (tr.access_rights & ar::kPresent) == 0)
        return fail("guest TR must be a present system segment", tr.access_rights);
    if ((tr.access_rights & ar::kReserved) != 0)
        return fail("guest TR access rights have reserved bits set", tr.access_rights);
    if (!limit_matches_granularity(tr))
        return fail("guest TR limit does not match its G bit", tr.limit);
    if (!is_canonical(tr.base))
        return fail("guest TR base is not canonical", tr.base);

    const VmxSegment& ldtr = s.segment(SegmentRegister::ldtr);
    if (!usable(ldtr))
        return {};
    if ((ldtr.selector & 4) != 0)
        return fail("guest LDTR selector has TI set", ldtr.selector);
    if (type_of(ldtr) != 2 || (ldtr.access_rights & ar::kCodeOrData) != 0 ||
        (ldtr.access_rights & ar::kPresent) == 0)
        return fail("usable guest LDTR is not a present LDT descriptor (type 2, S = 0)",
                    ldtr.access_rights);
    if ((ldtr.access_rights & ar::kReserved) != 0)
        return fail("guest LDTR access rights have reserved bits set", ldtr.access_rights);
    if (!limit_matches_granularity(ldtr))
        return fail("guest LDTR limit does not match its G bit", ldtr.limit);
    if (!is_canonical(ldtr.base))
        return fail("guest LDTR base is not canonical", ldtr.base);
    return {};
}

Violation check_code_and_stack(const GuestStateSnapshot& s, const VmxConfiguration& config,
                               bool ia32e) {
    const bool unrestricted = (s.secondary & secondary::kUnrestrictedGuest) != 0;
    const VmxSegment& cs = s.segment(SegmentRegister::cs);
    const VmxSegment& ss = s.segment(SegmentRegister::ss);
    const uint32_t cs_type = type_of(cs);
    if (!(cs_type == 9 || cs_type == 11 || cs_type == 13 || cs_type == 15 ||
          (cs_type == 3 && unrestricted)))
        return fail("guest CS type is not an accessed code segment (or 3 with unrestricted guest)",
                    cs_type);
    if ((cs.access_rights & ar::kCodeOrData) == 0 || (cs.access_rights & ar::kPresent) == 0 ||
        !usable(cs))
        return fail("guest CS must be a present, usable code/data segment", cs.access_rights);
    if (cs_type == 3 && dpl_of(cs) != 0)
        return fail("guest CS of type 3 must have DPL 0", cs.access_rights);
    if ((cs_type == 9 || cs_type == 11) && dpl_of(cs) != dpl_of(ss))
        return fail("guest CS DPL differs from SS DPL (non-conforming code)", cs.access_rights);
    if ((cs_type == 13 || cs_type == 15) && dpl_of(cs) > dpl_of(ss))
        return fail("guest CS DPL exceeds SS DPL (conforming code)", cs.access_rights);
    if ((cs.access_rights & ar::kReserved) != 0)
        return fail("guest CS access rights have reserved bits set", cs.access_rights);
    if (!limit_matches_granularity(cs))
        return fail("guest CS limit does not match its G bit", cs.limit);
    if (ia32e && (cs.access_rights & ar::kLong) != 0 && (cs.access_rights & ar::kDefaultBig) != 0)
        return fail("guest CS has both L and D/B set in IA-32e mode", cs.access_rights);
    if ((cs.base >> 32) != 0)
        return fail("guest CS base bits 63:32 are not zero", cs.base);

    if (!unrestricted && (ss.selector & 3) != (cs.selector & 3))
        return fail("guest SS.RPL differs from CS.RPL", ss.selector);
    if ((cs_type == 3 || (s.cr0 & cr0::kPe) == 0) && dpl_of(ss) != 0)
        return fail("guest SS.DPL must be 0 in real mode or with a type-3 CS", ss.access_rights);
    if (usable(ss)) {
        const uint32_t ss_type = type_of(ss);
        if (ss_type != 3 && ss_type != 7)
            return fail("usable guest SS is not a writable, accessed data segment", ss_type);
        if ((ss.access_rights & ar::kCodeOrData) == 0 || (ss.access_rights & ar::kPresent) == 0)
            return fail("usable guest SS must be a present code/data segment", ss.access_rights);
        if ((ss.access_rights & ar::kReserved) != 0)
            return fail("guest SS access rights have reserved bits set", ss.access_rights);
        if (!limit_matches_granularity(ss))
            return fail("guest SS limit does not match its G bit", ss.limit);
        if ((ss.base >> 32) != 0)
            return fail("guest SS base bits 63:32 are not zero", ss.base);
    }
    if (s.activity_state == kActivityHlt && dpl_of(ss) != 0)
        return fail("guest activity state HLT needs SS.DPL = 0", ss.access_rights);
    (void)config;
    return {};
}

Violation check_data_segments(const GuestStateSnapshot& s) {
    const bool unrestricted = (s.secondary & secondary::kUnrestrictedGuest) != 0;
    constexpr SegmentRegister kData[] = {SegmentRegister::ds, SegmentRegister::es,
                                         SegmentRegister::fs, SegmentRegister::gs};
    for (SegmentRegister which : kData) {
        const VmxSegment& seg = s.segment(which);
        const bool fs_or_gs = which == SegmentRegister::fs || which == SegmentRegister::gs;
        if (fs_or_gs ? !is_canonical(seg.base) : (usable(seg) && (seg.base >> 32) != 0))
            return fail("guest DS/ES base bits 63:32 are not zero, or FS/GS base is not canonical",
                        seg.base);
        if (!usable(seg))
            continue;
        const uint32_t type = type_of(seg);
        if ((type & ar::kAccessed) == 0)
            return fail("usable guest data segment (DS/ES/FS/GS) is not marked accessed", type);
        if ((type & ar::kCode) != 0 && (type & 2) == 0)
            return fail("guest data segment register holds an execute-only code segment", type);
        if ((seg.access_rights & ar::kCodeOrData) == 0 || (seg.access_rights & ar::kPresent) == 0)
            return fail("usable guest DS/ES/FS/GS must be a present code/data segment",
                        seg.access_rights);
        if (!unrestricted && type <= 11 && dpl_of(seg) < (seg.selector & 3u))
            return fail("guest DS/ES/FS/GS DPL is below its RPL", seg.access_rights);
        if ((seg.access_rights & ar::kReserved) != 0)
            return fail("guest DS/ES/FS/GS access rights have reserved bits set",
                        seg.access_rights);
        if (!limit_matches_granularity(seg))
            return fail("guest DS/ES/FS/GS limit does not match its G bit", seg.limit);
    }
    if (!is_canonical(s.gdtr_base) || !is_canonical(s.idtr_base))
        return fail("guest GDTR/IDTR base is not canonical", s.gdtr_base);
    if ((s.gdtr_limit >> 16) != 0 || (s.idtr_limit >> 16) != 0)
        return fail("guest GDTR/IDTR limit bits 31:16 are not zero", s.gdtr_limit);
    return {};
}

Violation check_rip_rflags_and_events(const GuestStateSnapshot& s, bool ia32e) {
    const VmxSegment& cs = s.segment(SegmentRegister::cs);
    const bool code64 = ia32e && (cs.access_rights & ar::kLong) != 0;
    if (!code64 && (s.rip >> 32) != 0)
        return fail("guest RIP bits 63:32 are not zero outside 64-bit code", s.rip);
    if (code64 && !is_canonical(s.rip))
        return fail("guest RIP is not canonical", s.rip);
    if ((s.rflags & rflags::kReserved) != 0 || (s.rflags & rflags::kFixedOne) == 0)
        return fail("guest RFLAGS reserved bits are not as required (bit 1 set, others clear)",
                    s.rflags);
    if ((s.rflags & rflags::kVm) != 0 && (ia32e || (s.cr0 & cr0::kPe) == 0))
        return fail("guest RFLAGS.VM is set in IA-32e mode or with CR0.PE clear", s.rflags);
    const bool injecting = event_valid(s.entry_interruption_info);
    const EventType type = event_type(s.entry_interruption_info);
    if (injecting && type == EventType::external_interrupt && (s.rflags & rflags::kIf) == 0)
        return fail("an external interrupt is injected while guest RFLAGS.IF is clear", s.rflags);

    if (s.activity_state > kActivityWaitForSipi)
        return fail("guest activity state is not 0-3", s.activity_state);
    const uint32_t blocking = s.interruptibility;
    if ((blocking & ~0x1Fu) != 0)
        return fail("guest interruptibility state has reserved bits set", blocking);
    if ((blocking & interruptibility::kShadow) == interruptibility::kShadow)
        return fail("guest blocking by STI and by MOV SS are both set", blocking);
    if ((blocking & interruptibility::kBlockingBySti) != 0 && (s.rflags & rflags::kIf) == 0)
        return fail("guest blocking by STI is set while RFLAGS.IF is clear", blocking);
    if (injecting && type == EventType::external_interrupt &&
        (blocking & interruptibility::kShadow) != 0)
        return fail("an external interrupt is injected during STI or MOV-SS blocking", blocking);
    if (injecting && type == EventType::nmi && (blocking & interruptibility::kBlockingByMovSs) != 0)
        return fail("an NMI is injected during MOV-SS blocking", blocking);
    if ((blocking & interruptibility::kBlockingBySmi) != 0 &&
        (s.entry_controls & entry_control::kEntryToSmm) == 0)
        return fail("guest blocking by SMI is set outside SMM", blocking);
    if (injecting && type == EventType::nmi && (s.pin_based & pin::kVirtualNmis) != 0 &&
        (blocking & interruptibility::kBlockingByNmi) != 0)
        return fail("an NMI is injected while virtual-NMI blocking is set", blocking);

    if ((s.pending_debug_exceptions & ~kPendingDebugDefined) != 0)
        return fail("guest pending debug exceptions have reserved bits set",
                    s.pending_debug_exceptions);
    if ((blocking & interruptibility::kShadow) != 0 || s.activity_state == kActivityHlt) {
        const bool bs = (s.pending_debug_exceptions & kPendingDebugBs) != 0;
        const bool tf = (s.rflags & rflags::kTf) != 0;
        if (tf && !bs)
            return fail("pending-debug BS must be set: RFLAGS.TF with an interrupt shadow or HLT",
                        s.pending_debug_exceptions);
        if (!tf && bs)
            return fail("pending-debug BS must be clear: RFLAGS.TF is clear",
                        s.pending_debug_exceptions);
    }
    if (s.vmcs_link_pointer != ~0ull)
        return fail("VMCS link pointer is not FFFFFFFF_FFFFFFFFh", s.vmcs_link_pointer);
    return {};
}

} // namespace

Violation find_event_injection_violation(const GuestStateSnapshot& s) {
    const uint32_t info = s.entry_interruption_info;
    if (!event_valid(info))
        return {};
    if ((info & ~interruption::kEntryDefined) != 0)
        return fail("VM-entry interruption information has reserved bits 30:12 set", info);
    const EventType type = event_type(info);
    const uint8_t vector = event_vector(info);
    if (type == EventType::other || static_cast<uint8_t>(type) == 1)
        return fail("VM-entry interruption type is reserved (1) or needs the monitor trap flag (7)",
                    info);
    if (type == EventType::nmi && vector != 2)
        return fail("an injected NMI must have vector 2", info);
    if (type == EventType::hardware_exception && vector > 31)
        return fail("an injected hardware exception must have a vector of 0-31", info);
    const bool unrestricted = (s.secondary & secondary::kUnrestrictedGuest) != 0;
    const bool protected_mode = !unrestricted || (s.cr0 & cr0::kPe) != 0;
    const bool needs_error_code =
        protected_mode && type == EventType::hardware_exception && exception_has_error_code(vector);
    if (((info & interruption::kDeliverErrorCode) != 0) != needs_error_code)
        return fail("the injected event's \"deliver error code\" bit does not match the vector "
                    "and mode",
                    info);
    if (type == EventType::software_interrupt || type == EventType::software_exception ||
        type == EventType::privileged_software_exception) {
        if (s.entry_instruction_length == 0 || s.entry_instruction_length > 15)
            return fail("an injected software event needs an instruction length of 1-15",
                        s.entry_instruction_length);
    }
    return {};
}

Violation find_guest_state_violation(const GuestStateSnapshot& s, const VmxConfiguration& config) {
    const bool ia32e = (s.entry_controls & entry_control::kIa32eModeGuest) != 0;
    if (Violation v = check_control_registers(s, config))
        return v;
    if (Violation v = check_tr_and_ldtr(s, ia32e))
        return v;
    if (Violation v = check_code_and_stack(s, config, ia32e))
        return v;
    if (Violation v = check_data_segments(s))
        return v;
    if (Violation v = check_rip_rflags_and_events(s, ia32e))
        return v;
    return find_event_injection_violation(s);
}

} // namespace halcyon::vmx
