// The management network started by the core itself (`[management] partition = no`): the
// platform is the core's frame allocator (DMA), its page tables (MMIO), a TSC busy wait, and
// the loader's memory map for the host's RAM.
#include "mgmt/net/core_platform.hpp"
#include "mgmt/net/host_only_vm_host.hpp"
#include "mgmt/net/service.hpp"
#include "mm/physical_window.hpp"

#include <new>

namespace halcyon::mgmt::net {
namespace {

class FrameFreeMemory final : public FreeMemorySource {
public:
    explicit FrameFreeMemory(mm::FrameAllocator& frames) : frames_(frames) {}
    uint64_t free_bytes() override { return uint64_t(frames_.free_pages()) * mm::kPageSize; }

private:
    mm::FrameAllocator& frames_;
};

// The platform objects live as long as the service (forever), without a heap.
alignas(CoreDeviceMemory) uint8_t g_device_memory_storage[sizeof(CoreDeviceMemory)];
alignas(FrameFreeMemory) uint8_t g_free_memory_storage[sizeof(FrameFreeMemory)];
alignas(TscDelay) uint8_t g_delay_storage[sizeof(TscDelay)];

} // namespace

uint64_t usable_memory_bytes(const handoff::Handoff& handoff) {
    const auto* regions =
        mm::PhysicalWindow::direct_map().to_virtual<handoff::MemoryRegion>(handoff.memory_map);
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < handoff.memory_region_count; ++i) {
        if (regions[i].type == handoff::MemoryType::usable)
            bytes += regions[i].page_count * mm::kPageSize;
    }
    return bytes;
}

ErrorOr<Service*> start(const config::BootConfig& config, const handoff::Handoff& handoff,
                        mm::FrameAllocator& frames, const StartOptions& options) {
    if (active() != nullptr)
        return Error(ErrorCode::already_exists, "management network already started");
    auto* memory = new (g_device_memory_storage) CoreDeviceMemory(frames);
    auto* free_memory = new (g_free_memory_storage) FrameFreeMemory(frames);
    auto* delay = new (g_delay_storage) TscDelay(options.tsc_hz);
    // The host-only VmHost has always reported uptime from TSC 0 (the machine's reset) here.
    const Platform platform{
        *memory, *memory, *delay, *free_memory, usable_memory_bytes(handoff), 0, std::nullopt};
    return start(config.management, platform, options);
}

} // namespace halcyon::mgmt::net
