#include "mgmt/partition/core_link.hpp"

#include "mgmt/wire/message.hpp"
#include "mgmt/wire/remote_hosts.hpp"

#include <new>

namespace halcyon::mgmt::partition {
namespace {

class HypercallTransport final : public wire::ManagementTransport {
public:
    explicit HypercallTransport(ManagementHypercall& hypercall) : hypercall_(hypercall) {}
    ErrorOr<size_t> call(std::span<const uint8_t> request, std::span<uint8_t> response) override {
        return hypercall_.call(request, response);
    }

private:
    ManagementHypercall& hypercall_;
};

// Built in place once, no heap.
struct Link {
    explicit Link(std::span<uint8_t> request, std::span<uint8_t> response)
        : transport(hypercall), channel(transport, request, response), vm_host(channel),
          vhd_host(channel) {}
    ManagementHypercall hypercall;
    HypercallTransport transport;
    wire::ManagementChannel channel;
    wire::RemoteVmHost vm_host;
    wire::RemoteVhdHost vhd_host;
};

alignas(Link) uint8_t g_link_storage[sizeof(Link)];
bool g_connected = false;

} // namespace

ErrorOr<CoreLink> connect_to_core(PartitionMemory& memory, const AddressTranslator& address) {
    if (g_connected)
        return Error(ErrorCode::already_exists, "already connected to the core");
    if (!hypercall_interface_present())
        return Error(ErrorCode::not_supported, "no Hyper-V hypercall MSRs (CPUID 0x40000003)");
    // The buffers the core reads and writes: identity RAM, so their pointers are their GPAs.
    const drivers::DmaRegion request = TRY(memory.allocate_dma(wire::kManagementMessageMax));
    const drivers::DmaRegion response = TRY(memory.allocate_dma(wire::kManagementMessageMax));
    Link* link = new (g_link_storage) Link(std::span<uint8_t>(request.virt, request.size),
                                           std::span<uint8_t>(response.virt, response.size));
    TRY(link->hypercall.enable(memory, address));
    g_connected = true;
    return CoreLink{&link->vm_host, &link->vhd_host};
}

} // namespace halcyon::mgmt::partition
