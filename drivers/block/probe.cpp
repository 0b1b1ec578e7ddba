#include "drivers/block/probe.hpp"

#include "drivers/block/selftest.hpp"
#include "lib/format/format.hpp"

namespace halcyon::drivers::block {
namespace {

constexpr size_t kLineBytes = 256;

const char* flush_text(const DiskInfo& info) {
    if (info.flush_command)
        return "flush yes";
    return info.volatile_cache ? "flush no (volatile cache: writes are not durable)"
                               : "flush no (write-through)";
}

} // namespace

void format_disk_name(Kind kind, pci::Address address, uint32_t port, char* out, size_t size) {
    if (port == kNoPort)
        format::format(out, size, "%s %02x:%02x.%u", kind_name(kind), address.bus, address.device,
                       address.function);
    else
        format::format(out, size, "%s %02x:%02x.%u port %u", kind_name(kind), address.bus,
                       address.device, address.function, port);
}

void format_disk_line(const DiskEntry& disk, char* out, size_t size) {
    const DiskInfo& info = disk.device->info();
    char name[32];
    format_disk_name(info.kind, disk.address, disk.port, name, sizeof name);
    format::format(out, size,
                   "disk %s: %llu sectors of %u bytes (%llu MiB), model \"%s\", serial \"%s\", "
                   "%s, %s%s",
                   name, static_cast<unsigned long long>(info.sector_count), info.sector_size,
                   static_cast<unsigned long long>(info.capacity_bytes() >> 20), info.model,
                   info.serial, flush_text(info),
                   info.native_fua ? "fua yes" : "fua no (write + flush)",
                   info.read_only ? ", read-only" : "");
}

void DiskSet::add(BlockDevice& device, pci::Address address, uint32_t port, LineSink& sink) {
    if (count_ == kMaxDisks) {
        report_failure(device.info().kind, address, port, "too many disks (ignored)", sink);
        return;
    }
    DiskEntry& entry = entries_[count_++];
    entry.device = &device;
    entry.address = address;
    entry.port = port;
    char line[kLineBytes];
    format_disk_line(entry, line, sizeof line);
    sink.line(false, line);
}

void DiskSet::report_failure(Kind kind, pci::Address address, uint32_t port, const char* why,
                             LineSink& sink) {
    char name[32];
    format_disk_name(kind, address, port, name, sizeof name);
    char line[kLineBytes];
    format::format(line, sizeof line, "disk %s: not started: %s", name, why);
    sink.line(true, line);
}

void DiskSet::probe_ahci(pci::ConfigSpace& config, const pci::Function& function, MmioMapper& mmio,
                         DmaAllocator& dma, Delay& delay, LineSink& sink) {
    if (ahci_count_ == kMaxAhci) {
        report_failure(Kind::ahci, function.address, kNoPort, "too many AHCI controllers", sink);
        return;
    }
    AhciController& controller = ahci_[ahci_count_++];
    if (auto result = controller.start_pci(config, function, mmio, dma, delay); result.is_error()) {
        report_failure(Kind::ahci, function.address, kNoPort, result.error().message(), sink);
        return;
    }
    // Ports with something attached that is not a usable disk are reported too; empty ports
    // are not (a board has many).
    for (uint32_t port = 0; port < ahci::kMaxPorts; ++port) {
        const AhciController::PortState state = controller.port_state(port);
        if (state == AhciController::PortState::failed) {
            report_failure(Kind::ahci, function.address, port, controller.port_error(port), sink);
        } else if (state == AhciController::PortState::not_a_disk) {
            // An optical drive is normal, not a problem: information only.
            char name[32];
            format_disk_name(Kind::ahci, function.address, port, name, sizeof name);
            char line[kLineBytes];
            format::format(line, sizeof line, "disk %s: skipped: %s", name,
                           controller.port_error(port));
            sink.line(false, line);
        }
    }
    for (size_t i = 0; i < controller.disk_count(); ++i) {
        AhciPort& disk = controller.disk(i);
        add(disk, function.address, disk.port(), sink);
    }
}

size_t DiskSet::probe(pci::ConfigSpace& config, std::span<const pci::Function> functions,
                      MmioMapper& mmio, DmaAllocator& dma, Delay& delay, LineSink& sink) {
    for (const pci::Function& function : functions) {
        if (is_virtio_blk(function)) {
            if (virtio_count_ == kMaxVirtioBlk) {
                report_failure(Kind::virtio_blk, function.address, kNoPort, "too many devices",
                               sink);
                continue;
            }
            // A slot whose start failed stays used: its DMA memory may be known to the device.
            VirtioBlk& driver = virtio_[virtio_count_++];
            if (auto result = driver.start_pci(config, function, mmio, dma, delay);
                result.is_error())
                report_failure(Kind::virtio_blk, function.address, kNoPort,
                               result.error().message(), sink);
            else
                add(driver, function.address, kNoPort, sink);
        } else if (is_nvme(function)) {
            if (nvme_count_ == kMaxNvme) {
                report_failure(Kind::nvme, function.address, kNoPort, "too many controllers", sink);
                continue;
            }
            Nvme& driver = nvme_[nvme_count_++];
            if (auto result = driver.start_pci(config, function, mmio, dma, delay);
                result.is_error())
                report_failure(Kind::nvme, function.address, kNoPort, result.error().message(),
                               sink);
            else
                add(driver, function.address, kNoPort, sink);
        } else if (is_ahci(function)) {
            probe_ahci(config, function, mmio, dma, delay, sink);
        }
    }
    return count_;
}

size_t DiskSet::selftest(DmaAllocator& dma, LineSink& sink) {
    if (count_ == 0) {
        sink.line(true, "disk selftest: no disks");
        return 0;
    }
    auto buffer = dma.allocate_dma(kSelftestBytes);
    if (buffer.is_error()) {
        char line[kLineBytes];
        format::format(line, sizeof line, "disk selftest FAILED: no 1 MiB DMA buffer: %s",
                       buffer.error().message());
        sink.line(true, line);
        return 0;
    }
    size_t passed = 0;
    for (size_t i = 0; i < count_; ++i) {
        const DiskEntry& entry = entries_[i];
        char name[32];
        format_disk_name(entry.device->info().kind, entry.address, entry.port, name, sizeof name);
        char line[kLineBytes];
        auto outcome = run_selftest(*entry.device, buffer.value());
        if (outcome.is_error()) {
            format::format(line, sizeof line, "disk selftest FAILED: %s: %s", name,
                           outcome.error().message());
            sink.line(true, line);
        } else if (!outcome.value().ran) {
            format::format(line, sizeof line,
                           "disk selftest skipped: %s: no scratch marker in sector 0", name);
            sink.line(false, line);
        } else {
            format::format(line, sizeof line,
                           "disk selftest ok: %s, %u sectors at %llu (write + FUA, flush, read "
                           "back)",
                           name, outcome.value().sectors,
                           static_cast<unsigned long long>(outcome.value().first_sector));
            sink.line(false, line);
            ++passed;
        }
    }
    return passed;
}

} // namespace halcyon::drivers::block
