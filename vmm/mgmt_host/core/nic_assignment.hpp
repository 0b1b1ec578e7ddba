// The management NIC the core hands to the management partition: chosen with the rule of the
// in-core network (halcyon.cfg's `nic`: auto = virtio-net, else e1000e, else e1000, or a PCI
// address), its memory BARs read once (the partition may not move them), and the real
// configuration space at the width the partition uses (PciPortFilter's RawConfigAccess).
#pragma once

#include "boot/config/config.hpp"
#include "lib/base/error_or.hpp"
#include "vmm/mgmt_host/pci_filter.hpp"

#include <stdint.h>

namespace halcyon::mgmt_host {

struct DeviceRange {
    uint64_t base = 0; // 4 KiB aligned
    uint64_t size = 0; // 4 KiB multiple
};

struct AssignedNic {
    PciFunctionAddress address;
    const char* model = "";
    DeviceRange bars[6];
    uint32_t bar_count = 0;
};

[[nodiscard]] ErrorOr<AssignedNic> choose_nic(const config::ManagementNetwork& management);

// Configuration mechanism #1 through the ports, at the access's own width.
class PortConfigAccess final : public RawConfigAccess {
public:
    [[nodiscard]] uint32_t read(PciFunctionAddress function, uint8_t offset, uint8_t size) override;
    void write(PciFunctionAddress function, uint8_t offset, uint8_t size, uint32_t value) override;
};

// Stops the NIC's DMA (bus mastering and memory decoding off) before the partition's memory is
// cleared for a restart: the rebuilt partition starts its driver from scratch.
void quiesce_nic(RawConfigAccess& config, PciFunctionAddress nic);

} // namespace halcyon::mgmt_host
