#include "drivers/block/ahci.hpp"

#include "drivers/block/wait.hpp"
#include "drivers/pci/msi.hpp"

#include <string.h>

namespace halcyon::drivers::block {
namespace {

using namespace ahci;

constexpr uint64_t k4GiB = uint64_t(1) << 32;

RegisterH2dFis command_fis(uint8_t command) {
    RegisterH2dFis fis{};
    fis.type = kFisTypeRegisterH2d;
    fis.flags = kFisCommand;
    fis.command = command;
    return fis;
}

RegisterH2dFis lba48_fis(uint8_t command, uint64_t lba, uint16_t count) {
    RegisterH2dFis fis = command_fis(command);
    fis.lba0 = static_cast<uint8_t>(lba);
    fis.lba1 = static_cast<uint8_t>(lba >> 8);
    fis.lba2 = static_cast<uint8_t>(lba >> 16);
    fis.lba3 = static_cast<uint8_t>(lba >> 24);
    fis.lba4 = static_cast<uint8_t>(lba >> 32);
    fis.lba5 = static_cast<uint8_t>(lba >> 40);
    fis.device = kDeviceLba;
    fis.count_low = static_cast<uint8_t>(count);
    fis.count_high = static_cast<uint8_t>(count >> 8);
    return fis;
}

// The ATA error register of a command that ended with STS.ERR (ACS-3 6.3).
Error ata_error(uint8_t error, bool device_fault) {
    if (device_fault)
        return Error(ErrorCode::io, "ATA command failed: device fault");
    if ((error & kAtaErrorInterfaceCrc) != 0)
        return Error(ErrorCode::io, "ATA command failed: interface CRC error");
    if ((error & kAtaErrorUncorrectable) != 0)
        return Error(ErrorCode::io, "ATA command failed: uncorrectable data");
    if ((error & kAtaErrorIdNotFound) != 0)
        return Error(ErrorCode::out_of_range, "ATA command failed: sector not found");
    if ((error & kAtaErrorAbort) != 0)
        return Error(ErrorCode::io, "ATA command aborted by the device");
    return Error(ErrorCode::io, "ATA command failed");
}

} // namespace

bool is_ahci(const pci::Function& function) {
    return function.class_code == kPciClass && function.subclass == kPciSubclass &&
           function.prog_if == kPciProgIf && function.header_type == 0;
}

// ---- Controller ----

ErrorOr<void> AhciController::start(RegisterWindow& registers, DmaAllocator& dma, Delay& delay,
                                    const AhciOptions& options) {
    if (registers_ != nullptr)
        return Error(ErrorCode::already_exists, "AHCI controller already started");
    if (options.max_transfer_bytes < 4096 ||
        options.max_transfer_bytes > AhciPort::kMaxPrdEntries * uint64_t(kPrdMaxBytes))
        return Error(ErrorCode::invalid_argument, "AHCI transfer limit out of range");
    registers_ = &registers;
    delay_ = &delay;
    options_ = options;
    cap_ = registers.read32(kCap);
    if (cap_ == ~0u)
        return Error(ErrorCode::io, "AHCI controller reads as all-ones (absent)");
    TRY(take_ownership());
    TRY(reset_hba());
    implemented_ = registers.read32(kPortsImplemented);
    if (implemented_ == 0) {
        // PI is loaded by firmware; 0 after reset means "every port up to CAP.NP" on some HBAs.
        const uint32_t count = (cap_ & 0x1F) + 1;
        implemented_ = count >= 32 ? ~0u : (1u << count) - 1;
    }

    // Spin every port up (staggered spin-up HBAs wait for SUD), then let the PHYs report. A
    // device answers the reset's COMRESET within 10 ms (SATA OOB), so after a settle time a
    // port still without any device (DET 0) is empty; one that sees a device (DET 1) gets the
    // full link window to establish communication (DET 3). All ports share the wait.
    for (uint32_t port = 0; port < kMaxPorts; ++port) {
        if ((implemented_ & (1u << port)) == 0)
            continue;
        const uint32_t base = port_base(port);
        registers.write32(base + kPxCmd,
                          registers.read32(base + kPxCmd) | kCmdSpinUp | kCmdPowerOn);
    }
    uint64_t waited = 0;
    (void)poll_until(delay, options.link_timeout_us, [&] {
        bool settled = true;
        for (uint32_t port = 0; port < kMaxPorts; ++port) {
            if ((implemented_ & (1u << port)) == 0)
                continue;
            const uint32_t detect = registers.read32(port_base(port) + kPxSsts) & kSstsDetectMask;
            if (detect != kSstsDevicePresent && (detect != 0 || waited < options.link_settle_us))
                settled = false;
        }
        waited += kPollStepUs;
        return settled;
    });

    for (uint32_t port = 0; port < kMaxPorts; ++port) {
        if ((implemented_ & (1u << port)) == 0) {
            states_[port] = PortState::not_implemented;
            continue;
        }
        const uint32_t status = registers.read32(port_base(port) + kPxSsts);
        if ((status & kSstsDetectMask) != kSstsDevicePresent) {
            states_[port] = PortState::no_device;
            continue;
        }
        auto result = ports_[port].bring_up(*this, port, dma);
        if (result.is_error()) {
            states_[port] = PortState::failed;
            errors_[port] = result.error().message();
            continue;
        }
        if (result.value() != nullptr) {
            states_[port] = PortState::not_a_disk;
            errors_[port] = result.value();
            continue;
        }
        states_[port] = PortState::started;
        disk_ports_[disk_count_++] = static_cast<uint8_t>(port);
    }
    return {};
}

ErrorOr<void> AhciController::take_ownership() {
    // BIOS/OS hand-off (10.6.3): only when the HBA supports it.
    if ((registers_->read32(kCap2) & kCap2BiosHandoff) == 0)
        return {};
    registers_->write32(kBohc, registers_->read32(kBohc) | kBohcOsOwned);
    const bool released = poll_until(*delay_, options_.handoff_timeout_us, [&] {
        const uint32_t bohc = registers_->read32(kBohc);
        return (bohc & (kBohcBiosOwned | kBohcBiosBusy)) == 0;
    });
    if (!released)
        return Error(ErrorCode::timeout, "AHCI BIOS did not release the controller");
    return {};
}

ErrorOr<void> AhciController::reset_hba() {
    // AE first: some HBAs only take HR in AHCI mode. The reset clears AE again.
    registers_->write32(kGhc, kGhcAhciEnable);
    registers_->write32(kGhc, kGhcAhciEnable | kGhcReset);
    if (!poll_until(*delay_, options_.hba_reset_timeout_us,
                    [&] { return (registers_->read32(kGhc) & kGhcReset) == 0; }))
        return Error(ErrorCode::timeout, "AHCI controller did not finish its reset (GHC.HR)");
    registers_->write32(kGhc, kGhcAhciEnable); // AHCI mode, interrupts off (polled)
    registers_->write32(kInterruptStatus, ~0u);
    return {};
}

bool AhciController::addressable(uint64_t device_address, uint64_t bytes) const {
    if ((cap_ & kCap64Bit) != 0)
        return true;
    return device_address < k4GiB && bytes <= k4GiB - device_address;
}

ErrorOr<void> AhciController::start_pci(pci::ConfigSpace& config, const pci::Function& function,
                                        MmioMapper& mmio, DmaAllocator& dma, Delay& delay,
                                        const AhciOptions& options) {
    if (!is_ahci(function))
        return Error(ErrorCode::not_supported, "not an AHCI controller (class 01/06/01)");
    const pci::Bar bar = TRY(pci::read_bar(config, function.address, kAbarIndex));
    if (bar.size == 0 || bar.io)
        return Error(ErrorCode::not_supported, "AHCI BAR5 (ABAR) is not a memory BAR");
    if (bar.base == 0)
        return Error(ErrorCode::not_found, "AHCI BAR5 has no address (firmware did not assign it)");
    // Generic registers plus the blocks of all 32 ports (an HBA may implement fewer, and its
    // BAR may then be smaller: map what it has, at least the generic block and one port).
    const uint64_t full = port_base(kMaxPorts);
    if (bar.size < port_base(1))
        return Error(ErrorCode::out_of_range, "AHCI BAR5 is too small for one port");
    const uint64_t window = bar.size < full ? bar.size : full;
    volatile uint8_t* base = TRY(mmio.map_mmio(bar.base, window));
    pci::disable_message_interrupts(config, function.address);
    pci::enable_memory_and_bus_master(config, function.address);
    mmio_registers_ = MmioRegisterWindow(base);
    // Ports whose registers would lie past the mapping must not be touched.
    const uint32_t implemented = mmio_registers_.read32(kPortsImplemented);
    for (uint32_t port = 0; port < kMaxPorts; ++port) {
        if ((implemented & (1u << port)) != 0 && port_base(port + 1) > window)
            return Error(ErrorCode::corrupt, "AHCI port registers lie past BAR5");
    }
    return start(mmio_registers_, dma, delay, options);
}

// ---- Port ----

ErrorOr<void> AhciPort::stop_engine() {
    RegisterWindow& r = *controller_->registers_;
    Delay& delay = *controller_->delay_;
    const uint64_t timeout = controller_->options_.engine_timeout_us;
    uint32_t cmd = r.read32(reg(kPxCmd));
    if ((cmd & kCmdStart) != 0)
        r.write32(reg(kPxCmd), cmd & ~kCmdStart);
    if (!poll_until(delay, timeout, [&] { return (r.read32(reg(kPxCmd)) & kCmdListRunning) == 0; }))
        return Error(ErrorCode::timeout, "AHCI port command engine did not stop (PxCMD.CR)");
    cmd = r.read32(reg(kPxCmd));
    if ((cmd & kCmdFisReceiveEnable) != 0)
        r.write32(reg(kPxCmd), cmd & ~kCmdFisReceiveEnable);
    if (!poll_until(delay, timeout,
                    [&] { return (r.read32(reg(kPxCmd)) & kCmdFisReceiveRunning) == 0; }))
        return Error(ErrorCode::timeout, "AHCI port FIS receive did not stop (PxCMD.FR)");
    return {};
}

ErrorOr<void> AhciPort::receive_fises() {
    RegisterWindow& r = *controller_->registers_;
    r.write32(reg(kPxCmd), r.read32(reg(kPxCmd)) | kCmdFisReceiveEnable);
    // The device's first D2H register FIS (its signature) clears BSY/DRQ; ST may be set only
    // once the device is not busy (10.3.1).
    if (!poll_until(*controller_->delay_, controller_->options_.device_ready_timeout_us,
                    [&] { return (r.read32(reg(kPxTfd)) & (kTfdBusy | kTfdDataRequest)) == 0; }))
        return Error(ErrorCode::timeout, "SATA device stays busy (PxTFD.BSY/DRQ)");
    return {};
}

ErrorOr<const char*> AhciPort::bring_up(AhciController& controller, uint32_t port,
                                        DmaAllocator& dma) {
    controller_ = &controller;
    port_ = port;
    info_ = DiskInfo{};
    info_.kind = Kind::ahci;
    RegisterWindow& r = *controller.registers_;
    TRY(stop_engine());
    memory_ = TRY(dma.allocate_dma(4096));
    if (!controller.addressable(memory_.device_address, memory_.size))
        return Error(ErrorCode::not_supported,
                     "AHCI controller without 64-bit addressing got memory above 4 GiB");
    r.write64(reg(kPxClb), memory_.device_address + kCommandListOffset);
    r.write64(reg(kPxFb), memory_.device_address + kReceivedFisOffset);
    r.write32(reg(kPxSerr), ~0u);
    r.write32(reg(kPxIs), ~0u);
    r.write32(reg(kPxIe), 0);
    TRY(receive_fises());
    // PxSIG holds the signature of that first FIS only now.
    const uint32_t signature = r.read32(reg(kPxSig));
    if (signature == kSignatureAtapi)
        return "ATAPI device (optical drive), not a disk";
    if (signature != kSignatureAta)
        return "not an ATA disk (port multiplier or unknown signature)";
    r.write32(reg(kPxCmd), r.read32(reg(kPxCmd)) | kCmdStart);
    TRY(identify());
    return static_cast<const char*>(nullptr);
}

ErrorOr<void> AhciPort::identify() {
    uint8_t* buffer = memory_.virt + kIdentifyOffset;
    memset(buffer, 0, ata::kIdentifyWords * 2);
    TRY(issue(command_fis(kAtaIdentifyDevice), memory_.device_address + kIdentifyOffset,
              ata::kIdentifyWords * 2, false));
    uint16_t words[ata::kIdentifyWords];
    memcpy(words, buffer, sizeof words);
    identify_ = TRY(ata::parse_identify(std::span<const uint16_t, ata::kIdentifyWords>(words)));
    if (!identify_.lba48)
        return Error(ErrorCode::not_supported, "ATA disk without 48-bit LBA (READ/WRITE DMA EXT)");
    memcpy(info_.model, identify_.model, sizeof info_.model);
    memcpy(info_.serial, identify_.serial, sizeof info_.serial);
    info_.sector_size = identify_.sector_size;
    info_.sector_count = identify_.sectors;
    info_.read_only = false;
    info_.volatile_cache = identify_.write_cache_enabled;
    info_.flush_command = identify_.flush_cache_ext || identify_.flush_cache;
    info_.native_fua = identify_.fua_ext;
    uint64_t max_sectors = controller_->options_.max_transfer_bytes / info_.sector_size;
    if (max_sectors > 65535)
        max_sectors = 65535; // a 16-bit count; 0 would mean 65536
    if (max_sectors == 0)
        return Error(ErrorCode::not_supported, "ATA sector is larger than the transfer limit");
    info_.max_transfer_sectors = static_cast<uint32_t>(max_sectors);
    started_ = true;
    return {};
}

ErrorOr<void> AhciPort::issue(const RegisterH2dFis& fis, uint64_t address, uint32_t bytes,
                              bool write) {
    if (failed_)
        return Error(ErrorCode::io, "disk stopped responding earlier; it needs a reset");
    if (bytes != 0 && ((address & 1) != 0 || (bytes & 1) != 0))
        return Error(ErrorCode::invalid_argument, "AHCI data must be word aligned, even length");
    if (bytes != 0 && !controller_->addressable(address, bytes))
        return Error(ErrorCode::not_supported,
                     "AHCI controller without 64-bit addressing got a buffer above 4 GiB");
    RegisterWindow& r = *controller_->registers_;
    auto* header = reinterpret_cast<CommandHeader*>(memory_.virt + kCommandListOffset);
    uint8_t* table = memory_.virt + kCommandTableOffset;
    memset(table, 0, kPrdtOffset + kMaxPrdEntries * sizeof(PrdEntry));
    memcpy(table + kCommandFisOffset, &fis, sizeof fis);
    auto* prds = reinterpret_cast<PrdEntry*>(table + kPrdtOffset);
    uint16_t prd_count = 0;
    for (uint32_t done = 0; done < bytes; ++prd_count) {
        if (prd_count == kMaxPrdEntries)
            return Error(ErrorCode::invalid_argument, "AHCI transfer needs too many PRD entries");
        const uint32_t left = bytes - done;
        const uint32_t piece = left < kPrdMaxBytes ? left : kPrdMaxBytes;
        prds[prd_count].data_address = address + done;
        prds[prd_count].byte_count = piece - 1; // 0-based; always odd as pieces are even
        done += piece;
    }
    header->flags = static_cast<uint16_t>(sizeof(RegisterH2dFis) / 4) | (write ? kHeaderWrite : 0);
    header->prdt_length = prd_count;
    header->bytes_transferred = 0;
    header->table_address = memory_.device_address + kCommandTableOffset;
    asm volatile("" ::: "memory"); // the command is in memory before the HBA is told

    r.write32(reg(kPxIs), ~0u);
    r.write32(reg(kPxCi), 1);
    uint32_t interrupt_status = 0;
    const bool finished =
        poll_until(*controller_->delay_, controller_->options_.io_timeout_us, [&] {
            interrupt_status = r.read32(reg(kPxIs));
            return (r.read32(reg(kPxCi)) & 1) == 0 || (interrupt_status & kIsErrors) != 0;
        });
    if (!finished) {
        // The HBA still owns slot 0 and may yet move data: the port is unusable from here.
        failed_ = true;
        return Error(ErrorCode::timeout, "AHCI command timed out");
    }
    const uint32_t tfd = r.read32(reg(kPxTfd));
    if ((interrupt_status & (kIsHostBusFatal | kIsHostBusData)) != 0) {
        recover();
        return Error(ErrorCode::io, "AHCI host bus error (bad DMA address?)");
    }
    if ((interrupt_status & kIsInterfaceFatal) != 0) {
        recover();
        return Error(ErrorCode::io, "SATA interface error");
    }
    if ((interrupt_status & kIsTaskFileError) != 0 || (tfd & (kTfdError | kTfdDeviceFault)) != 0) {
        const Error error = ata_error(static_cast<uint8_t>(tfd >> 8), (tfd & kTfdDeviceFault) != 0);
        recover();
        return error;
    }
    // A data command that completed without moving every byte did not do what was asked.
    if (bytes != 0 && header->bytes_transferred != bytes)
        return Error(ErrorCode::io, "AHCI command moved fewer bytes than asked");
    return {};
}

void AhciPort::recover() {
    RegisterWindow& r = *controller_->registers_;
    Delay& delay = *controller_->delay_;
    const uint64_t timeout = controller_->options_.engine_timeout_us;
    uint32_t cmd = r.read32(reg(kPxCmd));
    r.write32(reg(kPxCmd), cmd & ~kCmdStart);
    if (!poll_until(delay, timeout,
                    [&] { return (r.read32(reg(kPxCmd)) & kCmdListRunning) == 0; })) {
        failed_ = true;
        return;
    }
    r.write32(reg(kPxSerr), ~0u);
    r.write32(reg(kPxIs), ~0u);
    if ((r.read32(reg(kPxTfd)) & (kTfdBusy | kTfdDataRequest)) != 0) {
        // Still busy: Command List Override clears BSY/DRQ if the HBA can (3.3.7); without it
        // only a port reset would help, and the port is given up.
        if ((controller_->cap_ & kCapCommandListOverride) == 0) {
            failed_ = true;
            return;
        }
        r.write32(reg(kPxCmd), r.read32(reg(kPxCmd)) | kCmdListOverride);
        if (!poll_until(delay, timeout,
                        [&] { return (r.read32(reg(kPxCmd)) & kCmdListOverride) == 0; })) {
            failed_ = true;
            return;
        }
    }
    r.write32(reg(kPxCmd), r.read32(reg(kPxCmd)) | kCmdStart);
}

ErrorOr<void> AhciPort::transfer(bool write, uint64_t lba, uint32_t count, uint64_t device_address,
                                 bool fua) {
    const uint8_t command = !write ? kAtaReadDmaExt : (fua ? kAtaWriteDmaFuaExt : kAtaWriteDmaExt);
    return issue(lba48_fis(command, lba, static_cast<uint16_t>(count)), device_address,
                 count * info_.sector_size, write);
}

ErrorOr<void> AhciPort::flush_cache() {
    return issue(command_fis(identify_.flush_cache_ext ? kAtaFlushCacheExt : kAtaFlushCache), 0, 0,
                 false);
}

} // namespace halcyon::drivers::block
