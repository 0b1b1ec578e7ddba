// A fake AHCI HBA behind RegisterWindow with SATA devices on its ports: BIOS/OS hand-off, the
// GHC.HR reset taking time, PHYs reporting devices (after spin-up when staggered), PxCMD's
// running bits following ST/FRE, and commands issued through PxCI executed from the command
// list, command table, FIS and PRDs in (fake) DMA memory: IDENTIFY DEVICE, READ/WRITE DMA EXT,
// WRITE DMA FUA EXT, FLUSH CACHE (EXT). Errors behave as on an HBA: TFES set, the slot stays in
// PxCI until software clears ST.
#pragma once

#include "drivers/block/ahci_spec.hpp"
#include "drivers/block/register_window.hpp"
#include "tests/unit/block_test_support.hpp"

#include <array>
#include <memory>
#include <optional>
#include <string>

namespace halcyon::test {

namespace ah = halcyon::drivers::block::ahci;

struct FakeDrive {
    FakeDrive(uint32_t sector_size, uint64_t sectors) : disk(sector_size, sectors) {}
    DiskImage disk;
    std::string model = "HALCYON FAKE SATA DISK";
    std::string serial = "SATA-0001";
    bool lba48 = true;
    bool write_cache = true;
    bool flush_ext = true;
    bool flush = true;
    bool fua = true;
    uint32_t signature = ah::kSignatureAta;
    std::optional<uint8_t> fail_command; // answered with ERR + ABRT
    std::vector<uint8_t> commands;

    static void put_string(std::array<uint16_t, 256>& words, size_t first, size_t count,
                           const std::string& text) {
        for (size_t i = 0; i < count; ++i) {
            const char a = 2 * i < text.size() ? text[2 * i] : ' ';
            const char b = 2 * i + 1 < text.size() ? text[2 * i + 1] : ' ';
            words[first + i] = static_cast<uint16_t>(uint8_t(a) << 8 | uint8_t(b));
        }
    }

    std::array<uint16_t, 256> identify() const {
        std::array<uint16_t, 256> w{};
        w[0] = 0x0040;
        put_string(w, 10, 10, serial);
        put_string(w, 23, 4, "1.0");
        put_string(w, 27, 20, model);
        w[49] = 1u << 9 | 1u << 8;
        const uint64_t sectors = disk.sectors();
        const uint32_t lba28 = sectors > 0x0FFF'FFFF ? 0x0FFF'FFFF : uint32_t(sectors);
        w[60] = static_cast<uint16_t>(lba28);
        w[61] = static_cast<uint16_t>(lba28 >> 16);
        w[82] = write_cache ? 1u << 5 : 0;
        w[83] =
            0x4000 | (lba48 ? 1u << 10 : 0) | (flush ? 1u << 12 : 0) | (flush_ext ? 1u << 13 : 0);
        w[84] = 0x4000 | (fua ? 1u << 6 : 0);
        w[85] = write_cache ? 1u << 5 : 0;
        w[86] = w[83] & 0x3FFF;
        w[87] = 0x4000 | (fua ? 1u << 6 : 0);
        for (int i = 0; i < 4; ++i)
            w[100 + i] = static_cast<uint16_t>(sectors >> (16 * i));
        if (disk.sector_size() != 512) {
            w[106] = 0x4000 | 1u << 12;
            const uint32_t words = disk.sector_size() / 2;
            w[117] = static_cast<uint16_t>(words);
            w[118] = static_cast<uint16_t>(words >> 16);
        }
        return w;
    }
};

class FakeAhci final : public RegisterWindow {
public:
    FakeAhci(FakeDmaMemory& dma, FakeClock& clock, uint32_t ports = 6) : dma_(dma), clock_(clock) {
        cap = (ports - 1) | 31u << 8 | ah::kCap64Bit | ah::kCapCommandListOverride;
        implemented = ports >= 32 ? ~0u : (1u << ports) - 1;
        clock.on_tick = [this](uint64_t now) { tick(now); };
    }

