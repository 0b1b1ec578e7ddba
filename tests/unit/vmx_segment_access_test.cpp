// Segment registers between the SVM-format attributes of vmm::Segment and VMX access rights
// (vmm/vmx/segment_access.hpp).
#include "vmm/vmx/segment_access.hpp"

#include <gtest/gtest.h>

using namespace halcyon;
using namespace halcyon::vmx;

TEST(VmxSegmentAccess, LongModeCodeAndDataKeepTheirBits) {
    // The Linux loader's flat segments: 0xA9B (code, L, G) and 0xC93 (data, D/B, G).
    EXPECT_EQ(access_rights_from_attributes(0xA9B, 0xFFFF'FFFF), 0xA09Bu);
    EXPECT_EQ(access_rights_from_attributes(0xC93, 0xFFFF'FFFF), 0xC093u);
    EXPECT_EQ(attributes_from_access_rights(0xA09B), 0xA9Bu);
    EXPECT_EQ(attributes_from_access_rights(0xC093), 0xC93u);
}

TEST(VmxSegmentAccess, NotPresentBecomesUnusableAndComesBackNotPresent) {
    const uint32_t rights = access_rights_from_attributes(0x0000, 0);
    EXPECT_NE(rights & access_rights::kUnusable, 0u);
    EXPECT_EQ(attributes_from_access_rights(rights) & 0x80, 0u);
    // An unusable segment the CPU saved with other bits still set reads as not present.
    EXPECT_EQ(attributes_from_access_rights(0x1'C093), 0xC13u);
}

TEST(VmxSegmentAccess, UsableCodeAndDataAreMarkedAccessed) {
    EXPECT_EQ(access_rights_from_attributes(0x92, 0xFFFF) & 0xF, 0x3u); // data, not accessed
    EXPECT_EQ(access_rights_from_attributes(0x9A, 0xFFFF) & 0xF, 0xBu); // code, not accessed
    // System segments keep their type: a busy TSS stays 11, an LDT 2.
    EXPECT_EQ(access_rights_from_attributes(0x8B, 0x67), 0x8Bu);
    EXPECT_EQ(access_rights_from_attributes(0x82, 0xFFFF), 0x82u);
}

TEST(VmxSegmentAccess, GranularityFollowsTheLimitWhenTheLimitDecides) {
    // 4 GiB limit without G: only expressible with G = 1.
    EXPECT_NE(access_rights_from_attributes(0x093, 0xFFFF'FFFF) & access_rights::kGranularity, 0u);
    // A 64 KiB real-mode limit with G set: its low 12 bits are ones, but bits 31:20 are clear, so
    // both settings are valid and G stays as given.
    EXPECT_NE(access_rights_from_attributes(0x893, 0xFFFF) & access_rights::kGranularity, 0u);
    // A limit of 0x67 cannot have G = 1.
    EXPECT_EQ(access_rights_from_attributes(0x88B, 0x67) & access_rights::kGranularity, 0u);
}

TEST(VmxSegmentAccess, RealModeStartupStateConverts) {
    // The state a startup IPI leaves (Partition::start_at_vector).
    const VmxSegment cs = to_vmx_segment(vmm::Segment{0x9900, 0x9B, 0xFFFF, 0x99000});
    EXPECT_EQ(cs.access_rights, 0x9Bu);
    EXPECT_EQ(cs.selector, 0x9900);
    EXPECT_EQ(cs.base, 0x99000u);
    const vmm::Segment back = from_vmx_segment(cs);
    EXPECT_EQ(back.attributes, 0x9B);
    EXPECT_EQ(back.limit, 0xFFFFu);
    EXPECT_EQ(cpl_from_ss(0x93), 0);
    EXPECT_EQ(cpl_from_ss(0xF3), 3);
}

TEST(VmxSegmentAccess, ReservedAccessRightBitsStayClear) {
    for (uint32_t attributes = 0; attributes < 0x1000; ++attributes) {
        const uint32_t rights =
            access_rights_from_attributes(static_cast<uint16_t>(attributes), 0xFFFF'FFFF);
        ASSERT_EQ(rights & access_rights::kReserved, 0u) << attributes;
    }
}
