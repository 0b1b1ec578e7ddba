// A fake Intel e1000/e1000e for the driver's host tests: a register file with the device's
// side effects (self-clearing CTRL.RST after a delay, EERD reads that finish later, clear-on-read
// statistics), DMA memory at fake device addresses, and the legacy descriptor behaviour: frames
// land in the descriptor at RDH while RDH != RDT (else they are missed), transmissions run from
// TDH to TDT and write DD back when RS asks for it. Time only moves through Delay::delay_us().
#pragma once

#include "drivers/net/e1000.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

namespace halcyon::test {

using namespace halcyon::drivers;
using namespace halcyon::drivers::e1000;

class FakeE1000 final : public Registers, public Delay, public DmaAllocator {
public:
    explicit FakeE1000(Model model, MacAddress permanent = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56})
        : model_(model), permanent_(permanent) {
        for (int i = 0; i < 3; ++i)
            eeprom[i] = static_cast<uint16_t>(permanent[2 * i] | permanent[2 * i + 1] << 8);
        power_on();
    }

    // ---- behaviour knobs ----
    bool mac_in_receive_address = true; // the device loaded RAL0/RAH0 from its EEPROM
    std::array<uint16_t, 64> eeprom{};
    uint32_t reset_duration_us = 50;
    bool reset_sticks = false; // CTRL.RST never clears
    uint32_t eeprom_read_us = 20;
    bool eeprom_never_done = false;
    bool absent = false;                // every read is all-ones, as for a vanished device
    bool transmit_on_tail_write = true; // else only when process_transmit() is called

    // ---- observations ----
    uint64_t now_us = 0;
    uint32_t accesses_during_reset = 0;
    std::vector<std::vector<uint8_t>> sent;
    std::vector<std::pair<uint32_t, uint32_t>> writes;

    uint32_t& reg(uint32_t offset) { return regs_[offset]; }

    // ---- Registers ----
    uint32_t read32(uint32_t offset) override {
        if (absent)
            return 0xFFFF'FFFFu;
        if (in_reset() && offset != kCtrl && offset != kStatus)
            ++accesses_during_reset;
        switch (offset) {
        case kCtrl:
            return regs_[kCtrl] | (in_reset() ? kCtrlReset : 0);
        case kEerd: {
            uint32_t value = regs_[kEerd];
            if (eerd_pending_ && !eeprom_never_done && now_us >= eerd_done_at_) {
                const uint32_t done = model_ == Model::e1000e ? kEerdDone82574 : kEerdDone8254x;
                const uint16_t data = eerd_word_ < eeprom.size() ? eeprom[eerd_word_] : 0xFFFF;
                value = (value & 0xFFFF & ~kEerdStart) | done | uint32_t(data) << 16;
            }
            return value;
        }
        case kCrcErrors:
        case kRxErrors:
        case kMissed:
        case kGoodReceived:
        case kGoodSent:
        case kNoBuffers: {
            const uint32_t value = regs_[offset];
            regs_[offset] = 0; // clear on read
            return value;
        }
        default:
            return regs_[offset];
        }
    }

    void write32(uint32_t offset, uint32_t value) override {
        if (absent)
            return;
        if (in_reset())
            ++accesses_during_reset;
        writes.push_back({offset, value});
        switch (offset) {
        case kCtrl:
            if ((value & kCtrlReset) != 0) {
                software_reset();
                return;
            }
            regs_[kCtrl] = value;
            if (model_ == Model::e1000e && (value & kCtrlGioMasterDisable) != 0)
                regs_[kStatus] &= ~kStatusGioMasterEnable;
            return;
        case kEerd: {
            regs_[kEerd] = value;
            if ((value & kEerdStart) != 0) {
                const unsigned shift =
                    model_ == Model::e1000e ? kEerdAddressShift82574 : kEerdAddressShift8254x;
                const uint32_t mask = model_ == Model::e1000e ? 0x3FFF : 0xFF;
                eerd_word_ = (value >> shift) & mask;
                eerd_pending_ = true;
                eerd_done_at_ = now_us + eeprom_read_us;
            }
            return;
        }
        case kTdt:
            regs_[kTdt] = value;
            if (transmit_on_tail_write)
                process_transmit();
            return;
        case kIcr:
            regs_[kIcr] &= ~value;
            return;
        default:
            regs_[offset] = value;
        }
    }

    // ---- Delay ----
    void delay_us(uint32_t microseconds) override { now_us += microseconds; }

