// The hardware-facing part of the e1000 driver: which PCI devices it takes, BAR0 found, checked
// and mapped, and the register window accessed through MMIO. Everything else is in e1000.cpp,
// written against the Registers interface.
#include "drivers/net/e1000.hpp"
#include "drivers/net/mmio.hpp"
#include "drivers/pci/msi.hpp"

namespace halcyon::drivers::e1000 {
namespace {

struct KnownDevice {
    uint16_t device_id;
    Model model;
};

// Copper parts whose register set, EERD and legacy descriptors match what e1000.cpp drives.
// (The 82544 has no EERD and the 8254x fibre/SerDes parts need other link setup: not listed.)
constexpr KnownDevice kKnownDevices[] = {
    {0x100E, Model::e1000},  // 82540EM desktop (QEMU e1000)
    {0x1015, Model::e1000},  // 82540EM LOM
    {0x1016, Model::e1000},  // 82540EP LOM
    {0x1017, Model::e1000},  // 82540EP
    {0x101E, Model::e1000},  // 82540EP LP
    {0x100F, Model::e1000},  // 82545EM copper (QEMU e1000-82545em)
    {0x1026, Model::e1000},  // 82545GM copper
    {0x10D3, Model::e1000e}, // 82574L (QEMU e1000e)
    {0x10F6, Model::e1000e}, // 82574LA
};

} // namespace

std::optional<Model> model_of(const pci::Function& function) {
    if (function.vendor_id != kIntelVendor || function.header_type != 0)
        return std::nullopt;
    for (const KnownDevice& known : kKnownDevices) {
        if (known.device_id == function.device_id)
            return known.model;
    }
    return std::nullopt;
}

uint32_t MmioRegisters::read32(uint32_t offset) {
    return mmio::read32(base_, offset);
}

void MmioRegisters::write32(uint32_t offset, uint32_t value) {
    mmio::write32(base_, offset, value);
}

ErrorOr<void> Driver::start_pci(pci::ConfigSpace& config, const pci::Function& function,
                                MmioMapper& mmio, DmaAllocator& dma, Delay& delay,
                                const Options& options) {
    const std::optional<Model> model = model_of(function);
    if (!model)
        return Error(ErrorCode::not_supported, "not an Intel e1000/e1000e this driver knows");
    // BAR0 is the memory-mapped register window (BAR1 may be flash, the I/O BAR indirect
    // access; neither is used).
    const pci::Bar bar = TRY(pci::read_bar(config, function.address, 0));
    if (bar.size == 0)
        return Error(ErrorCode::not_found, "e1000 BAR0 (the register window) is not implemented");
    if (bar.io)
        return Error(ErrorCode::not_supported, "e1000 BAR0 is an I/O BAR, not the register window");
    if (bar.base == 0)
        return Error(ErrorCode::not_found,
                     "e1000 BAR0 has no address (firmware did not assign it)");
    if (bar.size < kRegisterWindowBytes)
        return Error(ErrorCode::out_of_range, "e1000 BAR0 is smaller than the register window");
    volatile uint8_t* base = TRY(mmio.map_mmio(bar.base, kRegisterWindowBytes));

    // Polled: no message interrupts pointing anywhere, INTx masked, DMA on.
    pci::disable_message_interrupts(config, function.address);
    pci::enable_memory_and_bus_master(config, function.address);
    mmio_registers_ = MmioRegisters(base);
    return start(*model, mmio_registers_, dma, delay, options);
}

} // namespace halcyon::drivers::e1000
