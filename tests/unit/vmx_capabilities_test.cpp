// Control computation from the VMX capability MSRs (vmm/vmx/capabilities.hpp) against the
// published values of real CPUs (tests/unit/vmx_cpu_fixtures.hpp), and the errors that name a
// missing control.
#include "vmm/vmx/capabilities.hpp"
#include "vmm/vmx/control_bits.hpp"
#include "vmx_cpu_fixtures.hpp"

#include <gtest/gtest.h>
#include <initializer_list>
#include <string>

using namespace halcyon;
using namespace halcyon::vmx;

namespace {

// What Halcyon asks for, as the SDM's bit numbers (independent of the constants under test).
constexpr uint32_t bits(std::initializer_list<int> list) {
    uint32_t value = 0;
    for (int bit : list)
        value |= 1u << bit;
    return value;
}

std::string error_of(const VmxMsrValues& msrs) {
    auto result = compute_configuration(msrs);
    return result.is_error() ? result.error().message() : "";
}

void expect_ept_cpu(const fixtures::CpuFixture& cpu) {
    SCOPED_TRACE(cpu.name);
    auto result = compute_configuration(cpu.msrs);
    ASSERT_FALSE(result.is_error()) << result.error().message();
    const VmxConfiguration& c = result.value();
    EXPECT_TRUE(c.true_controls);
    // The TRUE MSRs' allowed-0 bits plus what Halcyon requires and the CPU offers.
    EXPECT_EQ(c.pin_based, 0x16u | bits({0, 3, 5}));
    EXPECT_EQ(c.primary, 0x04006172u | bits({3, 7, 10, 21, 24, 28, 29, 30, 31}));
    EXPECT_EQ(c.primary, 0xF52065FAu);
    EXPECT_EQ(c.secondary, bits({1, 5, 7})); // EPT, VPID, unrestricted guest
    EXPECT_EQ(c.exit, 0x36DFBu | bits({2, 9, 18, 19, 20, 21}));
    EXPECT_EQ(c.entry, 0x11FBu | bits({2, 14, 15}));
    // Controls that must be clearable were not forced on.
    EXPECT_EQ(c.primary & bits({9, 12, 15, 16, 19, 20, 23, 25, 27}), 0u);
    EXPECT_EQ(c.exit & bits({12, 15, 22}), 0u);
    EXPECT_EQ(c.entry & bits({9, 10, 11, 13}), 0u) << "IA-32e mode guest starts clear";
    EXPECT_TRUE(c.virtual_nmis);
    EXPECT_TRUE(c.nmi_window_exiting);
    EXPECT_TRUE(c.vpid);
    EXPECT_TRUE(c.invvpid_single_context);
    EXPECT_TRUE(c.invept_single_context);
    EXPECT_TRUE(c.unrestricted_guest);
    EXPECT_TRUE(c.pause_exiting);
    EXPECT_TRUE(c.exit_stores_lma);
    EXPECT_TRUE(c.ept_2m_pages);
    // CR0: NE stays forced (and host-owned), PE/PG are the guest's with unrestricted guest.
    EXPECT_EQ(c.cr0_host.must_be_one, 0x80000021u);
    EXPECT_EQ(c.cr0_guest.must_be_one, 0x20u);
    EXPECT_EQ(c.cr0_guest_host_mask, 0x20u);
    EXPECT_EQ(c.cr4_guest_host_mask, 0x2000u);
    EXPECT_FALSE(c.regions_below_4g);
    EXPECT_EQ(c.revision, static_cast<uint32_t>(cpu.msrs.basic & 0x7FFFFFFF));
}

} // namespace

TEST(VmxCapabilities, SandyBridgeGetsEveryControlHalcyonNeeds) {
    expect_ept_cpu(fixtures::kCoreI7_2635QM);
    const VmxConfiguration c = compute_configuration(fixtures::kCoreI7_2635QM.msrs).release_value();
    EXPECT_FALSE(c.ept_1g_pages);
    EXPECT_FALSE(c.ept_accessed_dirty);
    EXPECT_EQ(c.cr4_guest.may_be_one, 0x627FFu);
    EXPECT_EQ(c.revision, 0x10u);
    EXPECT_EQ(c.region_size, 1024u);
}