    // ---- DmaAllocator: page-aligned chunks at fake device addresses above 4 GiB ----
    ErrorOr<DmaRegion> allocate_dma(size_t size) override {
        if (fail_dma_after_ >= 0 && dma_allocations_ >= fail_dma_after_)
            return Error(ErrorCode::out_of_memory, "fake DMA allocator exhausted");
        ++dma_allocations_;
        const size_t bytes = (size + 4095) & ~size_t(4095);
        Chunk chunk;
        chunk.storage = std::make_unique<uint8_t[]>(bytes + 4096);
        chunk.virt = reinterpret_cast<uint8_t*>(
            (reinterpret_cast<uintptr_t>(chunk.storage.get()) + 4095) & ~uintptr_t(4095));
        std::memset(chunk.virt, 0, bytes);
        chunk.device_address = next_device_address_;
        chunk.size = bytes;
        next_device_address_ += bytes + 0x10000;
        chunks_.push_back(std::move(chunk));
        const Chunk& c = chunks_.back();
        return DmaRegion{c.virt, c.device_address, c.size};
    }
    void fail_dma_after(int allocations) { fail_dma_after_ = allocations; }

    // The device's view of DMA memory; nullptr (and a test failure) outside every region.
    uint8_t* dma(uint64_t device_address, size_t length) {
        for (Chunk& c : chunks_) {
            if (device_address >= c.device_address &&
                device_address + length <= c.device_address + c.size)
                return c.virt + (device_address - c.device_address);
        }
        ADD_FAILURE() << "device DMA outside any allocated region: " << std::hex << device_address;
        return nullptr;
    }

    // ---- device-side actions ----

    // Whether the receive filter takes a frame with this destination (RCTL and RA/MTA).
    bool accepts(const uint8_t* destination) {
        const uint32_t rctl = regs_[kRctl];
        const bool group = (destination[0] & 1) != 0;
        bool broadcast = true;
        for (int i = 0; i < 6; ++i)
            broadcast = broadcast && destination[i] == 0xFF;
        if (broadcast)
            return (rctl & kRctlBroadcastAccept) != 0;
        if (group) {
            if ((rctl & kRctlMulticastPromiscuous) != 0)
                return true;
            // MO = 00: bits 47:36 of the address select one of 4096 MTA bits.
            const uint32_t hash = ((destination[4] >> 4) | (uint32_t(destination[5]) << 4)) & 0xFFF;
            return ((regs_[kMta + 4 * (hash >> 5)] >> (hash & 31)) & 1) != 0;
        }
        if ((rctl & kRctlUnicastPromiscuous) != 0)
            return true;
        for (uint32_t entry = 0; entry < 16; ++entry) {
            const uint32_t low = regs_[kRal0 + 8 * entry];
            const uint32_t high = regs_[kRah0 + 8 * entry];
            if ((high & kRahAddressValid) == 0)
                continue;
            const uint8_t address[6] = {uint8_t(low),       uint8_t(low >> 8), uint8_t(low >> 16),
                                        uint8_t(low >> 24), uint8_t(high),     uint8_t(high >> 8)};
            if (std::memcmp(address, destination, 6) == 0)
                return true;
        }
        return false;
    }

    enum class Received { stored, filtered, missed, disabled };

    // A frame from the wire, split over `pieces` descriptors (1 = the normal case). `errors`
    // goes into the last descriptor's errors field.
    Received receive(const std::vector<uint8_t>& frame, uint8_t errors = 0, int pieces = 1) {
        if ((regs_[kRctl] & kRctlEnable) == 0 || (regs_[kStatus] & kStatusLinkUp) == 0)
            return Received::disabled;
        if (frame.size() >= 6 && !accepts(frame.data()))
            return Received::filtered;
        const uint32_t count = regs_[kRdlen] / 16;
        const size_t piece_size = (frame.size() + pieces - 1) / pieces;
        // All descriptors needed must be free, or the frame is missed (MPC).
        uint32_t free_descriptors = (regs_[kRdt] + count - regs_[kRdh]) % count;
        if (count == 0 || free_descriptors < uint32_t(pieces)) {
            ++regs_[kMissed];
            ++regs_[kNoBuffers];
            return Received::missed;
        }
        for (int piece = 0; piece < pieces; ++piece) {
            const uint64_t ring = uint64_t(regs_[kRdbah]) << 32 | regs_[kRdbal];
            uint8_t* raw = dma(ring + 16 * regs_[kRdh], 16);
            RxDescriptor d;
            std::memcpy(&d, raw, 16);
            const size_t start = piece * piece_size;
            const size_t length = std::min(piece_size, frame.size() - start);
            if (uint8_t* buffer = dma(d.buffer_address, 2048))
                std::memcpy(buffer, frame.data() + start, length);
            d.length = static_cast<uint16_t>(length);
            d.errors = piece == pieces - 1 ? errors : 0;
            d.status = kRxStatusDone | (piece == pieces - 1 ? kRxStatusEndOfPacket : 0);
            std::memcpy(raw, &d, 16);
            regs_[kRdh] = (regs_[kRdh] + 1) % count;
        }
        if (errors == 0)
            ++regs_[kGoodReceived];
        else
            ++regs_[kRxErrors];
        return Received::stored;
    }

