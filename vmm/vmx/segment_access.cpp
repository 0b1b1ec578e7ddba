#include "vmm/vmx/segment_access.hpp"

namespace halcyon::vmx {
namespace {

constexpr uint16_t kAttributePresent = 1u << 7;
constexpr uint32_t kLowLimitBits = 0xFFF;
constexpr uint32_t kLargestByteLimit = 0xF'FFFF;

} // namespace

uint32_t access_rights_from_attributes(uint16_t attributes, uint32_t limit) {
    uint32_t rights = (attributes & 0xFFu) | ((attributes & 0xF00u) << 4);
    if ((attributes & kAttributePresent) == 0)
        return rights | access_rights::kUnusable;
    if ((rights & access_rights::kCodeOrData) != 0)
        rights |= access_rights::kAccessed;
    if ((limit & kLowLimitBits) != kLowLimitBits)
        rights &= ~access_rights::kGranularity;
    else if (limit > kLargestByteLimit)
        rights |= access_rights::kGranularity;
    return rights;
}

uint16_t attributes_from_access_rights(uint32_t rights) {
    auto attributes = static_cast<uint16_t>((rights & 0xFFu) | ((rights >> 4) & 0xF00u));
    if ((rights & access_rights::kUnusable) != 0)
        attributes = static_cast<uint16_t>(attributes & ~kAttributePresent);
    return attributes;
}

VmxSegment to_vmx_segment(const vmm::Segment& segment) {
    return VmxSegment{
        .selector = segment.selector,
        .limit = segment.limit,
        .access_rights = access_rights_from_attributes(segment.attributes, segment.limit),
        .base = segment.base,
    };
}

vmm::Segment from_vmx_segment(const VmxSegment& segment) {
    return vmm::Segment{
        .selector = segment.selector,
        .attributes = attributes_from_access_rights(segment.access_rights),
        .limit = segment.limit,
        .base = segment.base,
    };
}

} // namespace halcyon::vmx