TEST(VmxCapabilities, SilvermontGetsEveryControlHalcyonNeeds) {
    expect_ept_cpu(fixtures::kPentiumN3530);
    const VmxConfiguration c = compute_configuration(fixtures::kPentiumN3530.msrs).release_value();
    EXPECT_FALSE(c.ept_1g_pages);
    EXPECT_FALSE(c.ept_accessed_dirty);
    EXPECT_EQ(c.revision, 2u);
}

TEST(VmxCapabilities, BroadwellHasOneGigabyteEptPagesAndAccessedDirtyFlags) {
    expect_ept_cpu(fixtures::kCoreI7_5600U);
    const VmxConfiguration c = compute_configuration(fixtures::kCoreI7_5600U.msrs).release_value();
    EXPECT_TRUE(c.ept_1g_pages);
    EXPECT_TRUE(c.ept_accessed_dirty);
    EXPECT_EQ(c.revision, 0x12u);
    // EPT pointer: write-back (6), 4-level walk (3 << 3), A/D enabled (bit 6).
    EXPECT_EQ(ept_pointer(0x12345000, c), 0x12345000u | 6 | (3 << 3) | (1 << 6));
    const VmxConfiguration sandy =
        compute_configuration(fixtures::kCoreI7_2635QM.msrs).release_value();
    EXPECT_EQ(ept_pointer(0x12345FFF, sandy), 0x12345000u | 6 | (3 << 3));
}

TEST(VmxCapabilities, BochsHaswellIsTheTestBed) {
    expect_ept_cpu(fixtures::kBochsHaswell);
    const VmxConfiguration c = compute_configuration(fixtures::kBochsHaswell.msrs).release_value();
    EXPECT_EQ(c.revision, 0x2Bu);
    EXPECT_EQ(c.region_size, 4096u) << "Bochs uses whole-page VMCS regions";
    EXPECT_TRUE(c.ept_1g_pages);
    EXPECT_TRUE(c.ept_accessed_dirty);
    // Bochs offers no monitor trap flag (allowed-1 bit 27 clear): Halcyon does not need it.
    EXPECT_EQ(fixtures::kBochsHaswell.msrs.true_processor & (1ull << (32 + 27)), 0u);
}

TEST(VmxCapabilities, CpusWithoutEptAreRefusedNamingTheControl) {
    // Yonah has no secondary controls at all, Penryn has them without EPT: both are missing the
    // same required control, and the message says which and where the CPU reports it.
    EXPECT_EQ(error_of(fixtures::kCoreDuoT2600.msrs),
              "VT-x: the CPU cannot set the required control \"enable EPT\" "
              "(IA32_VMX_PROCBASED_CTLS2 bit 1)");
    EXPECT_EQ(error_of(fixtures::kXeonX5482.msrs),
              "VT-x: the CPU cannot set the required control \"enable EPT\" "
              "(IA32_VMX_PROCBASED_CTLS2 bit 1)");
}

TEST(VmxCapabilities, WithoutTrueMsrsDefaultOneControlsCannotBeCleared) {
    // Sandy Bridge's values with IA32_VMX_BASIC bit 55 cleared: the plain PROCBASED_CTLS force
    // CR3-load/store exiting (default1 bits 15 and 16), which Halcyon needs clear under EPT.
    VmxMsrValues msrs = fixtures::kCoreI7_2635QM.msrs;
    msrs.basic &= ~(1ull << 55);
    EXPECT_EQ(error_of(msrs), "VT-x: the CPU cannot clear the control \"CR3-load exiting\" "
                              "(primary processor-based bit 15)");
}

