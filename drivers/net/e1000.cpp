#include "drivers/net/e1000.hpp"

#include <string.h>

namespace halcyon::drivers::e1000 {
namespace {

constexpr size_t kBufferSize = 2048; // RCTL.BSIZE = 00, BSEX = 0
constexpr size_t kMinimumFrame = 60; // without FCS; shorter frames are padded with zeros
constexpr size_t kEthernetHeader = 14;
constexpr uint32_t kPollStepUs = 10;
constexpr uint32_t kMasterDisableTimeoutUs = 10'000;
constexpr uint32_t kAutoReadTimeoutUs = 10'000;
// After setting CTRL.RST the device is not to be accessed for a while (8254x SDM 14.5: at
// least 1 us; the 82574 needs its NVM auto-read, a few ms, which EECD reports).
constexpr uint32_t kResetSettleUs = 1'000;

// Descriptor fields live in ordinary (write-back) memory the device reads and writes by DMA.
// x86 keeps stores ordered with stores and loads with loads, so a compiler barrier is all that
// is needed between filling a descriptor and the tail write, and between reading DD and the
// rest of a completed descriptor.
inline void ordering_barrier() {
    asm volatile("" ::: "memory");
}

bool valid_unicast(const MacAddress& mac) {
    if ((mac[0] & 1) != 0) // group bit: multicast/broadcast, never a station address
        return false;
    for (uint8_t byte : mac) {
        if (byte != 0)
            return true;
    }
    return false;
}

size_t pages_for(size_t bytes) {
    return (bytes + 4095) & ~size_t(4095);
}

} // namespace

const char* model_name(Model model) {
    return model == Model::e1000e ? "e1000e" : "e1000";
}

volatile RxDescriptor* Driver::rx_descriptor(uint16_t index) const {
    return reinterpret_cast<volatile RxDescriptor*>(rx_ring_.virt) + index;
}

volatile TxDescriptor* Driver::tx_descriptor(uint16_t index) const {
    return reinterpret_cast<volatile TxDescriptor*>(tx_ring_.virt) + index;
}

ErrorOr<void> Driver::wait_for(uint32_t offset, uint32_t mask, uint32_t value,
                               uint32_t timeout_us) {
    for (uint32_t waited = 0;; waited += kPollStepUs) {
        if ((registers_->read32(offset) & mask) == value)
            return {};
        if (waited >= timeout_us)
            return Error(ErrorCode::timeout, "e1000 register did not change in time");
        delay_->delay_us(kPollStepUs);
    }
}

ErrorOr<void> Driver::reset() {
    Registers& r = *registers_;
    // Quiesce before the reset: interrupts masked, receive and transmit off. Real devices clear
    // these on reset anyway; some models (QEMU's 82574) keep them across CTRL.RST, and then the
    // device must not DMA into rings that are about to be replaced.
    r.write32(kImc, 0xFFFF'FFFFu);
    r.write32(kRctl, 0);
    r.write32(kTctl, 0);
    if (model_ == Model::e1000e) {
        // 82574 (datasheet 4.6.1.1): block new bus-master requests and let pending ones finish
        // before the reset cuts them. A timeout only means requests were pending; the reset
        // proceeds regardless, as the datasheet allows.
        r.write32(kCtrl, r.read32(kCtrl) | kCtrlGioMasterDisable);
        (void)wait_for(kStatus, kStatusGioMasterEnable, 0, kMasterDisableTimeoutUs);
    }
    r.write32(kCtrl, r.read32(kCtrl) | kCtrlReset);
    delay_->delay_us(kResetSettleUs);
    if (r.read32(kStatus) == 0xFFFF'FFFFu)
        return Error(ErrorCode::io, "e1000 stopped responding after its reset (reads all-ones)");
    if (wait_for(kCtrl, kCtrlReset, 0, options_.reset_timeout_us).is_error())
        return Error(ErrorCode::timeout, "e1000 did not finish its reset (CTRL.RST stays set)");
    if (model_ == Model::e1000e) {
        // The NVM is loaded into the registers (MAC address included) after the reset. Without
        // it the receive address may be unset; read_mac_address() then falls back to EERD.
        (void)wait_for(kEecd, kEecdAutoReadDone, kEecdAutoReadDone, kAutoReadTimeoutUs);
    }

    r.write32(kImc, 0xFFFF'FFFFu); // the reset unmasks nothing, but be explicit: polled
    (void)r.read32(kIcr);          // clear causes latched before the reset
    // Link: SLU forces the MAC/PHY link up once the PHY has one, ASDE follows the speed the
    // PHY negotiated. Clear what would keep the link down or change frame handling.
    uint32_t ctrl = r.read32(kCtrl);
    ctrl |= kCtrlSetLinkUp | kCtrlAutoSpeed;
    ctrl &= ~(kCtrlLinkReset | kCtrlPhyReset | kCtrlInvertLoss | kCtrlForceSpeed |
              kCtrlForceDuplex | kCtrlVlanMode | kCtrlGioMasterDisable);
    r.write32(kCtrl, ctrl);
    return {};
}

ErrorOr<uint16_t> Driver::read_eeprom(uint16_t word) {
    const bool is_82574 = model_ == Model::e1000e;
    const uint32_t done = is_82574 ? kEerdDone82574 : kEerdDone8254x;
    const unsigned shift = is_82574 ? kEerdAddressShift82574 : kEerdAddressShift8254x;
    registers_->write32(kEerd, kEerdStart | (uint32_t(word) << shift));
    for (uint32_t waited = 0;; waited += kPollStepUs) {
        const uint32_t value = registers_->read32(kEerd);
        if ((value & done) != 0)
            return static_cast<uint16_t>(value >> kEerdDataShift);
        if (waited >= options_.eeprom_timeout_us)
            return Error(ErrorCode::timeout, "e1000 EEPROM read did not complete (EERD.DONE)");
        delay_->delay_us(kPollStepUs);
    }
}

ErrorOr<void> Driver::read_mac_address() {
    // Normally the device loaded its address from the EEPROM/NVM into receive address 0.
    const uint32_t low = registers_->read32(kRal0);
    const uint32_t high = registers_->read32(kRah0);
    if ((high & kRahAddressValid) != 0) {
        mac_ = {static_cast<uint8_t>(low),       static_cast<uint8_t>(low >> 8),
                static_cast<uint8_t>(low >> 16), static_cast<uint8_t>(low >> 24),
                static_cast<uint8_t>(high),      static_cast<uint8_t>(high >> 8)};
        if (valid_unicast(mac_)) {
            mac_source_ = MacSource::receive_address;
            return {};
        }
    }
    // Otherwise words 0-2 of the EEPROM hold it, first byte in the low half of word 0.
    for (uint16_t word = 0; word < 3; ++word) {
        const uint16_t value = TRY(read_eeprom(word));
        mac_[2 * word] = static_cast<uint8_t>(value);
        mac_[2 * word + 1] = static_cast<uint8_t>(value >> 8);
    }
    if (!valid_unicast(mac_))
        return Error(ErrorCode::corrupt, "e1000 has no valid MAC address (RAL/RAH nor EEPROM)");
    mac_source_ = MacSource::eeprom;
    return {};
}

void Driver::program_receive_filter() {
    Registers& r = *registers_;
    // Exact match on our address in entry 0 (written back even when read from there, so an
    // EEPROM-sourced address filters too); the other 15 entries off.
    r.write32(kRal0, uint32_t(mac_[0]) | uint32_t(mac_[1]) << 8 | uint32_t(mac_[2]) << 16 |
                         uint32_t(mac_[3]) << 24);
    r.write32(kRah0, uint32_t(mac_[4]) | uint32_t(mac_[5]) << 8 | kRahAddressValid);
    for (uint32_t entry = 1; entry < 16; ++entry) {
        r.write32(kRah0 + 8 * entry, 0);
        r.write32(kRal0 + 8 * entry, 0);
    }
    // No multicast group until accept_multicast() adds one; broadcast via RCTL.BAM.
    for (uint32_t i = 0; i < kMtaCount; ++i)
        r.write32(kMta + 4 * i, 0);
}

ErrorOr<void> Driver::setup_receive(DmaAllocator& dma) {
    const uint16_t count = options_.receive_descriptors;
    rx_ring_ = TRY(dma.allocate_dma(pages_for(size_t(count) * sizeof(RxDescriptor))));
    rx_buffers_ = TRY(dma.allocate_dma(size_t(count) * kBufferSize));
    // Every descriptor gets its buffer, the "gap" one included: it is handed over when the tail
    // moves past it.
    for (uint16_t i = 0; i < count; ++i) {
        volatile RxDescriptor* d = rx_descriptor(i);
        d->buffer_address = rx_buffers_.device_address + size_t(i) * kBufferSize;
        d->length = 0;
        d->checksum = 0;
        d->status = 0;
        d->errors = 0;
        d->special = 0;
    }
    rx_count_ = count;
    rx_next_ = 0;
    rx_discarding_ = false;

    Registers& r = *registers_;
    r.write32(kRdbal, static_cast<uint32_t>(rx_ring_.device_address));
    r.write32(kRdbah, static_cast<uint32_t>(rx_ring_.device_address >> 32));
    r.write32(kRdlen, uint32_t(count) * sizeof(RxDescriptor));
    r.write32(kRdh, 0);
    r.write32(kRdt, 0);
    r.write32(kRdtr, 0); // write back each frame at once (no receive delay timer)
    // 2 KiB buffers, no long packets (frames up to 1522 bytes fit one buffer), CRC stripped so
    // lengths are the frame's, broadcast accepted; unicast/multicast through the filters.
    r.write32(kRctl, kRctlEnable | kRctlBroadcastAccept | kRctlStripCrc);
    ordering_barrier();
    // The device owns RDH..RDT-1: all but one descriptor (head == tail means "none").
    r.write32(kRdt, uint32_t(count - 1));
    return {};
}

ErrorOr<void> Driver::setup_transmit(DmaAllocator& dma) {
    const uint16_t count = options_.transmit_descriptors;
    tx_ring_ = TRY(dma.allocate_dma(pages_for(size_t(count) * sizeof(TxDescriptor))));
    tx_buffers_ = TRY(dma.allocate_dma(size_t(count) * kBufferSize));
    for (uint16_t i = 0; i < count; ++i) {
        volatile TxDescriptor* d = tx_descriptor(i);
        d->buffer_address = tx_buffers_.device_address + size_t(i) * kBufferSize;
        d->length = 0;
        d->checksum_offset = 0;
        d->command = 0;
        d->status = 0;
        d->checksum_start = 0;
        d->special = 0;
    }
    tx_count_ = count;
    tx_next_ = tx_clean_ = tx_in_flight_ = 0;
    tx_pending_ = false;

    Registers& r = *registers_;
    r.write32(kTdbal, static_cast<uint32_t>(tx_ring_.device_address));
    r.write32(kTdbah, static_cast<uint32_t>(tx_ring_.device_address >> 32));
    r.write32(kTdlen, uint32_t(count) * sizeof(TxDescriptor));
    r.write32(kTdh, 0);
    r.write32(kTdt, 0);
    // Inter-packet gap for copper (IPGT, IPGR1, IPGR2): 10/8/6 on the 8254x (SDM 13.4.34),
    // 8/8/6 on the 82574 (datasheet 10.2.6.4).
    const uint32_t ipgt = model_ == Model::e1000e ? 8 : 10;
    r.write32(kTipg, ipgt | 8u << 10 | 6u << 20);
    // Collision threshold 15 and distance 64 (8254x) / 63 (82574) byte times: the recommended
    // values; they matter only at half duplex.
    const uint32_t distance = model_ == Model::e1000e ? 0x3F : 0x40;
    r.write32(kTctl, kTctlEnable | kTctlPadShortPackets | 0x0Fu << kTctlCollisionThresholdShift |
                         distance << kTctlCollisionDistanceShift | kTctlRetransmitLateCollision);
    return {};
}

ErrorOr<void> Driver::start(Model model, Registers& registers, DmaAllocator& dma, Delay& delay,
                            const Options& options) {
    auto ring_ok = [](uint16_t n) {
        return n >= kRingGranule && n <= 4096 && n % kRingGranule == 0;
    };
    if (!ring_ok(options.receive_descriptors) || !ring_ok(options.transmit_descriptors))
        return Error(ErrorCode::invalid_argument, "e1000 rings hold 8..4096 descriptors, by 8");
    started_ = false;
    model_ = model;
    registers_ = &registers;
    delay_ = &delay;
    options_ = options;
    counters_ = {};
    if (registers.read32(kStatus) == 0xFFFF'FFFFu)
        return Error(ErrorCode::io,
                     "e1000 registers read as all-ones: the device does not respond");

    TRY(reset());
    TRY(read_mac_address());
    program_receive_filter();
    TRY(setup_receive(dma));
    if (auto tx = setup_transmit(dma); tx.is_error()) {
        registers.write32(kRctl, 0); // nothing may arrive for a driver that did not start
        return tx.error();
    }
    // Start the statistics from zero (they are clear-on-read and counted since reset).
    (void)refresh_counters();
    hardware_ = {};
    started_ = true;
    return {};
}

bool Driver::link_up() const {
    return started_ && (registers_->read32(kStatus) & kStatusLinkUp) != 0;
}

const HardwareCounters& Driver::refresh_counters() {
    if (registers_ == nullptr)
        return hardware_;
    Registers& r = *registers_;
    hardware_.crc_errors += r.read32(kCrcErrors);
    hardware_.receive_errors += r.read32(kRxErrors);
    hardware_.missed += r.read32(kMissed);
    hardware_.no_buffers += r.read32(kNoBuffers);
    hardware_.good_received += r.read32(kGoodReceived);
    hardware_.good_sent += r.read32(kGoodSent);
    return hardware_;
}

Driver::MtaPosition Driver::multicast_hash(const MacAddress& group) {
    const uint32_t hash = ((uint32_t(group[4]) >> 4) | (uint32_t(group[5]) << 4)) & 0xFFF;
    return {hash >> 5, hash & 31};
}

ErrorOr<void> Driver::accept_multicast(const MacAddress& group) {
    if (!started_)
        return Error(ErrorCode::invalid_argument, "e1000 is not started");
    if ((group[0] & 1) == 0)
        return Error(ErrorCode::invalid_argument, "not a multicast address");
    // A hash filter: other groups hashing to the same bit get through too (lwIP drops them).
    // Bits are never cleared on leave for the same reason; the filter only grows wider.
    const MtaPosition position = multicast_hash(group);
    const uint32_t offset = kMta + 4 * position.index;
    registers_->write32(offset, registers_->read32(offset) | 1u << position.bit);
    return {};
}

void Driver::reclaim_transmitted() {
    while (tx_in_flight_ > 0) {
        volatile TxDescriptor* d = tx_descriptor(tx_clean_);
        if ((d->status & kTxStatusDone) == 0)
            break;
        d->status = 0;
        tx_clean_ = static_cast<uint16_t>((tx_clean_ + 1) % tx_count_);
        --tx_in_flight_;
    }
}

ErrorOr<std::span<uint8_t>> Driver::transmit_buffer() {
    if (!started_)
        return Error(ErrorCode::invalid_argument, "e1000 is not started");
    if (!tx_pending_) {
        reclaim_transmitted();
        // One descriptor always stays free: tail == head would read as an empty ring.
        if (tx_in_flight_ >= tx_count_ - 1) {
            ++counters_.transmit_busy;
            return Error(ErrorCode::busy, "every e1000 transmit descriptor is in flight");
        }
        tx_pending_ = true;
    }
    return std::span<uint8_t>(tx_buffers_.virt + size_t(tx_next_) * kBufferSize, kEthernetMaxFrame);
}

ErrorOr<void> Driver::transmit(size_t length) {
    if (!tx_pending_)
        return Error(ErrorCode::invalid_argument, "transmit() without transmit_buffer()");
    if (length < kEthernetHeader || length > kEthernetMaxFrame)
        return Error(ErrorCode::invalid_argument, "Ethernet frame length out of range");
    uint8_t* buffer = tx_buffers_.virt + size_t(tx_next_) * kBufferSize;
    if (length < kMinimumFrame) {
        // TCTL.PSP pads too, but not every model honours it; zeros, never stale buffer bytes.
        memset(buffer + length, 0, kMinimumFrame - length);
        length = kMinimumFrame;
    }
    volatile TxDescriptor* d = tx_descriptor(tx_next_);
    d->buffer_address = tx_buffers_.device_address + size_t(tx_next_) * kBufferSize;
    d->length = static_cast<uint16_t>(length);
    d->checksum_offset = 0;
    d->command = kTxCommandEndOfPacket | kTxCommandInsertFcs | kTxCommandReportStatus;
    d->status = 0;
    d->checksum_start = 0;
    d->special = 0;
    tx_pending_ = false;
    tx_next_ = static_cast<uint16_t>((tx_next_ + 1) % tx_count_);
    ++tx_in_flight_;
    ++counters_.sent;
    ordering_barrier();
    registers_->write32(kTdt, tx_next_);
    return {};
}

size_t Driver::poll(FrameSink& sink, size_t budget) {
    if (!started_)
        return 0;
    reclaim_transmitted();
    size_t delivered = 0;
    int32_t last_done = -1;
    // At most one pass over the ring: the device gets nothing new until the tail moves below.
    for (uint16_t seen = 0; seen < rx_count_ && delivered < budget; ++seen) {
        volatile RxDescriptor* d = rx_descriptor(rx_next_);
        const uint8_t status = d->status;
        if ((status & kRxStatusDone) == 0)
            break;
        ordering_barrier();
        const uint16_t length = d->length;
        const uint8_t errors = d->errors;
        const bool end_of_packet = (status & kRxStatusEndOfPacket) != 0;
        if (rx_discarding_ || !end_of_packet) {
            // A frame longer than one buffer (cannot happen with LPE off; a confused device):
            // drop every piece up to and including its last.
            ++counters_.dropped_receive;
            rx_discarding_ = !end_of_packet;
        } else if ((errors & kRxFrameErrors) != 0 || length < kEthernetHeader ||
                   length > kEthernetMaxFrame) {
            ++counters_.dropped_receive;
        } else {
            sink.deliver(std::span<const uint8_t>(rx_buffers_.virt + size_t(rx_next_) * kBufferSize,
                                                  length));
            ++counters_.received;
            ++delivered;
        }
        d->status = 0;
        d->errors = 0;
        d->length = 0;
        last_done = rx_next_;
        rx_next_ = static_cast<uint16_t>((rx_next_ + 1) % rx_count_);
    }
    if (last_done >= 0) {
        // The processed descriptor becomes the new gap; the previous gap (already holding its
        // buffer) goes back to the device.
        ordering_barrier();
        registers_->write32(kRdt, static_cast<uint32_t>(last_done));
    }
    return delivered;
}

} // namespace halcyon::drivers::e1000