    // Sends what software queued (TDH up to TDT); returns how many descriptors it processed.
    size_t process_transmit() {
        if ((regs_[kTctl] & kTctlEnable) == 0)
            return 0;
        const uint32_t count = regs_[kTdlen] / 16;
        size_t processed = 0;
        while (count != 0 && regs_[kTdh] != regs_[kTdt]) {
            const uint64_t ring = uint64_t(regs_[kTdbah]) << 32 | regs_[kTdbal];
            uint8_t* raw = dma(ring + 16 * regs_[kTdh], 16);
            TxDescriptor d;
            std::memcpy(&d, raw, 16);
            EXPECT_NE(d.command & kTxCommandEndOfPacket, 0) << "one descriptor per frame";
            EXPECT_NE(d.command & kTxCommandInsertFcs, 0) << "the device must add the FCS";
            if (const uint8_t* buffer = dma(d.buffer_address, d.length))
                sent.emplace_back(buffer, buffer + d.length);
            if ((d.command & kTxCommandReportStatus) != 0)
                d.status |= kTxStatusDone;
            std::memcpy(raw, &d, 16);
            regs_[kTdh] = (regs_[kTdh] + 1) % count;
            ++regs_[kGoodSent];
            ++processed;
        }
        return processed;
    }

private:
    struct Chunk {
        std::unique_ptr<uint8_t[]> storage;
        uint8_t* virt = nullptr;
        uint64_t device_address = 0;
        size_t size = 0;
    };

    bool in_reset() const { return reset_sticks ? resetting_ : now_us < reset_done_at_; }

    // Register values after power-on / reset: link up at full duplex, the permanent address in
    // receive address 0 (when the knob says the EEPROM was loaded), the 82574's NVM done.
    void power_on() {
        regs_.clear();
        regs_[kStatus] = kStatusLinkUp | kStatusFullDuplex |
                         (model_ == Model::e1000e ? kStatusGioMasterEnable : 0);
        regs_[kCtrl] = 0x0000'0240; // some defaults a driver must keep or override
        if (model_ == Model::e1000e)
            regs_[kEecd] = kEecdAutoReadDone | (1u << 8);
        if (mac_in_receive_address) {
            regs_[kRal0] = uint32_t(permanent_[0]) | uint32_t(permanent_[1]) << 8 |
                           uint32_t(permanent_[2]) << 16 | uint32_t(permanent_[3]) << 24;
            regs_[kRah0] =
                uint32_t(permanent_[4]) | uint32_t(permanent_[5]) << 8 | kRahAddressValid;
        }
    }

    void software_reset() {
        power_on();
        eerd_pending_ = false;
        resetting_ = true;
        reset_done_at_ = now_us + reset_duration_us;
    }

    Model model_;
    MacAddress permanent_;
    std::map<uint32_t, uint32_t> regs_;
    uint64_t reset_done_at_ = 0;
    bool resetting_ = false;
    bool eerd_pending_ = false;
    uint32_t eerd_word_ = 0;
    uint64_t eerd_done_at_ = 0;
    std::vector<Chunk> chunks_;
    uint64_t next_device_address_ = 0x1'2340'0000ull;
    int dma_allocations_ = 0;
    int fail_dma_after_ = -1;
};

// Collects delivered frames.
class CollectingSink final : public FrameSink {
public:
    void deliver(std::span<const uint8_t> frame) override {
        frames.emplace_back(frame.begin(), frame.end());
    }
    std::vector<std::vector<uint8_t>> frames;
};

// An Ethernet frame to `destination` whose payload encodes `tag` (so order can be checked).
inline std::vector<uint8_t> make_frame(const MacAddress& destination, uint32_t tag,
                                       size_t length = 64) {
    // Built whole, then cut: runts (shorter than the header) are frames too.
    std::vector<uint8_t> frame(std::max<size_t>(length, 18), 0);
    std::memcpy(frame.data(), destination.data(), 6);
    const uint8_t source[6] = {0x52, 0x55, 0x0A, 0x00, 0x02, 0x02};
    std::memcpy(frame.data() + 6, source, 6);
    frame[12] = 0x08; // IPv4 ethertype, for looks
    frame[13] = 0x00;
    std::memcpy(frame.data() + 14, &tag, sizeof tag);
    for (size_t i = 18; i < length; ++i)
        frame[i] = static_cast<uint8_t>(i ^ tag);
    frame.resize(length);
    return frame;
}

inline constexpr MacAddress kBroadcast = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};

} // namespace halcyon::test
