// The loaders' GuestMemoryWriter over a partition's RAM.
#pragma once

#include "vmm/partition/partition.hpp"
#include "vmm/worker/linux/guest_memory.hpp"

namespace halcyon::worker {

class PartitionWriter final : public GuestMemoryWriter {
public:
    explicit PartitionWriter(vmm::Partition& partition) : partition_(partition) {}
    ErrorOr<void> write(uint64_t gpa, std::span<const uint8_t> bytes) override {
        return partition_.write_guest(gpa, bytes.data(), bytes.size());
    }

private:
    vmm::Partition& partition_;
};

} // namespace halcyon::worker