TEST(VmxCapabilities, EachRequiredControlIsNamedWhenMissing) {
    struct Case {
        uint64_t VmxMsrValues::*msr;
        int bit;
        const char* expected;
    };
    const Case cases[] = {
        {&VmxMsrValues::true_pin_based, 3,
         "VT-x: the CPU cannot set the required control \"NMI exiting\" (pin-based bit 3)"},
        {&VmxMsrValues::true_processor, 21,
         "VT-x: the CPU cannot set the required control \"use TPR shadow\" (primary "
         "processor-based bit 21)"},
        {&VmxMsrValues::true_processor, 2,
         "VT-x: the CPU cannot set the required control \"interrupt-window exiting\" (primary "
         "processor-based bit 2)"},
        {&VmxMsrValues::true_exit, 21,
         "VT-x: the CPU cannot set the required control \"load IA32_EFER\" (VM-exit bit 21)"},
        {&VmxMsrValues::true_entry, 9,
         "VT-x: the CPU cannot set the required control \"IA-32e mode guest\" (VM-entry bit 9)"},
    };
    for (const Case& c : cases) {
        VmxMsrValues msrs = fixtures::kCoreI7_5600U.msrs;
        msrs.*c.msr &= ~(1ull << (32 + c.bit)); // allowed-1 cleared: the CPU cannot set it
        EXPECT_EQ(error_of(msrs), c.expected);
    }
}

TEST(VmxCapabilities, ForcedControlsThatMustToggleAreRefused) {
    VmxMsrValues msrs = fixtures::kCoreI7_5600U.msrs;
    msrs.true_entry |= 1ull << 9; // IA-32e mode guest forced to 1: 32-bit guests impossible
    EXPECT_EQ(error_of(msrs), "VT-x: the CPU cannot clear the control \"IA-32e mode guest\" "
                              "(VM-entry bit 9)");
    msrs = fixtures::kCoreI7_5600U.msrs;
    msrs.true_exit |= 1ull << 15; // acknowledge interrupt on exit forced
    EXPECT_EQ(error_of(msrs), "VT-x: the CPU cannot clear the control \"acknowledge interrupt on "
                              "exit\" (VM-exit bit 15)");
}

TEST(VmxCapabilities, OptionalFeaturesDropOutWhenAbsent) {
    VmxMsrValues msrs = fixtures::kCoreI7_5600U.msrs;
    msrs.processor2 &= ~(1ull << (32 + 7));     // no unrestricted guest
    msrs.true_pin_based &= ~(1ull << (32 + 5)); // no virtual NMIs
    auto result = compute_configuration(msrs);
    ASSERT_FALSE(result.is_error()) << result.error().message();
    const VmxConfiguration& c = result.value();
    EXPECT_FALSE(c.unrestricted_guest);
    EXPECT_EQ(c.secondary & (1u << 7), 0u);
    EXPECT_EQ(c.cr0_guest.must_be_one, 0x80000021u) << "PE and PG stay fixed without it";
    EXPECT_EQ(c.cr0_guest_host_mask, 0x20u) << "only NE is host-owned";
    EXPECT_FALSE(c.virtual_nmis);
    EXPECT_FALSE(c.nmi_window_exiting) << "NMI-window exiting needs virtual NMIs";
}

TEST(VmxCapabilities, VpidNeedsInvvpid) {
    VmxMsrValues msrs = fixtures::kCoreI7_5600U.msrs;
    msrs.ept_vpid_capability &= ~(1ull << 32);
    const VmxConfiguration c = compute_configuration(msrs).release_value();
    EXPECT_FALSE(c.vpid);
    EXPECT_EQ(c.secondary & (1u << 5), 0u) << "VPID is not enabled without a way to flush it";
}

