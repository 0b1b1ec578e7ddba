#include "vmm/partition/msr_policy.hpp"

namespace halcyon::vmm {
namespace {

constexpr uint32_t kMsrTsc = 0x10;
constexpr uint32_t kMsrMtrrCap = 0xFE;
// IA32_MISC_ENABLE: Linux's verify_cpu reads it on Intel CPUs before it has an IDT (to clear
// XD_DISABLE), so a #GP there is a triple fault. Reads give what KVM reports (BTS and PEBS
// unavailable: no branch trace store, no PEBS); writes are accepted and have no effect.
constexpr uint32_t kMsrMiscEnable = 0x1A0;
constexpr uint64_t kMiscEnableValue = (1ull << 11) | (1ull << 12);
// IA32_BIOS_SIGN_ID: Linux writes 0 and reads back the microcode revision on Intel CPUs; there is
// no microcode to report (reads 0, writes have no effect, as on KVM).
constexpr uint32_t kMsrBiosSignId = 0x8B;
constexpr uint32_t kMsrPat = 0x277;

constexpr uint32_t kMsrEfer = 0xC000'0080;
// AMD NB_CFG: Linux sets "enable extended PCI config space through CF8" on AMD CPUs. The guest has
// no northbridge; like KVM, reads give 0 and writes are accepted and have no effect.
constexpr uint32_t kMsrAmdNbConfig = 0xC001'001F;

constexpr uint64_t kEferSce = 1ull << 0;
constexpr uint64_t kEferLme = 1ull << 8;
constexpr uint64_t kEferLma = 1ull << 10;
constexpr uint64_t kEferNxe = 1ull << 11;
constexpr uint64_t kEferWritable = kEferSce | kEferLme | kEferNxe;

// PAT entries may hold UC, WC, WT, WP, WB, UC- (0, 1, 4, 5, 6, 7); 2, 3 and >7 are reserved.
bool valid_pat(uint64_t value) {
    for (int i = 0; i < 8; ++i) {
        const uint64_t type = (value >> (i * 8)) & 0xFF;
        if (type == 2 || type == 3 || type > 7)
            return false;
    }
    return true;
}

} // namespace

MsrOutcome read_msr(CpuBackend& cpu, uint32_t /*vcpu_index*/, uint32_t msr, uint64_t& value) {
    switch (msr) {
    case kMsrTsc:
        value = cpu.guest_tsc();
        return MsrOutcome::done;
    case kMsrMtrrCap:
    case kMsrAmdNbConfig:
        value = 0;
        return MsrOutcome::done;
    case kMsrMiscEnable:
        value = kMiscEnableValue;
        return MsrOutcome::done;
    case kMsrBiosSignId:
        value = 0;
        return MsrOutcome::done;
    case kMsrPat:
        value = cpu.system_registers().pat;
        return MsrOutcome::done;
    case kMsrEfer:
        value = cpu.system_registers().efer;
        return MsrOutcome::done;
    default:
        return MsrOutcome::general_protection;
    }
}

MsrOutcome write_msr(CpuBackend& cpu, uint32_t /*vcpu_index*/, uint32_t msr, uint64_t value) {
    switch (msr) {
    case kMsrTsc:
        cpu.set_guest_tsc(value);
        return MsrOutcome::done;
    case kMsrAmdNbConfig:
    case kMsrMiscEnable:
    case kMsrBiosSignId:
        return MsrOutcome::done;
    case kMsrPat: {
        if (!valid_pat(value))
            return MsrOutcome::general_protection;
        SystemRegisters registers = cpu.system_registers();
        registers.pat = value;
        cpu.set_system_registers(registers);
        return MsrOutcome::done;
    }
    case kMsrEfer: {
        SystemRegisters registers = cpu.system_registers();
        if ((value & ~(kEferWritable | kEferLma)) != 0)
            return MsrOutcome::general_protection;
        // LME may not change while paging is on (the CPU's rule); LMA is the CPU's to set.
        const bool paging = (registers.cr0 & (1ull << 31)) != 0;
        if (paging && ((value ^ registers.efer) & kEferLme) != 0)
            return MsrOutcome::general_protection;
        registers.efer = (value & kEferWritable) | (registers.efer & kEferLma);
        cpu.set_system_registers(registers);
        return MsrOutcome::done;
    }
    default:
        return MsrOutcome::general_protection;
    }
}

} // namespace halcyon::vmm