    // ---- knobs ----
    uint32_t cap;
    uint32_t implemented;
    bool bios_handoff = false; // CAP2.BOH, BIOS owns the HBA until asked
    bool bios_never_releases = false;
    bool reset_sticks = false;
    uint32_t reset_us = 200;
    uint32_t link_up_us = 300; // after the reset (or spin-up) the PHY reports the device
    uint32_t latency_us = 0;   // command execution time
    bool never_complete = false;
    std::array<std::shared_ptr<FakeDrive>, 32> drives{};

    // ---- observations ----
    uint32_t writes_to_list_base_while_running = 0;
    uint32_t starts_while_busy = 0;
    std::vector<uint32_t> prd_counts;

    // ---- RegisterWindow ----
    uint32_t read32(uint32_t offset) override {
        switch (offset) {
        case ah::kCap:
            return cap;
        case ah::kGhc:
            return ghc_;
        case ah::kPortsImplemented:
            return implemented;
        case ah::kVersion:
            return 0x0001'0301;
        case ah::kCap2:
            return bios_handoff ? ah::kCap2BiosHandoff : 0;
        case ah::kBohc:
            return bohc_;
        default:
            break;
        }
        if (offset < 0x100)
            return 0;
        const uint32_t port = (offset - 0x100) / 0x80;
        const uint32_t reg = (offset - 0x100) % 0x80;
        Port& p = ports_[port];
        switch (reg) {
        case ah::kPxSsts:
            if (link_up(port))
                return ah::kSstsDevicePresent | 1u << 8;
            return device_seen(port) ? 1 : 0; // DET 1: device there, PHY not up yet
        case ah::kPxSig:
            return link_up(port) && p.signature_received ? drives[port]->signature : 0xFFFF'FFFF;
        case ah::kPxTfd:
            return p.tfd;
        case ah::kPxCi:
            return p.ci;
        case ah::kPxIs:
            return p.is;
        case ah::kPxCmd: {
            uint32_t cmd = p.cmd;
            cmd = (cmd & ~(ah::kCmdListRunning | ah::kCmdFisReceiveRunning)) |
                  ((cmd & ah::kCmdStart) ? ah::kCmdListRunning : 0) |
                  ((cmd & ah::kCmdFisReceiveEnable) ? ah::kCmdFisReceiveRunning : 0);
            return cmd;
        }
        default:
            return p.regs[reg];
        }
    }

    void write32(uint32_t offset, uint32_t value) override {
        if (offset == ah::kGhc) {
            if ((value & ah::kGhcReset) != 0) {
                reset_at_ = clock_.now_us + reset_us;
                ghc_ = value;
                return;
            }
            ghc_ = (ghc_ & ah::kGhcReset) | value;
            return;
        }
        if (offset == ah::kBohc) {
            if ((value & ah::kBohcOsOwned) != 0 && !bios_never_releases)
                bohc_ = ah::kBohcOsOwned;
            else
                bohc_ |= value & ah::kBohcOsOwned;
            return;
        }
        if (offset < 0x100)
            return;
        const uint32_t port = (offset - 0x100) / 0x80;
        const uint32_t reg = (offset - 0x100) % 0x80;
        Port& p = ports_[port];
        switch (reg) {
        case ah::kPxClb:
        case ah::kPxClb + 4:
        case ah::kPxFb:
        case ah::kPxFb + 4:
            if ((p.cmd & (ah::kCmdStart | ah::kCmdFisReceiveEnable)) != 0)
                ++writes_to_list_base_while_running;
            p.regs[reg] = value;
            return;
        case ah::kPxIs:
        case ah::kPxSerr:
            if (reg == ah::kPxIs)
                p.is &= ~value;
            return;
        case ah::kPxCmd: {
            const bool starting = (value & ah::kCmdStart) && !(p.cmd & ah::kCmdStart);
            if (starting && (p.tfd & (ah::kTfdBusy | ah::kTfdDataRequest)) != 0)
                ++starts_while_busy;
            // The device's first D2H FIS (signature, status) arrives once FIS receive is on.
            if ((value & ah::kCmdFisReceiveEnable) && link_up(port) && !p.signature_received) {
                p.signature_received = true;
                p.tfd = 0x50;
            }
            if ((value & ah::kCmdSpinUp) && !(p.cmd & ah::kCmdSpinUp))
                p.spun_up_at = clock_.now_us;
            if (!(value & ah::kCmdStart))
                p.ci = 0; // clearing ST clears PxCI
            if (value & ah::kCmdListOverride) {
                p.tfd &= ~(ah::kTfdBusy | ah::kTfdDataRequest);
                value &= ~ah::kCmdListOverride;
            }
            p.cmd = value & ~(ah::kCmdListRunning | ah::kCmdFisReceiveRunning);
            return;
        }
        case ah::kPxCi:
            EXPECT_NE(p.cmd & ah::kCmdStart, 0u) << "command issued with the engine stopped";
            p.ci |= value;
            if (latency_us == 0)
                execute(port);
            else
                p.due = clock_.now_us + latency_us;
            return;
        default:
            p.regs[reg] = value;
        }
    }

