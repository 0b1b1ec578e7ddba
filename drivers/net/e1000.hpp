// Polled driver for Intel e1000 (8254x, QEMU `-device e1000`) and e1000e (82574, QEMU
// `-device e1000e`): one receive and one transmit ring of legacy descriptors, one 2 KiB DMA
// buffer per descriptor, unicast (our address) + broadcast + chosen multicast groups.
//
// The logic is written against two small interfaces: Registers (the register window; MMIO in
// the core, a fake register file in host tests) and Delay (bounded waits). start() is pure
// over them; start_pci() is the thin part that finds and maps BAR0 on real PCI.
#pragma once

#include "drivers/net/device_memory.hpp"
#include "drivers/net/e1000_registers.hpp"
#include "drivers/net/nic.hpp"
#include "drivers/pci/pci.hpp"
#include "lib/base/error_or.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::drivers::e1000 {

class Registers {
public:
    [[nodiscard]] virtual uint32_t read32(uint32_t offset) = 0;
    virtual void write32(uint32_t offset, uint32_t value) = 0;

protected:
    ~Registers() = default;
};

// The register window mapped uncached (BAR0).
class MmioRegisters final : public Registers {
public:
    MmioRegisters() = default;
    explicit MmioRegisters(volatile uint8_t* base) : base_(base) {}
    [[nodiscard]] uint32_t read32(uint32_t offset) override;
    void write32(uint32_t offset, uint32_t value) override;

private:
    volatile uint8_t* base_ = nullptr;
};

struct Options {
    uint16_t receive_descriptors = 128;  // multiple of 8, 8..4096 (memory: 2 KiB each)
    uint16_t transmit_descriptors = 128; // likewise
    uint32_t reset_timeout_us = 100'000;
    uint32_t eeprom_timeout_us = 10'000; // per word
};

// The device's own clear-on-read statistics registers, accumulated by refresh_counters().
struct HardwareCounters {
    uint64_t crc_errors = 0;
    uint64_t receive_errors = 0;
    uint64_t missed = 0;     // no room in the receive FIFO
    uint64_t no_buffers = 0; // no free receive descriptor (the poller fell behind)
    uint64_t good_received = 0;
    uint64_t good_sent = 0;
};

// Where the MAC address came from (reported at start).
enum class MacSource : uint8_t { receive_address, eeprom };

class Driver final : public Nic {
public:
    // Resets and brings the device up over `registers`. Fails with `timeout` when the device
    // does not finish its reset or an EEPROM read, `io` when it reads as all-ones (absent),
    // `corrupt` when no valid MAC address is found. `registers`, `dma` and `delay` must outlive
    // the driver.
    [[nodiscard]] ErrorOr<void> start(Model model, Registers& registers, DmaAllocator& dma,
                                      Delay& delay, const Options& options = {});

    // The PCI part: identifies the device, checks and maps BAR0, leaves MSI/MSI-X off (polled),
    // enables memory decoding and bus mastering with INTx masked, then start().
    [[nodiscard]] ErrorOr<void> start_pci(pci::ConfigSpace& config, const pci::Function& function,
                                          MmioMapper& mmio, DmaAllocator& dma, Delay& delay,
                                          const Options& options = {});

    [[nodiscard]] Model device_model() const { return model_; }
    [[nodiscard]] MacSource mac_source() const { return mac_source_; }
    [[nodiscard]] uint16_t receive_ring_size() const { return rx_count_; }
    [[nodiscard]] uint16_t transmit_ring_size() const { return tx_count_; }
    // Reads (and thereby clears) the statistics registers into the running totals.
    const HardwareCounters& refresh_counters();

    // Nic.
    [[nodiscard]] const char* model() const override { return model_name(model_); }
    [[nodiscard]] const MacAddress& mac() const override { return mac_; }
    [[nodiscard]] bool link_up() const override;
    [[nodiscard]] NicCounters counters() const override { return counters_; }
    [[nodiscard]] ErrorOr<std::span<uint8_t>> transmit_buffer() override;
    [[nodiscard]] ErrorOr<void> transmit(size_t length) override;
    size_t poll(FrameSink& sink, size_t budget) override;
    [[nodiscard]] ErrorOr<void> accept_multicast(const MacAddress& group) override;

    // Which MTA register and bit a multicast address hashes to (RCTL.MO = 00: address bits
    // 47:36, i.e. the upper 12 bits of the last two bytes).
    struct MtaPosition {
        uint32_t index; // 0..127
        uint32_t bit;   // 0..31
    };
    [[nodiscard]] static MtaPosition multicast_hash(const MacAddress& group);

private:
    [[nodiscard]] ErrorOr<void> reset();
    [[nodiscard]] ErrorOr<void> wait_for(uint32_t offset, uint32_t mask, uint32_t value,
                                         uint32_t timeout_us);
    [[nodiscard]] ErrorOr<uint16_t> read_eeprom(uint16_t word);
    [[nodiscard]] ErrorOr<void> read_mac_address();
    void program_receive_filter();
    [[nodiscard]] ErrorOr<void> setup_receive(DmaAllocator& dma);
    [[nodiscard]] ErrorOr<void> setup_transmit(DmaAllocator& dma);
    void reclaim_transmitted();

    [[nodiscard]] volatile RxDescriptor* rx_descriptor(uint16_t index) const;
    [[nodiscard]] volatile TxDescriptor* tx_descriptor(uint16_t index) const;

    Model model_ = Model::e1000;
    Registers* registers_ = nullptr;
    Delay* delay_ = nullptr;
    Options options_;
    MmioRegisters mmio_registers_; // used by start_pci()
    MacAddress mac_{};
    MacSource mac_source_ = MacSource::receive_address;
    bool started_ = false;

    DmaRegion rx_ring_;
    DmaRegion rx_buffers_;
    uint16_t rx_count_ = 0;
    uint16_t rx_next_ = 0;       // the next descriptor the device completes
    bool rx_discarding_ = false; // inside a frame that spans descriptors: dropped up to EOP

    DmaRegion tx_ring_;
    DmaRegion tx_buffers_;
    uint16_t tx_count_ = 0;
    uint16_t tx_next_ = 0;  // the next descriptor software fills (the tail)
    uint16_t tx_clean_ = 0; // the oldest descriptor still owned by the device
    uint16_t tx_in_flight_ = 0;
    bool tx_pending_ = false; // transmit_buffer() handed out tx_next_'s buffer

    NicCounters counters_;
    HardwareCounters hardware_;
};

} // namespace halcyon::drivers::e1000

namespace halcyon::drivers {
using E1000 = e1000::Driver;
}
