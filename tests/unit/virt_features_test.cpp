// Decoding of the SVM/VMX CPUID leaves and capability MSRs (vmm/virt/features.hpp), fed with
// register values seen on real and emulated CPUs.
#include "vmm/virt/features.hpp"

#include <gtest/gtest.h>

using namespace halcyon::virt;

namespace {

// CPUID Fn0000_0000 vendor strings (EBX, EDX, ECX spell the vendor; EAX is the max leaf).
constexpr CpuidRegisters kAmdLeaf0{0x10, 0x6874'7541 /* Auth */, 0x444D'4163 /* cAMD */,
                                   0x6974'6E65 /* enti */};
constexpr CpuidRegisters kIntelLeaf0{0x16, 0x756E'6547 /* Genu */, 0x6C65'746E /* ntel */,
                                     0x4965'6E69 /* ineI */};

// QEMU 7.2 TCG, `-cpu EPYC,+svm,+npt`: revision 1, 16 ASIDs, and of the EDX features only
// nested paging (TCG emulates NPT, VGIF and SVME_ADDR_CHK; the EPYC model asks for NPT and
// NRIP save, and TCG cannot do NRIP save). Value read by the core in QEMU.
constexpr CpuidRegisters kQemuTcgEpycSvm{0x1, 0x10, 0x0, 0x0000'0001};
// QEMU TCG with every SVM feature TCG can emulate (e.g. `-cpu max`): NPT, VGIF, SVME_ADDR_CHK.
constexpr CpuidRegisters kQemuTcgMaxSvm{0x1, 0x10, 0x0, 0x1001'0001};
// AMD EPYC 7002 (Zen 2, "Rome"): 32768 ASIDs; NP, LbrVirt, SVML, NRIPS, TscRate, VmcbClean,
// FlushByAsid, DecodeAssists, PauseFilter, PauseFilterThreshold, AVIC, VMSAVEvirt, VGIF, GMET,
// SPEC_CTRL.
constexpr CpuidRegisters kEpycRomeSvm{0x1, 0x8000, 0x0, 0x0013'BCFF};

} // namespace

TEST(VirtFeatures, VendorDetection) {
    EXPECT_TRUE(cpuid_vendor_is_amd(kAmdLeaf0));
    EXPECT_FALSE(cpuid_vendor_is_amd(kIntelLeaf0));
    constexpr CpuidRegisters hygon{0xD, 0x6F67'7948 /* Hygo */, 0x656E'6975 /* uine */,
                                   0x6E65'476E /* nGen */};
    EXPECT_TRUE(cpuid_vendor_is_amd(hygon));
}

TEST(VirtFeatures, SvmAndVmxPresenceBits) {
    // EPYC Fn8000_0001 ECX (with SVM) and the same with bit 2 cleared.
    EXPECT_TRUE(cpuid_has_svm({0, 0, 0x0000'0FF5, 0}));
    EXPECT_FALSE(cpuid_has_svm({0, 0, 0x0000'0FF1, 0}));
    // Xeon Fn0000_0001 ECX with and without VMX (bit 5).
    EXPECT_TRUE(cpuid_has_vmx({0, 0, 0x7FFA'FBFF, 0}));
    EXPECT_FALSE(cpuid_has_vmx({0, 0, 0x7FFA'FBDF, 0}));
}

TEST(VirtFeatures, QemuTcgEpycAdvertisesOnlyNestedPaging) {
    const SvmCpuidFeatures svm = decode_svm_cpuid(kQemuTcgEpycSvm);
    EXPECT_EQ(svm.revision, 1);
    EXPECT_EQ(svm.asids, 16u);
    EXPECT_TRUE(svm.nested_paging);
    EXPECT_FALSE(svm.nrip_save);
    EXPECT_FALSE(svm.decode_assists);
    EXPECT_FALSE(svm.vmcb_clean_bits);
    EXPECT_FALSE(svm.flush_by_asid);
    EXPECT_FALSE(svm.vgif);

    const VirtFeatures features = decode_svm(kQemuTcgEpycSvm, /*vm_cr=*/0);
    EXPECT_EQ(features.kind, Kind::svm);
    EXPECT_FALSE(features.disabled_by_firmware);
    EXPECT_TRUE(features.npt_or_ept);
    EXPECT_FALSE(features.nrip_save);
    EXPECT_EQ(features.asids, 16u);
}

TEST(VirtFeatures, QemuTcgMaxAddsVgifAndVmcbAddressCheck) {
    const SvmCpuidFeatures svm = decode_svm_cpuid(kQemuTcgMaxSvm);
    EXPECT_TRUE(svm.nested_paging);
    EXPECT_TRUE(svm.vgif);
    EXPECT_TRUE(svm.vmcb_address_check);
    EXPECT_FALSE(svm.nrip_save);
    EXPECT_FALSE(svm.avic);
}

TEST(VirtFeatures, EpycRomeHasTheFullSet) {
    const SvmCpuidFeatures svm = decode_svm_cpuid(kEpycRomeSvm);
    EXPECT_EQ(svm.asids, 32768u);
    EXPECT_TRUE(svm.nested_paging);
    EXPECT_TRUE(svm.lbr_virtualization);
    EXPECT_TRUE(svm.svm_lock);
    EXPECT_TRUE(svm.nrip_save);
    EXPECT_TRUE(svm.tsc_rate_msr);
    EXPECT_TRUE(svm.vmcb_clean_bits);
    EXPECT_TRUE(svm.flush_by_asid);
    EXPECT_TRUE(svm.decode_assists);
    EXPECT_TRUE(svm.pause_filter);
    EXPECT_TRUE(svm.pause_filter_threshold);
    EXPECT_TRUE(svm.avic);
    EXPECT_TRUE(svm.vmsave_virtualization);
    EXPECT_TRUE(svm.vgif);
    EXPECT_TRUE(svm.gmet);
    EXPECT_FALSE(svm.x2avic);
    EXPECT_TRUE(svm.spec_ctrl);
    EXPECT_FALSE(svm.vmcb_address_check);

    const VirtFeatures features = decode_svm(kEpycRomeSvm, /*vm_cr=*/0);
    EXPECT_EQ(features.kind, Kind::svm);
    EXPECT_TRUE(features.npt_or_ept);
    EXPECT_TRUE(features.nrip_save);
    EXPECT_TRUE(features.decode_assists);
    EXPECT_TRUE(features.vmcb_clean);
    EXPECT_TRUE(features.flush_by_asid);
    EXPECT_TRUE(features.avic);
    EXPECT_EQ(features.asids, 32768u);
}

TEST(VirtFeatures, SvmDisabledByFirmware) {
    // VM_CR with LOCK and SVMDIS set, as a BIOS with "SVM Mode: Disabled" leaves it.
    const VirtFeatures features = decode_svm(kEpycRomeSvm, kVmCrLock | kVmCrSvmDisabled);
    EXPECT_EQ(features.kind, Kind::none);
    EXPECT_TRUE(features.disabled_by_firmware);
    EXPECT_FALSE(features.npt_or_ept);
    // LOCK alone (SVM allowed, setting locked) keeps SVM usable.
    EXPECT_EQ(decode_svm(kEpycRomeSvm, kVmCrLock).kind, Kind::svm);
}

namespace {

// Allowed-1 bits live in the high half of a VMX capability MSR.
constexpr uint64_t allowed1(uint32_t bits) {
    return static_cast<uint64_t>(bits) << 32;
}

constexpr uint64_t kPrimaryWithSecondary = allowed1(0xFFF9'FFFE) | 0x0401'E172;
constexpr uint64_t kPrimaryWithoutSecondary = allowed1(0x7FF9'FFFE) | 0x0401'E172;
// Secondary controls: EPT (1), VPID (5), unrestricted guest (7) plus others.
constexpr uint64_t kSecondaryFull = allowed1(0x00FF'FFFF);
// EPT capability: 4-level walk (6), WB (14), 2 MiB pages (16), INVEPT (20), INVVPID (32).
constexpr uint64_t kEptCapability =
    (1ull << 6) | (1ull << 14) | (1ull << 16) | (1ull << 20) | (1ull << 32);
constexpr uint64_t kBasicRevision4 = 0x00DA'0400'0000'0004;

} // namespace

TEST(VirtFeatures, VmxWithEptVpidAndUnrestrictedGuest) {
    const VirtFeatures features =
        decode_vmx({.feature_control = kFeatureControlLock | kFeatureControlVmxOutsideSmx,
                    .basic = kBasicRevision4,
                    .procbased_controls = kPrimaryWithSecondary,
                    .procbased_controls2 = kSecondaryFull,
                    .ept_vpid_capability = kEptCapability});
    EXPECT_EQ(features.kind, Kind::vmx);
    EXPECT_EQ(features.revision, 4u);
    EXPECT_TRUE(features.feature_control_locked);
    EXPECT_TRUE(features.npt_or_ept);
    EXPECT_TRUE(features.vpid);
    EXPECT_TRUE(features.unrestricted_guest);
    EXPECT_TRUE(features.ept_4level_walk);
    EXPECT_TRUE(features.ept_write_back);
    EXPECT_TRUE(features.ept_2mb_pages);
    EXPECT_EQ(features.asids, 0xFFFFu);
}

TEST(VirtFeatures, VmxWithoutSecondaryControlsHasNoEpt) {
    EXPECT_FALSE(vmx_has_secondary_controls(kPrimaryWithoutSecondary));
    // Even if a caller passed a secondary-controls value, it must be ignored.
    const VirtFeatures features = decode_vmx({.feature_control = 0,
                                              .basic = kBasicRevision4,
                                              .procbased_controls = kPrimaryWithoutSecondary,
                                              .procbased_controls2 = kSecondaryFull,
                                              .ept_vpid_capability = kEptCapability});
    EXPECT_EQ(features.kind, Kind::vmx);
    EXPECT_FALSE(features.feature_control_locked);
    EXPECT_FALSE(features.npt_or_ept);
    EXPECT_FALSE(features.vpid);
    EXPECT_FALSE(features.unrestricted_guest);
}

TEST(VirtFeatures, VmxSecondaryControlsWithoutEpt) {
    // VPID only (bit 5) - an early Nehalem-like part.
    const uint64_t vpid_only = allowed1(1u << 5);
    EXPECT_TRUE(vmx_has_ept_or_vpid(vpid_only));
    EXPECT_FALSE(vmx_has_ept_or_vpid(allowed1(1u << 2)));
    const VirtFeatures features =
        decode_vmx({.feature_control = kFeatureControlLock | kFeatureControlVmxOutsideSmx,
                    .basic = kBasicRevision4,
                    .procbased_controls = kPrimaryWithSecondary,
                    .procbased_controls2 = vpid_only,
                    .ept_vpid_capability = 0});
    EXPECT_FALSE(features.npt_or_ept);
    EXPECT_TRUE(features.vpid);
    EXPECT_FALSE(features.ept_write_back);
}

TEST(VirtFeatures, VmxLockedOffByFirmware) {
    // Locked with only "VMX inside SMX": VMXON outside SMX #GPs until reset.
    const VirtFeatures features =
        decode_vmx({.feature_control = kFeatureControlLock | kFeatureControlVmxInsideSmx,
                    .basic = kBasicRevision4,
                    .procbased_controls = kPrimaryWithSecondary,
                    .procbased_controls2 = kSecondaryFull,
                    .ept_vpid_capability = kEptCapability});
    EXPECT_EQ(features.kind, Kind::none);
    EXPECT_TRUE(features.disabled_by_firmware);
    EXPECT_FALSE(features.npt_or_ept);
}

TEST(VirtFeatures, CapabilityAgreement) {
    const VirtFeatures a = decode_svm(kEpycRomeSvm, 0);
    EXPECT_TRUE(same_capabilities(a, decode_svm(kEpycRomeSvm, 0)));
    EXPECT_FALSE(same_capabilities(a, decode_svm(kQemuTcgEpycSvm, 0)));
    EXPECT_FALSE(same_capabilities(a, decode_svm(kEpycRomeSvm, kVmCrSvmDisabled)));
    EXPECT_FALSE(same_capabilities(a, VirtFeatures{}));
}

TEST(VirtFeatures, KindNames) {
    EXPECT_STREQ(kind_name(Kind::none), "none");
    EXPECT_STREQ(kind_name(Kind::svm), "svm");
    EXPECT_STREQ(kind_name(Kind::vmx), "vmx");
}
