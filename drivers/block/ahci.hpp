// Polled AHCI driver for SATA disks (AHCI 1.3.1, ACS-3): BIOS/OS hand-off, HBA reset, port
// detection, and per port with an ATA disk: command list and received-FIS area, IDENTIFY
// DEVICE, READ/WRITE DMA EXT (WRITE DMA FUA EXT when the drive has it) and FLUSH CACHE (EXT).
// One command in flight per port, in slot 0; after a failed command the port is recovered
// (engine restarted, errors cleared) so the next one can run.
//
// The logic is written against RegisterWindow (the ABAR); start_pci() finds and maps BAR5.
#pragma once

#include "drivers/block/ahci_spec.hpp"
#include "drivers/block/ata_identify.hpp"
#include "drivers/block/block_device.hpp"
#include "drivers/block/register_window.hpp"
#include "drivers/net/device_memory.hpp"
#include "drivers/pci/pci.hpp"
#include "lib/base/error_or.hpp"

#include <stdint.h>

namespace halcyon::drivers::block {

[[nodiscard]] bool is_ahci(const pci::Function& function);

struct AhciOptions {
    uint64_t handoff_timeout_us = 2'000'000;   // the BIOS may take 2 s to let go (10.6.3)
    uint64_t hba_reset_timeout_us = 1'000'000; // GHC.HR clears within 1 s (10.4.3)
    uint64_t link_settle_us = 50'000;     // an empty port shows no device by then (SATA OOB: 10 ms)
    uint64_t link_timeout_us = 1'000'000; // all ports' PHYs, together, after the reset
    uint64_t engine_timeout_us = 500'000; // PxCMD.CR / FR follow ST / FRE (10.1.2)
    uint64_t device_ready_timeout_us = 10'000'000; // BSY clear after reset (a spinning disk)
    uint64_t io_timeout_us = 30'000'000;           // one command, including FLUSH CACHE
    uint32_t max_transfer_bytes = 1u << 20;
};

class AhciController;

// One SATA disk on an AHCI port.
class AhciPort final : public BlockDevice {
public:
    [[nodiscard]] uint32_t port() const { return port_; }

private:
    friend class AhciController;
    static constexpr uint32_t kMaxPrdEntries = 8;
    // Layout of the port's DMA page.
    static constexpr size_t kCommandListOffset = 0x000;  // 1 KiB aligned
    static constexpr size_t kReceivedFisOffset = 0x400;  // 256 B aligned
    static constexpr size_t kCommandTableOffset = 0x500; // 128 B aligned
    static constexpr size_t kIdentifyOffset = 0x800;

    [[nodiscard]] ErrorOr<void> transfer(bool write, uint64_t lba, uint32_t count,
                                         uint64_t device_address, bool fua) override;
    [[nodiscard]] ErrorOr<void> flush_cache() override;

    // Sets the port up and starts the disk on it; the reason when the device is not a disk.
    [[nodiscard]] ErrorOr<const char*> bring_up(AhciController& controller, uint32_t port,
                                                DmaAllocator& dma);
    [[nodiscard]] ErrorOr<void> identify();
    [[nodiscard]] ErrorOr<void> stop_engine();
    // FIS receive on, then wait for the device's first FIS (not busy any more).
    [[nodiscard]] ErrorOr<void> receive_fises();
    // Runs `fis` in slot 0 with `bytes` of data at `address` (0 bytes: none) and waits.
    [[nodiscard]] ErrorOr<void> issue(const ahci::RegisterH2dFis& fis, uint64_t address,
                                      uint32_t bytes, bool write);
    // After an error: restart the command engine with the error state cleared (6.2.2.1).
    void recover();
    [[nodiscard]] uint32_t reg(uint32_t offset) const { return ahci::port_base(port_) + offset; }

    AhciController* controller_ = nullptr;
    uint32_t port_ = 0;
    DmaRegion memory_;
    ata::IdentifyInfo identify_;
};

class AhciController {
public:
    enum class PortState : uint8_t { not_implemented, no_device, not_a_disk, failed, started };

    // Takes the HBA from the BIOS, resets it and brings up every port with an ATA disk. Fails
    // only when the HBA itself does; a port's failure is recorded (port_state/port_error).
    // `registers`, `dma` and `delay` must outlive the controller.
    [[nodiscard]] ErrorOr<void> start(RegisterWindow& registers, DmaAllocator& dma, Delay& delay,
                                      const AhciOptions& options = {});
    // The PCI part: checks the class code, maps BAR5 (ABAR), turns message interrupts off,
    // enables memory decoding and bus mastering, then start().
    [[nodiscard]] ErrorOr<void> start_pci(pci::ConfigSpace& config, const pci::Function& function,
                                          MmioMapper& mmio, DmaAllocator& dma, Delay& delay,
                                          const AhciOptions& options = {});

    [[nodiscard]] PortState port_state(uint32_t port) const { return states_[port & 31]; }
    // Why a port in state not_a_disk or failed has no disk.
    [[nodiscard]] const char* port_error(uint32_t port) const { return errors_[port & 31]; }
    // The started disks, in port order.
    [[nodiscard]] size_t disk_count() const { return disk_count_; }
    [[nodiscard]] AhciPort& disk(size_t index) { return ports_[disk_ports_[index]]; }
    [[nodiscard]] uint32_t capabilities() const { return cap_; }

private:
    friend class AhciPort;

    [[nodiscard]] ErrorOr<void> take_ownership();
    [[nodiscard]] ErrorOr<void> reset_hba();
    [[nodiscard]] bool addressable(uint64_t device_address, uint64_t bytes) const;

    RegisterWindow* registers_ = nullptr;
    MmioRegisterWindow mmio_registers_; // used by start_pci()
    Delay* delay_ = nullptr;
    AhciOptions options_;
    uint32_t cap_ = 0;
    uint32_t implemented_ = 0;
    PortState states_[ahci::kMaxPorts] = {};
    const char* errors_[ahci::kMaxPorts] = {};
    AhciPort ports_[ahci::kMaxPorts];
    uint8_t disk_ports_[ahci::kMaxPorts] = {};
    size_t disk_count_ = 0;
};

} // namespace halcyon::drivers::block