    // A drive's device-side state, reached by port.
    FakeDrive& drive(uint32_t port) { return *drives[port]; }
    uint32_t port_tfd(uint32_t port) const { return ports_[port].tfd; }

private:
    struct Port {
        std::map<uint32_t, uint32_t> regs;
        uint32_t cmd = 0;
        uint32_t tfd = 0x7F; // no device yet
        uint32_t ci = 0;
        uint32_t is = 0;
        std::optional<uint64_t> spun_up_at;
        bool signature_received = false;
        std::optional<uint64_t> due;
    };

    bool staggered() const { return (cap & ah::kCapStaggeredSpinUp) != 0; }
    bool device_seen(uint32_t port) const {
        if (!drives[port] || !reset_done_at_)
            return false;
        return !staggered() || ports_[port].spun_up_at.has_value();
    }
    bool link_up(uint32_t port) const {
        if (!drives[port] || !reset_done_at_)
            return false;
        const Port& p = ports_[port];
        uint64_t from = *reset_done_at_;
        if (staggered()) {
            if (!p.spun_up_at)
                return false;
            from = std::max(from, *p.spun_up_at);
        }
        return clock_.now_us >= from + link_up_us;
    }

    void tick(uint64_t now) {
        if (reset_at_ && now >= *reset_at_ && !reset_sticks) {
            reset_at_.reset();
            ghc_ &= ~(ah::kGhcReset | ah::kGhcAhciEnable);
            reset_done_at_ = now;
            for (uint32_t i = 0; i < 32; ++i) {
                ports_[i] = Port{};
                if (drives[i])
                    ports_[i].tfd = 0x80; // BSY until the first D2H FIS is received
            }
        }
        for (uint32_t i = 0; i < 32; ++i) {
            if (ports_[i].due && now >= *ports_[i].due) {
                ports_[i].due.reset();
                execute(i);
            }
        }
    }

    uint64_t port_reg64(uint32_t port, uint32_t reg) {
        Port& p = ports_[port];
        return uint64_t(p.regs[reg]) | uint64_t(p.regs[reg + 4]) << 32;
    }

