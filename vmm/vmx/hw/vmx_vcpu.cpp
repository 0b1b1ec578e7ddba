#include "vmm/vmx/hw/vmx_vcpu.hpp"

#include "boot/handoff/handoff.hpp"
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/extended_state.hpp"
#include "vmm/arch/x86_64/percpu.hpp"
#include "vmm/core/log.hpp"
#include "vmm/partition/cpuid_policy.hpp"
#include "vmm/partition/fpu_state.hpp"
#include "vmm/partition/object_memory.hpp"
#include "vmm/vmx/control_bits.hpp"
#include "vmm/vmx/hw/vmx_host.hpp"
#include "vmm/vmx/hw/vmx_instructions.hpp"
#include "vmm/vmx/msr_bitmap.hpp"
#include "vmm/vmx/segment_access.hpp"

#include <new>
#include <stddef.h>
#include <string.h>

extern "C" uint64_t vmx_run_guest(halcyon::vmm::GeneralRegisters* registers, uint64_t* guest_cr2,
                                  uint64_t launched);

namespace halcyon::vmx::hw {
namespace {

// vmx_run.S addresses the registers by these offsets.
static_assert(offsetof(vmm::GeneralRegisters, rax) == 0);
static_assert(offsetof(vmm::GeneralRegisters, rbx) == 8);
static_assert(offsetof(vmm::GeneralRegisters, rcx) == 16);
static_assert(offsetof(vmm::GeneralRegisters, rdx) == 24);
static_assert(offsetof(vmm::GeneralRegisters, rsi) == 32);
static_assert(offsetof(vmm::GeneralRegisters, rdi) == 40);
static_assert(offsetof(vmm::GeneralRegisters, rbp) == 48);
static_assert(offsetof(vmm::GeneralRegisters, r8) == 64);
static_assert(offsetof(vmm::GeneralRegisters, r15) == 120);
static_assert(encoding(field::kHostRsp) == 0x6C14); // VMCS_HOST_RSP in vmx_run.S

constexpr uint32_t kMsrStar = 0xC000'0081;
constexpr uint32_t kMsrLstar = 0xC000'0082;
constexpr uint32_t kMsrCstar = 0xC000'0083;
constexpr uint32_t kMsrSfmask = 0xC000'0084;
constexpr uint64_t kPowerOnPat = 0x0007'0406'0007'0406ull;
constexpr uint32_t kExceptionBitmapMachineCheck = 1u << 18;

// MSRs the guest reaches without an exit: FS/GS base and SYSENTER_* live in the VMCS, and
// KERNEL_GS_BASE is switched lazily (hw/vmx_host.hpp; SWAPGS changes it without an exit anyway).
// STAR/LSTAR/CSTAR/SFMASK are read directly, their writes exit so the backend keeps a copy.
constexpr uint32_t kPassThroughMsrs[] = {0xC000'0100, 0xC000'0101, 0xC000'0102,
                                         0x174,       0x175,       0x176};
constexpr uint32_t kReadOnlyMsrs[] = {kMsrStar, kMsrLstar, kMsrCstar, kMsrSfmask};

constexpr SegmentRegister kSegments[] = {
    SegmentRegister::es, SegmentRegister::cs, SegmentRegister::ss,   SegmentRegister::ds,
    SegmentRegister::fs, SegmentRegister::gs, SegmentRegister::ldtr, SegmentRegister::tr};

uint64_t g_next_serial = 1;

template <typename T = uint8_t>
T* direct(uint64_t physical) {
    return reinterpret_cast<T*>(handoff::kDirectMapBase + physical);
}

vmm::Segment& segment_of(vmm::SystemRegisters& s, SegmentRegister which) {
    switch (which) {
    case SegmentRegister::es:
        return s.es;
    case SegmentRegister::cs:
        return s.cs;
    case SegmentRegister::ss:
        return s.ss;
    case SegmentRegister::ds:
        return s.ds;
    case SegmentRegister::fs:
        return s.fs;
    case SegmentRegister::gs:
        return s.gs;
    case SegmentRegister::ldtr:
        return s.ldtr;
    case SegmentRegister::tr:
        break;
    }
    return s.tr;
}

// The architectural state after INIT (SDM vol. 3, table 10-1): a valid VMX guest state to start
// from, although the partition always sets its own before the first run.
vmm::SystemRegisters init_state() {
    vmm::SystemRegisters s;
    s.cr0 = 0x6000'0010;
    s.pat = kPowerOnPat;
    s.cs = vmm::Segment{0xF000, 0x9B, 0xFFFF, 0xFFFF'0000};
    s.ds = s.es = s.fs = s.gs = s.ss = vmm::Segment{0, 0x93, 0xFFFF, 0};
    s.tr = vmm::Segment{0, 0x8B, 0xFFFF, 0};
    s.ldtr = vmm::Segment{0, 0x82, 0xFFFF, 0};
    s.gdtr = {0, 0xFFFF};
    s.idtr = {0, 0xFFFF};
    return s;
}

} // namespace

VmxVcpu::VmxVcpu(mm::FrameAllocator& frames, const VmxConfiguration& config, uint64_t vmcs,
                 uint64_t msr_bitmap, uint64_t virtual_apic, uint16_t vpid)
    : frames_(&frames), config_(&config), vmcs_physical_(vmcs), msr_bitmap_physical_(msr_bitmap),
      virtual_apic_physical_(virtual_apic), vpid_(vpid),
      serial_(__atomic_fetch_add(&g_next_serial, 1, __ATOMIC_RELAXED)) {}

ErrorOr<VmxVcpu*> VmxVcpu::create(mm::FrameAllocator& frames, const vmm::BackendSetup& setup) {
    const VmxConfiguration* config = configuration();
    if (config == nullptr)
        return Error(ErrorCode::not_supported,
                     "VT-x cannot run guests on this CPU (the virt: log line says why)");
    if (setup.nested_root == 0 || (setup.nested_root & 0xFFF) != 0)
        return Error(ErrorCode::invalid_argument, "VT-x needs the EPT root of the partition");
    uint64_t pages[3] = {};
    for (uint64_t& page : pages) {
        auto frame = frames.allocate(1);
        if (frame.is_error() || (config->regions_below_4g && frame.value() >= (1ull << 32))) {
            if (!frame.is_error())
                (void)frames.free(frame.value(), 1);
            for (uint64_t allocated : pages) {
                if (allocated != 0)
                    (void)frames.free(allocated, 1);
            }
            return Error(ErrorCode::out_of_memory, "no memory for a vCPU's VMCS and bitmaps");
        }
        page = frame.value();
        memset(direct(page), 0, mm::kPageSize);
    }
    uint16_t vpid = 0;
    if (config->vpid) {
        const auto allocated = allocate_vpid();
        if (!allocated.has_value()) {
            for (uint64_t page : pages)
                (void)frames.free(page, 1);
            return Error(ErrorCode::out_of_range, "VT-x: all 65535 VPIDs are in use");
        }
        vpid = *allocated;
    }
    void* memory = vmm::allocate_object(sizeof(VmxVcpu), alignof(VmxVcpu));
    if (memory == nullptr) {
        for (uint64_t page : pages)
            (void)frames.free(page, 1);
        release_vpid(vpid);
        return Error(ErrorCode::out_of_memory, "no memory for a vCPU");
    }
    auto* vcpu = new (memory) VmxVcpu(frames, *config, pages[0], pages[1], pages[2], vpid);
    vcpu->setup_ = setup;
    vcpu->ept_pointer_ = ept_pointer(setup.nested_root, *config);

    // The VMCS region starts with the revision identifier (bit 31 clear: not a shadow VMCS);
    // VMCLEAR puts it in the "clear" launch state VMLAUNCH expects, on whichever CPU.
    memcpy(direct(vcpu->vmcs_physical_), &config->revision, sizeof(config->revision));
    if (vmclear(vcpu->vmcs_physical_) != VmxResult::success) {
        vcpu->~VmxVcpu();
        vmm::free_object(memory);
        return Error(ErrorCode::corrupt, "VT-x: VMCLEAR of a new VMCS failed");
    }
    std::span<uint8_t> bitmap(direct(vcpu->msr_bitmap_physical_), kMsrBitmapBytes);
    intercept_all_msrs(bitmap);
    for (uint32_t msr : kPassThroughMsrs)
        (void)allow_msr_access(bitmap, msr, true, true);
    for (uint32_t msr : kReadOnlyMsrs)
        (void)allow_msr_access(bitmap, msr, true, false);
    vcpu->initialize_software_state();
    return vcpu;
}

VmxVcpu::~VmxVcpu() {
    const x86::PerCpu* cpu = x86::this_cpu_if_ready();
    if (active_cpu_ == ~0u) {
        (void)frames_->free(vmcs_physical_, 1);
    } else if (cpu != nullptr && cpu->index == active_cpu_) {
        if (vmclear(vmcs_physical_) == VmxResult::success) {
            if (cpu_state(active_cpu_).current_vmcs == vmcs_physical_)
                cpu_state(active_cpu_).current_vmcs = 0;
            (void)frames_->free(vmcs_physical_, 1);
        }
    } else {
        defer_release(active_cpu_, vmcs_physical_, *frames_);
    }
    // The bitmap and the virtual-APIC page are only read while the guest runs.
    (void)frames_->free(msr_bitmap_physical_, 1);
    (void)frames_->free(virtual_apic_physical_, 1);
    release_vpid(vpid_);
}

void VmxVcpu::initialize_software_state() {
    registers_ = vmm::GeneralRegisters{};
    registers_.rflags = rflags::kFixedOne;
    system_ = SystemState{};
    system_.visible = init_state();
    system_.control = control_registers_for(system_.visible.cr0, system_.visible.cr4,
                                            system_.visible.efer, *config_);
    system_stale_ = false;
    system_dirty_ = true;
    controls_written_ = false;
    cr2_ = 0;
    dr6_ = 0xFFFF'0FF0;
    syscall_ = SyscallMsrs{};
    syscall_dirty_ = true;
    tsc_offset_ = 0;
    xcr0_ = vmm::xcr0::kX87; // the value after RESET
    pending_event_ = EventInjection{};
    reinjection_ = EventInjection{};
    injected_ = false;
    window_requested_ = false;
    interruptibility_ = 0;
    pending_debug_ = 0;
    exit_rip_ = registers_.rip;
    restore_nmi_blocking_ = false;
    flush_ept_ = true;
    flush_vpid_ = true;
}

void VmxVcpu::reset() {
    // Possibly on another CPU than the one the VMCS is active on: only software state changes
    // here; the next run() rewrites every field. The virtual-APIC page holds the guest's CR8.
    initialize_software_state();
    memset(direct(virtual_apic_physical_), 0, mm::kPageSize);
}

ErrorOr<void> VmxVcpu::make_current(uint32_t cpu) const {
    CpuState& state = cpu_state(cpu);
    if (state.current_vmcs == vmcs_physical_)
        return {};
    if (vmptrld(vmcs_physical_) != VmxResult::success)
        return Error(ErrorCode::corrupt, "VT-x: VMPTRLD of a vCPU's VMCS failed");
    state.current_vmcs = vmcs_physical_;
    return {};
}

ErrorOr<void> VmxVcpu::write_controls() {
    const VmxConfiguration& c = *config_;
    bool ok = true;
    const auto write = [&](VmcsField f, uint64_t value) {
        ok &= vmwrite(f, value) == VmxResult::success;
    };
    write(field::kPinBasedControls, c.pin_based);
    write(field::kPrimaryProcessorControls, c.primary);
    primary_in_vmcs_ = c.primary;
    write(field::kSecondaryProcessorControls, c.secondary);
    write(field::kExitControls, c.exit);
    write(field::kEntryControls, c.entry);
    // Machine checks in the guest belong to the host (its #MC handler reports them).
    write(field::kExceptionBitmap, kExceptionBitmapMachineCheck);
    write(field::kPageFaultErrorMask, 0);
    write(field::kPageFaultErrorMatch, 0);
    write(field::kCr3TargetCount, 0);
    write(field::kExitMsrStoreCount, 0);
    write(field::kExitMsrLoadCount, 0);
    write(field::kEntryMsrLoadCount, 0);
    write(field::kMsrBitmap, msr_bitmap_physical_);
    write(field::kVirtualApicAddress, virtual_apic_physical_);
    write(field::kTprThreshold, 0); // MOV to CR8 never exits: the guest's TPR is its own
    write(field::kEptPointer, ept_pointer_);
    if (c.vpid)
        write(field::kVpid, vpid_);
    write(field::kCr0GuestHostMask, c.cr0_guest_host_mask);
    write(field::kCr4GuestHostMask, c.cr4_guest_host_mask);
    write(field::kVmcsLinkPointer, ~0ull);
    write(field::kGuestDebugControl, 0);
    write(field::kGuestActivityState, 0);
    write(field::kGuestPendingDebugExceptions, 0);
    write(field::kTscOffset, tsc_offset_);
    tsc_offset_in_vmcs_ = tsc_offset_;
    if (!ok)
        return Error(ErrorCode::corrupt, "VT-x: writing the VMCS control fields failed");
    return {};
}

void VmxVcpu::write_system_state() {
    SystemState& s = system_;
    s.control = control_registers_for(s.visible.cr0, s.visible.cr4, s.visible.efer, *config_);
    (void)vmwrite(field::kGuestCr0, s.control.cr0);
    (void)vmwrite(field::kCr0ReadShadow, s.control.cr0_shadow);
    (void)vmwrite(field::kGuestCr4, s.control.cr4);
    (void)vmwrite(field::kCr4ReadShadow, s.control.cr4_shadow);
    (void)vmwrite(field::kGuestCr3, s.visible.cr3);
    (void)vmwrite(field::kGuestEfer, s.visible.efer);
    (void)vmwrite(field::kGuestPat, s.visible.pat);
    (void)vmwrite(field::kGuestDr7, s.dr7);
    (void)vmwrite(field::kGuestSysenterCs, s.sysenter_cs);
    (void)vmwrite(field::kGuestSysenterEsp, s.sysenter_esp);
    (void)vmwrite(field::kGuestSysenterEip, s.sysenter_eip);
    for (SegmentRegister which : kSegments) {
        const VmxSegment segment = to_vmx_segment(segment_of(s.visible, which));
        (void)vmwrite(guest_selector(which), segment.selector);
        (void)vmwrite(guest_limit(which), segment.limit);
        (void)vmwrite(guest_access_rights(which), segment.access_rights);
        (void)vmwrite(guest_base(which), segment.base);
    }
    (void)vmwrite(field::kGuestGdtrBase, s.visible.gdtr.base);
    (void)vmwrite(field::kGuestGdtrLimit, s.visible.gdtr.limit);
    (void)vmwrite(field::kGuestIdtrBase, s.visible.idtr.base);
    (void)vmwrite(field::kGuestIdtrLimit, s.visible.idtr.limit);
    // The "IA-32e mode guest" entry control is EFER.LMA (VM entry checks that they agree).
    uint32_t entry = config_->entry;
    if ((s.visible.efer & efer::kLma) != 0)
        entry |= entry_control::kIa32eModeGuest;
    (void)vmwrite(field::kEntryControls, entry);
    load_pdptes();
}

void VmxVcpu::read_system_state() const {
    SystemState& s = system_;
    s.control.cr0 = vmread(field::kGuestCr0);
    s.control.cr0_shadow = vmread(field::kCr0ReadShadow);
    s.control.cr4 = vmread(field::kGuestCr4);
    s.control.cr4_shadow = vmread(field::kCr4ReadShadow);
    s.control.efer = vmread(field::kGuestEfer);
    s.visible.cr0 = s.control.visible_cr0(*config_);
    s.visible.cr4 = s.control.visible_cr4(*config_);
    s.visible.cr3 = vmread(field::kGuestCr3);
    s.visible.efer = s.control.efer;
    s.visible.pat = vmread(field::kGuestPat);
    s.dr7 = vmread(field::kGuestDr7);
    s.sysenter_cs = vmread(field::kGuestSysenterCs);
    s.sysenter_esp = vmread(field::kGuestSysenterEsp);
    s.sysenter_eip = vmread(field::kGuestSysenterEip);
    for (SegmentRegister which : kSegments) {
        VmxSegment segment;
        segment.selector = static_cast<uint16_t>(vmread(guest_selector(which)));
        segment.limit = static_cast<uint32_t>(vmread(guest_limit(which)));
        segment.access_rights = static_cast<uint32_t>(vmread(guest_access_rights(which)));
        segment.base = vmread(guest_base(which));
        segment_of(s.visible, which) = from_vmx_segment(segment);
    }
    s.visible.gdtr = {vmread(field::kGuestGdtrBase),
                      static_cast<uint16_t>(vmread(field::kGuestGdtrLimit))};
    s.visible.idtr = {vmread(field::kGuestIdtrBase),
                      static_cast<uint16_t>(vmread(field::kGuestIdtrLimit))};
    s.visible.cpl =
        cpl_from_ss(static_cast<uint32_t>(vmread(guest_access_rights(SegmentRegister::ss))));
    system_stale_ = false;
}

vmm::SystemRegisters VmxVcpu::system_registers() const {
    if (system_stale_) {
        const x86::PerCpu* cpu = x86::this_cpu_if_ready();
        if (cpu != nullptr && cpu->index == active_cpu_ && !make_current(cpu->index).is_error())
            read_system_state();
        else
            log::warn("VT-x: a vCPU's registers were read on cpu%u, its VMCS is on cpu%u; "
                      "returning the state of its last entry",
                      cpu != nullptr ? cpu->index : 0, active_cpu_);
    }
    vmm::SystemRegisters out = system_.visible;
    out.cr2 = cr2_;
    out.cpl = system_.visible.ss.attributes >> 5 & 3;
    return out;
}

void VmxVcpu::set_system_registers(const vmm::SystemRegisters& in) {
    system_.visible = in;
    cr2_ = in.cr2;
    system_stale_ = false;
    system_dirty_ = true;
    // Paging state changed under the guest's feet: drop whatever the TLB cached for it.
    flush_vpid_ = true;
}

bool VmxVcpu::guest_protected_mode() const {
    const uint64_t cr0_value = system_stale_ ? vmread(field::kGuestCr0) : system_.control.cr0;
    return !config_->unrestricted_guest || (cr0_value & cr0::kPe) != 0;
}

void VmxVcpu::inject_exception(uint8_t vector, bool has_error_code, uint32_t error_code) {
    // The error-code bit is settled at entry, when the guest's mode is known for sure.
    pending_event_ = exception_injection(vector, has_error_code, error_code, true);
}

void VmxVcpu::inject_interrupt(uint8_t vector) {
    pending_event_ = interrupt_injection(vector);
}

void VmxVcpu::inject_nmi() {
    pending_event_ = nmi_injection();
}

bool VmxVcpu::event_pending() const {
    return event_valid(pending_event_.info) || event_valid(reinjection_.info);
}

bool VmxVcpu::interrupts_enabled() const {
    // The STI/MOV-SS shadow covers only the instruction after the one that set it: once RIP has
    // moved (the partition completed an exit's instruction), it is over.
    const bool shadow =
        (interruptibility_ & interruptibility::kShadow) != 0 && registers_.rip == exit_rip_;
    return (registers_.rflags & rflags::kIf) != 0 && !shadow;
}

uint64_t VmxVcpu::guest_tsc() const {
    return x86::rdtsc() + tsc_offset_;
}

void VmxVcpu::set_guest_tsc(uint64_t value) {
    tsc_offset_ = value - x86::rdtsc();
}

void VmxVcpu::load_syscall_msrs(uint32_t cpu) {
    CpuState& state = cpu_state(cpu);
    if (state.syscall_msrs_owner == serial_ && !syscall_dirty_)
        return;
    x86::wrmsr(kMsrStar, syscall_.star);
    x86::wrmsr(kMsrLstar, syscall_.lstar);
    x86::wrmsr(kMsrCstar, syscall_.cstar);
    x86::wrmsr(kMsrSfmask, syscall_.sfmask);
    x86::wrmsr(x86::msr::kKernelGsBase, syscall_.kernel_gs_base);
    state.syscall_msrs_owner = serial_;
    syscall_dirty_ = false;
}

ErrorOr<vmm::VcpuExit> VmxVcpu::run() {
    const uint32_t cpu = x86::this_cpu().index;
    release_deferred(cpu);
    if (active_cpu_ != ~0u && active_cpu_ != cpu)
        return Error(ErrorCode::not_supported,
                     "VT-x: a vCPU cannot move to another physical CPU (its VMCS is active on the "
                     "CPU that ran it first)");
    TRY(make_current(cpu));
    if (active_cpu_ != cpu) {
        if (!write_host_state())
            return Error(ErrorCode::corrupt, "VT-x: writing the VMCS host-state fields failed");
        active_cpu_ = cpu;
        // Translations an earlier user of this VPID or EPT root left on this CPU.
        flush_ept_ = true;
        flush_vpid_ = true;
    }
    if (!controls_written_) {
        TRY(write_controls());
        controls_written_ = true;
        system_dirty_ = true;
    }
    if (system_dirty_) {
        write_system_state();
        system_dirty_ = false;
        system_stale_ = false;
    }
    prepare_entry_fields();
    if (flush_ept_) {
        (void)invept(config_->invept_single_context ? kInveptSingleContext : kInveptAllContexts,
                     ept_pointer_);
        flush_ept_ = false;
        flush_vpid_ = false; // INVEPT drops the combined mappings of every VPID
    }
    if (flush_vpid_) {
        if (config_->vpid)
            (void)invvpid(config_->invvpid_single_context ? kInvvpidSingleContext
                                                          : kInvvpidAllContexts,
                          vpid_);
        flush_vpid_ = false;
    }
    load_syscall_msrs(cpu);
    CpuState& state = cpu_state(cpu);
    if (state.dr6 != dr6_) {
        write_dr6(dr6_);
        state.dr6 = dr6_;
    }
    // XCR0 is not part of the VMCS: the guest's goes in just before the entry and the host's
    // back right after the exit (as on SVM); the core code in between uses no extended state.
    const uint64_t host_xcr0 = x86::host_xcr0();
    if (host_xcr0 != 0 && xcr0_ != host_xcr0)
        x86::xsetbv(0, xcr0_);
    const uint64_t status = vmx_run_guest(&registers_, &cr2_, launched_ ? 1 : 0);
    if (host_xcr0 != 0)
        take_back_xcr0(host_xcr0);
    dr6_ = read_dr6();
    state.dr6 = dr6_;
    syscall_.kernel_gs_base = x86::rdmsr(x86::msr::kKernelGsBase);
    if (status != 0) {
        const uint32_t error =
            status == 2 ? static_cast<uint32_t>(vmread(field::kInstructionError)) : 0;
        return entry_failed_exit(error);
    }
    launched_ = true;
    return after_exit();
}

void VmxVcpu::take_back_xcr0(uint64_t host_xcr0) {
    // XSETBV always exits under VT-x, so the guest cannot have changed XCR0 behind our back;
    // read it back anyway, like the SVM backend, so both keep the same invariant.
    const uint64_t live = x86::xgetbv(0);
    if (live != host_xcr0)
        x86::xsetbv(0, host_xcr0);
    const uint64_t switched = vmm::guest_xcr0_components();
    xcr0_ = (live & ~switched) == 0 ? live : live & switched;
}

} // namespace halcyon::vmx::hw
