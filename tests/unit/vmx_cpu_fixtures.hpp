// VMX capability MSR values of real CPUs, for the control-computation tests.
//
// Sources: VirtualBox's CPU database (src/VBox/VMM/VMMR3/cpus/*.h in the VirtualBox source tree),
// whose entries are register dumps taken on the named processors by VBoxCpuReport; the values
// below are the MSR 0x480-0x490 entries of those files, copied as numbers (the conditional MSRs
// are 0 where the dump has none, i.e. where the CPU would #GP). The Bochs entry is what Bochs
// 2.7's corei7_haswell_4770 model returns, read by the core's VMX bring-up under Bochs.
#pragma once

#include "vmm/vmx/capabilities.hpp"

namespace halcyon::vmx::fixtures {

struct CpuFixture {
    const char* name;
    VmxMsrValues msrs;
};

// Intel Core Duo T2600, Yonah (2006): VMX without secondary controls, no TRUE_* MSRs.
// VirtualBox Intel_Core_Duo_T2600_2_16GHz.h.
inline constexpr CpuFixture kCoreDuoT2600{
    "Core Duo T2600 (Yonah)",
    VmxMsrValues{
        .basic = 0x001b'0400'0000'0005,
        .pin_based = 0x0000'001f'0000'0016,
        .processor = 0x7781'fffe'0401'e172,
        .exit = 0x0003'edff'0003'6dff,
        .entry = 0x0000'1dff'0000'11ff,
        .misc = 0x403c0,
        .cr0_fixed0 = 0x8000'0021,
        .cr0_fixed1 = 0xffff'ffff,
        .cr4_fixed0 = 0x2000,
        .cr4_fixed1 = 0x27ff,
    },
};

// Intel Xeon X5482, Penryn (2008): secondary controls (APIC-access virtualization, WBINVD
// exiting) but no EPT, no VPID, no TRUE_* MSRs. VirtualBox Intel_Xeon_X5482_3_20GHz.h.
inline constexpr CpuFixture kXeonX5482{
    "Xeon X5482 (Penryn)",
    VmxMsrValues{
        .basic = 0x005a'0800'0000'000d,
        .pin_based = 0x0000'003f'0000'0016,
        .processor = 0xf7f9'fffe'0401'e172,
        .exit = 0x0003'ffff'0003'6dff,
        .entry = 0x0000'3fff'0000'11ff,
        .misc = 0x403c0,
        .cr0_fixed0 = 0x8000'0021,
        .cr0_fixed1 = 0xffff'ffff,
        .cr4_fixed0 = 0x2000,
        .cr4_fixed1 = 0x27ff,
        .processor2 = 0x0000'0041'0000'0000,
    },
};

// Intel Core i7-2635QM, Sandy Bridge (2011): EPT (2 MiB pages, no 1 GiB, no accessed/dirty
// flags), VPID, unrestricted guest, TRUE_* MSRs. VirtualBox Intel_Core_i7_2635QM.h.
inline constexpr CpuFixture kCoreI7_2635QM{
    "Core i7-2635QM (Sandy Bridge)",
    VmxMsrValues{
        .basic = 0x00da'0400'0000'0010,
        .pin_based = 0x0000'007f'0000'0016,
        .processor = 0xfff9'fffe'0401'e172,
        .exit = 0x007f'ffff'0003'6dff,
        .entry = 0x0000'ffff'0000'11ff,
        .misc = 0x1004'01e5,
        .cr0_fixed0 = 0x8000'0021,
        .cr0_fixed1 = 0xffff'ffff,
        .cr4_fixed0 = 0x2000,
        .cr4_fixed1 = 0x627ff,
        .processor2 = 0x0000'00ff'0000'0000,
        .ept_vpid_capability = 0x0000'0f01'0611'4141,
        .true_pin_based = 0x0000'007f'0000'0016,
        .true_processor = 0xfff9'fffe'0400'6172,
        .true_exit = 0x007f'ffff'0003'6dfb,
        .true_entry = 0x0000'ffff'0000'11fb,
    },
};

// Intel Pentium N3530, Silvermont (2014, an Atom core): EPT without 1 GiB pages or A/D flags.
// VirtualBox Intel_Pentium_N3530_2_16GHz.h.
inline constexpr CpuFixture kPentiumN3530{
    "Pentium N3530 (Silvermont)",
    VmxMsrValues{
        .basic = 0x00da'0400'0000'0002,
        .pin_based = 0x0000'007f'0000'0016,
        .processor = 0xfff9'fffe'0401'e172,
        .exit = 0x007f'ffff'0003'6dff,
        .entry = 0x0000'ffff'0000'11ff,
        .misc = 0x481e6,
        .cr0_fixed0 = 0x8000'0021,
        .cr0_fixed1 = 0xffff'ffff,
        .cr4_fixed0 = 0x2000,
        .cr4_fixed1 = 0x1027ff,
        .processor2 = 0x0000'28ef'0000'0000,
        .ept_vpid_capability = 0x0000'0f01'0611'4141,
        .true_pin_based = 0x0000'007f'0000'0016,
        .true_processor = 0xfff9'fffe'0400'6172,
        .true_exit = 0x007f'ffff'0003'6dfb,
        .true_entry = 0x0000'ffff'0000'11fb,
    },
};

// Intel Core i7-5600U, Broadwell (2015): EPT with 1 GiB pages and accessed/dirty flags.
// VirtualBox Intel_Core_i7_5600U.h.
inline constexpr CpuFixture kCoreI7_5600U{
    "Core i7-5600U (Broadwell)",
    VmxMsrValues{
        .basic = 0x00da'0400'0000'0012,
        .pin_based = 0x0000'007f'0000'0016,
        .processor = 0xfff9'fffe'0401'e172,
        .exit = 0x007f'ffff'0003'6dff,
        .entry = 0x0000'ffff'0000'11ff,
        .misc = 0x3004'81e5,
        .cr0_fixed0 = 0x8000'0021,
        .cr0_fixed1 = 0xffff'ffff,
        .cr4_fixed0 = 0x2000,
        .cr4_fixed1 = 0x3767ff,
        .processor2 = 0x0005'7cff'0000'0000,
        .ept_vpid_capability = 0x0000'0f01'0633'4141,
        .true_pin_based = 0x0000'007f'0000'0016,
        .true_processor = 0xfff9'fffe'0400'6172,
        .true_exit = 0x007f'ffff'0003'6dfb,
        .true_entry = 0x0000'ffff'0000'11fb,
    },
};

// Bochs 2.7 (Debian 2.7+dfsg-4), cpu model corei7_haswell_4770: VMX with EPT (1 GiB pages, A/D
// flags), VPID, unrestricted guest, VMCS revision 0x2b and 4 KiB regions. Read by Halcyon's
// VMX bring-up under Bochs (the two "virt: VMX capability MSRs" log lines).
inline constexpr CpuFixture kBochsHaswell{
    "Bochs corei7_haswell_4770",
    VmxMsrValues{
        .basic = 0x00d8'1000'0000'002b,
        .pin_based = 0x0000'007f'0000'0016,
        .processor = 0xf7f9'fffe'0401'e172,
        .exit = 0x007f'ffff'0003'6dff,
        .entry = 0x0000'ffff'0000'11ff,
        .misc = 0x2004'01e0,
        .cr0_fixed0 = 0x8000'0021,
        .cr0_fixed1 = 0xffff'ffff,
        .cr4_fixed0 = 0x2000,
        .cr4_fixed1 = 0x1727ff,
        .processor2 = 0x0004'7fff'0000'0000,
        .ept_vpid_capability = 0x0000'0f01'0633'4141,
        .true_pin_based = 0x0000'007f'0000'0016,
        .true_processor = 0xf7f9'fffe'0400'6172,
        .true_exit = 0x007f'ffff'0003'6dfb,
        .true_entry = 0x0000'ffff'0000'11fb,
    },
};

} // namespace halcyon::vmx::fixtures
