// The hardware-facing part of the NVMe driver: BAR0 found, checked and mapped, message
// interrupts off, DMA on. Everything else is in nvme.cpp, written against RegisterWindow.
#include "drivers/block/nvme.hpp"
#include "drivers/pci/msi.hpp"

namespace halcyon::drivers::block {
namespace {

// Registers up to the doorbells of queues 0 and 1 at the largest stride we accept.
constexpr uint64_t kMaxWindowBytes = 64 * 1024;

} // namespace

ErrorOr<void> Nvme::start_pci(pci::ConfigSpace& config, const pci::Function& function,
                              MmioMapper& mmio, DmaAllocator& dma, Delay& delay,
                              const NvmeOptions& options) {
    if (!is_nvme(function))
        return Error(ErrorCode::not_supported, "not an NVMe controller (class 01/08/02)");
    // BAR0 (with BAR1 as its upper half) holds the controller registers and doorbells.
    const pci::Bar bar = TRY(pci::read_bar(config, function.address, 0));
    if (bar.size == 0 || bar.io)
        return Error(ErrorCode::not_supported, "NVMe BAR0 is not a memory BAR");
    if (bar.base == 0)
        return Error(ErrorCode::not_found, "NVMe BAR0 has no address (firmware did not assign it)");
    if (bar.size < 0x2000)
        return Error(ErrorCode::out_of_range, "NVMe BAR0 is smaller than registers + doorbells");
    const uint64_t window = bar.size < kMaxWindowBytes ? bar.size : kMaxWindowBytes;
    volatile uint8_t* base = TRY(mmio.map_mmio(bar.base, window));

    pci::disable_message_interrupts(config, function.address);
    pci::enable_memory_and_bus_master(config, function.address);
    mmio_registers_ = MmioRegisterWindow(base);
    // The doorbells of the two queue pairs must lie inside the mapping.
    const uint32_t stride = nvme::cap_doorbell_stride(mmio_registers_.read64(nvme::kCap));
    if (nvme::kDoorbellBase + 4ull * stride > window)
        return Error(ErrorCode::not_supported, "NVMe doorbell stride puts doorbells past BAR0");
    return start(mmio_registers_, dma, delay, options);
}

} // namespace halcyon::drivers::block
