// The management partition's side of HvCallHalcyonManagement (call code 0x7F00,
// docs/management-partition.md): the Hyper-V hypercall page enabled through the guest OS id and
// hypercall MSRs, and the memory-form call with its 32-byte input block, which carries one
// request of the management wire format (mgmt/wire) to the core's VM manager and brings its
// response back. The call is synchronous: the vCPU waits while the core works (Start-VM ~1 s).
#pragma once

#include "lib/base/error_or.hpp"
#include "mgmt/partition/partition_memory.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::mgmt::partition {

inline constexpr uint16_t kHvCallHalcyonManagement = 0x7F00;

// Guest physical address of memory the partition can name to the core: its identity RAM, or its
// image (linked at kImageLinkBase, loaded at region base + 2 MiB).
class AddressTranslator {
public:
    AddressTranslator(uint64_t region_base, uint64_t region_size)
        : region_base_(region_base), region_size_(region_size) {}
    // The GPA of [pointer, pointer + size), or an error when it is not all in the region.
    [[nodiscard]] ErrorOr<uint64_t> physical(const void* pointer, size_t size) const;

private:
    uint64_t region_base_;
    uint64_t region_size_;
};

// CPUID says the Hyper-V hypercall MSRs exist (leaf 0x40000003 EAX bit 5).
[[nodiscard]] bool hypercall_interface_present();

class ManagementHypercall {
public:
    // Enables the hypercall page (one page of `memory`) and allocates the input/output blocks.
    [[nodiscard]] ErrorOr<void> enable(PartitionMemory& memory, const AddressTranslator& address);

    // One call: `request` in, the response written into `response`; its length. Both spans
    // must lie in the partition's RAM (identity or image). A hypercall status other than
    // success is ErrorCode::io naming the status.
    [[nodiscard]] ErrorOr<size_t> call(std::span<const uint8_t> request,
                                       std::span<uint8_t> response);

private:
    const AddressTranslator* address_ = nullptr;
    uint64_t page_ = 0;       // the hypercall page (identity: GPA == pointer)
    uint64_t input_gpa_ = 0;  // 32-byte input block
    uint64_t output_gpa_ = 0; // 8-byte output block
};

} // namespace halcyon::mgmt::partition