    void execute(uint32_t port) {
        Port& p = ports_[port];
        if (never_complete || (p.ci & 1) == 0)
            return;
        FakeDrive& d = *drives[port];
        const uint64_t list = port_reg64(port, ah::kPxClb);
        ah::CommandHeader header;
        if (uint8_t* h = dma_.at(list, sizeof header))
            std::memcpy(&header, h, sizeof header);
        ah::RegisterH2dFis fis;
        if (uint8_t* f = dma_.at(header.table_address, sizeof fis))
            std::memcpy(&fis, f, sizeof fis);
        EXPECT_EQ(header.flags & 0x1F, 5u) << "CFL: a 5-dword FIS";
        EXPECT_EQ(fis.type, ah::kFisTypeRegisterH2d);
        EXPECT_EQ(fis.flags & ah::kFisCommand, ah::kFisCommand);
        std::vector<std::pair<uint64_t, uint32_t>> prds;
        for (uint32_t i = 0; i < header.prdt_length; ++i) {
            ah::PrdEntry e;
            if (uint8_t* q = dma_.at(header.table_address + ah::kPrdtOffset + 16 * i, 16))
                std::memcpy(&e, q, 16);
            EXPECT_EQ(e.data_address & 1, 0u) << "PRD data word aligned";
            EXPECT_EQ(e.byte_count & 1, 1u) << "PRD byte count even";
            prds.push_back({e.data_address, (e.byte_count & 0x3F'FFFF) + 1});
        }
        prd_counts.push_back(header.prdt_length);
        d.commands.push_back(fis.command);
        const uint64_t lba = uint64_t(fis.lba0) | uint64_t(fis.lba1) << 8 |
                             uint64_t(fis.lba2) << 16 | uint64_t(fis.lba3) << 24 |
                             uint64_t(fis.lba4) << 32 | uint64_t(fis.lba5) << 40;
        uint32_t count = uint32_t(fis.count_low) | uint32_t(fis.count_high) << 8;
        if (count == 0)
            count = 65536;
        const bool write = (header.flags & ah::kHeaderWrite) != 0;
        uint32_t moved = 0;
        uint8_t error = 0;
        auto move = [&](uint8_t* data, uint64_t bytes, bool to_memory) {
            uint64_t done = 0;
            for (auto [address, length] : prds) {
                const uint64_t piece = std::min<uint64_t>(length, bytes - done);
                if (piece == 0)
                    break;
                if (uint8_t* m = dma_.at(address, piece)) {
                    if (to_memory)
                        std::memcpy(m, data + done, piece);
                    else
                        std::memcpy(data + done, m, piece);
                }
                done += piece;
            }
            moved = static_cast<uint32_t>(done);
        };
        const uint32_t sector = d.disk.sector_size();
        if (d.fail_command && *d.fail_command == fis.command) {
            d.fail_command.reset();
            error = ah::kAtaErrorAbort;
        } else if (fis.command == ah::kAtaIdentifyDevice) {
            std::array<uint16_t, 256> words = d.identify();
            move(reinterpret_cast<uint8_t*>(words.data()), 512, true);
        } else if (fis.command == ah::kAtaReadDmaExt || fis.command == ah::kAtaWriteDmaExt ||
                   (fis.command == ah::kAtaWriteDmaFuaExt && d.fua)) {
            const bool is_write = fis.command != ah::kAtaReadDmaExt;
            EXPECT_EQ(is_write, write) << "header W bit matches the command";
            EXPECT_EQ(fis.device & ah::kDeviceLba, ah::kDeviceLba);
            if (lba + count > d.disk.sectors()) {
                error = ah::kAtaErrorIdNotFound | ah::kAtaErrorAbort;
            } else {
                std::vector<uint8_t> data(size_t(count) * sector);
                if (is_write) {
                    move(data.data(), data.size(), false);
                    d.disk.write(lba, data.data(), count,
                                 !d.write_cache || fis.command == ah::kAtaWriteDmaFuaExt);
                } else {
                    d.disk.read(lba, data.data(), count);
                    move(data.data(), data.size(), true);
                }
            }
        } else if ((fis.command == ah::kAtaFlushCacheExt && d.flush_ext) ||
                   (fis.command == ah::kAtaFlushCache && d.flush)) {
            d.disk.flush();
        } else {
            error = ah::kAtaErrorAbort;
        }
        header.bytes_transferred = moved;
        if (uint8_t* h = dma_.at(list, sizeof header))
            std::memcpy(h, &header, sizeof header);
        if (error != 0) {
            // The HBA stops: the slot stays issued, TFES is raised (6.2.2).
            p.tfd = 0x41 | uint32_t(error) << 8;
            p.is |= ah::kIsTaskFileError;
            return;
        }
        p.tfd = 0x50;
        p.ci &= ~1u;
    }

    FakeDmaMemory& dma_;
    FakeClock& clock_;
    uint32_t ghc_ = 0;
    uint32_t bohc_ = ah::kBohcBiosOwned;
    std::optional<uint64_t> reset_at_;
    std::optional<uint64_t> reset_done_at_;
    std::array<Port, 32> ports_{};
};

} // namespace halcyon::test
