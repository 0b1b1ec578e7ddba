// The partition's link to the core's VM manager: ManagementTransport (mgmt/wire) over the
// HvCallHalcyonManagement hypercall, the channel with its two 128 KiB message buffers in the
// partition's identity RAM, and the RemoteVmHost/RemoteVhdHost the API server is given.
#pragma once

#include "lib/base/error_or.hpp"
#include "mgmt/api/vhd_host.hpp"
#include "mgmt/api/vm_host.hpp"
#include "mgmt/partition/hypercall.hpp"
#include "mgmt/partition/partition_memory.hpp"

namespace halcyon::mgmt::partition {

struct CoreLink {
    VmHost* vm_host = nullptr;
    VhdHost* vhd_host = nullptr;
};

// Enables the hypercall and builds the remote hosts (once; they live forever).
[[nodiscard]] ErrorOr<CoreLink> connect_to_core(PartitionMemory& memory,
                                                const AddressTranslator& address);

} // namespace halcyon::mgmt::partition