TEST(VmxCapabilities, EptCapabilitiesAreChecked) {
    VmxMsrValues msrs = fixtures::kCoreI7_5600U.msrs;
    msrs.ept_vpid_capability &= ~(1ull << 14);
    EXPECT_EQ(error_of(msrs), "VT-x: EPT paging structures cannot be write-back "
                              "(IA32_VMX_EPT_VPID_CAP bit 14)");
    msrs = fixtures::kCoreI7_5600U.msrs;
    msrs.ept_vpid_capability &= ~(1ull << 6);
    EXPECT_EQ(error_of(msrs), "VT-x: EPT cannot walk 4-level tables (IA32_VMX_EPT_VPID_CAP bit 6)");
    msrs = fixtures::kCoreI7_5600U.msrs;
    msrs.ept_vpid_capability &= ~((1ull << 25) | (1ull << 26));
    EXPECT_EQ(error_of(msrs),
              "VT-x: the CPU has no INVEPT (IA32_VMX_EPT_VPID_CAP bits 20, 25, 26)");
}

TEST(VmxCapabilities, InconsistentCapabilityMsrIsCorrupt) {
    VmxMsrValues msrs = fixtures::kCoreI7_5600U.msrs;
    msrs.true_pin_based = 0x0000'0016'0000'0017; // bit 0 forced to 1 but not allowed to be 1
    auto result = compute_configuration(msrs);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::corrupt);
}

TEST(VmxCapabilities, ResolveControlHonoursEachKindOfNeed) {
    constexpr NamedControl kNames[] = {
        {1u << 0, "a", "set a", "clear a"},
        {1u << 1, "b", "set b", "clear b"},
        {1u << 2, "c", "set c", "clear c"},
        {1u << 3, "d", "set d", "clear d"},
    };
    // Allowed-0: bit 4 forced; allowed-1: bits 0, 2, 3, 4.
    const uint64_t capability = (0x1Dull << 32) | 0x10;
    ControlRequest request{.required = 1u << 0, .desired = 1u << 1, .toggled_desired = 1u << 2};
    auto resolved = resolve_control(capability, request, kNames).release_value();
    EXPECT_EQ(resolved.value, 0x11u) << "forced bit 4, required bit 0, desired bit 1 unavailable";
    EXPECT_EQ(resolved.toggles, 0x4u);
    request.required = 1u << 1;
    EXPECT_STREQ(resolve_control(capability, request, kNames).error().message(), "set b");
    request = ControlRequest{.must_be_clear = 1u << 3};
    EXPECT_FALSE(resolve_control(capability, request, kNames).is_error());
    const uint64_t forcing = (0x1Dull << 32) | 0x18;
    EXPECT_STREQ(resolve_control(forcing, request, kNames).error().message(), "clear d");
}

TEST(VmxCapabilities, FixedBitsApplyAndReportTheFirstViolation) {
    const FixedBits bits_{.must_be_one = 0x21, .may_be_one = 0xFFFF'FFFF};
    EXPECT_EQ(bits_.apply(0x8000'0011), 0x8000'0031u);
    EXPECT_FALSE(bits_.allows(0x11));
    EXPECT_EQ(bits_.first_violation(0x11), 5);
    EXPECT_EQ(bits_.first_violation(0x1'0000'0021ull), 32);
    EXPECT_EQ(bits_.first_violation(0x8000'0021), -1);
}

TEST(VmxCapabilities, ConditionalMsrsAreReadOnlyWhenTheyExist) {
    EXPECT_FALSE(has_true_controls(fixtures::kXeonX5482.msrs.basic));
    EXPECT_TRUE(has_true_controls(fixtures::kCoreI7_2635QM.msrs.basic));
    EXPECT_FALSE(has_secondary_controls(fixtures::kCoreDuoT2600.msrs.processor));
    EXPECT_TRUE(has_secondary_controls(fixtures::kXeonX5482.msrs.processor));
    EXPECT_FALSE(has_ept_vpid_capability(fixtures::kXeonX5482.msrs.processor2));
    EXPECT_TRUE(has_ept_vpid_capability(fixtures::kPentiumN3530.msrs.processor2));
}
