#include "vmm/worker/vm_platform.hpp"

#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/tsc.hpp"
#include "vmm/partition/object_memory.hpp"
#include "vmm/worker/devices/platform.hpp"
#include "vmm/worker/vm.hpp"
#include "vmm/worker/vm_bootstrap.hpp"
#include "vmm/worker/vm_vmbus.hpp"

#include <new>

namespace halcyon::worker {
namespace {

// The guests' wall clock starts at this date (2026-01-01 00:00:00 UTC) when the host boots:
// the core has no clock of its own yet. Guests may set the CMOS clock; NTP fixes the rest.
constexpr int64_t kEpochSeconds = 1'767'225'600;

uint64_t min(uint64_t a, uint64_t b) {
    return a < b ? a : b;
}

} // namespace

VmPlatform::VmPlatform(Vm& vm, uint64_t now)
    : vm_(vm), io_apic_(static_cast<uint8_t>(vm.config.vcpus), *this),
      pit_(x86::tsc::frequency_hz(), now, io_apic_.line(platform::kPitGsi)),
      rtc_(x86::tsc::frequency_hz(), now,
           kEpochSeconds +
               static_cast<int64_t>((now - x86::tsc::entry_tsc()) / x86::tsc::frequency_hz())),
      acpi_(x86::tsc::frequency_hz(), now, io_apic_.line(platform::kSciGsi)),
      uart_(platform::kCom1Base, vm.config.name, vm.console, &io_apic_.line(platform::kCom1Gsi),
            vm.bootstrap != nullptr ? vm.bootstrap->console_lines() : nullptr),
      scratch_enabled_(vm.config.test_devices) {}

ErrorOr<VmPlatform*> VmPlatform::create(Vm& vm) {
    void* memory = vmm::allocate_object(sizeof(VmPlatform), alignof(VmPlatform));
    if (memory == nullptr)
        return Error(ErrorCode::out_of_memory, "no memory for the VM's devices");
    auto* platform = new (memory) VmPlatform(vm, x86::rdtsc());
    auto claimed = vm.partition->add_mmio_region(platform::kIoApicBase, platform::kIoApicSize);
    if (!claimed.is_error() && platform->scratch_enabled_)
        claimed = vm.partition->add_mmio_region(testing::MmioScratchPage::kBase,
                                                testing::MmioScratchPage::kSize);
    if (claimed.is_error()) {
        delete platform;
        return claimed.release_error();
    }
    return platform;
}

void VmPlatform::reset() {
    Vm& vm = vm_;
    uart_.flush();
    this->~VmPlatform();
    new (this) VmPlatform(vm, x86::rdtsc());
}

uint32_t VmPlatform::io_read(uint16_t port, uint8_t size, uint64_t now) {
    if (uint32_t value; vm_.bootstrap != nullptr && vm_.bootstrap->port_read(port, size, value))
        return value;
    if (uart_.claims(port))
        return uart_.read(port, size, now);
    if (pit_.claims(port))
        return pit_.read(port, size, now);
    if (acpi_.claims(port))
        return acpi_.read(port, size, now);
    if (rtc_.claims(port))
        return rtc_.read(port, size, now);
    if (pic_.claims(port))
        return pic_.read(port, size, now);
    // No device: an ISA bus floats high.
    return size == 4 ? 0xFFFF'FFFFu : (1u << (size * 8)) - 1;
}

void VmPlatform::io_write(uint16_t port, uint8_t size, uint32_t value, uint64_t now) {
    if (vm_.bootstrap != nullptr && vm_.bootstrap->port_write(port, size, value))
        return;
    if (uart_.claims(port))
        uart_.write(port, size, value, now);
    else if (pit_.claims(port))
        pit_.write(port, size, value, now);
    else if (acpi_.claims(port))
        acpi_.write(port, size, value, now);
    else if (rtc_.claims(port))
        rtc_.write(port, size, value, now);
    else if (pic_.claims(port))
        pic_.write(port, size, value, now);
}

uint64_t VmPlatform::next_deadline() const {
    const uint64_t devices = min(pit_.next_deadline(), acpi_.next_deadline());
    return vm_.vmbus != nullptr ? min(devices, vm_.vmbus->next_tick()) : devices;
}

void VmPlatform::update(uint64_t now) {
    pit_.update(now);
    acpi_.update(now);
    if (vm_.vmbus != nullptr)
        vm_.vmbus->tick(now);
}

void VmPlatform::deliver(const InterruptMessage& message) {
    vmm::lapic::Ipi ipi;
    ipi.destination = message.destination;
    ipi.logical = message.logical;
    ipi.mode = static_cast<vmm::lapic::DeliveryMode>(message.delivery_mode);
    ipi.vector = message.vector;
    ipi.level_triggered = message.level_triggered;
    ipi.source_apic_id = ~0u; // not a local APIC: no "self"
    vm_.partition->deliver_interrupt(ipi);
}

ErrorOr<uint64_t> VmPlatform::Mmio::read(uint64_t gpa, unsigned size) {
    if (gpa - platform::kIoApicBase < platform::kIoApicSize)
        return platform_.io_apic_.mmio_read(gpa - platform::kIoApicBase, size);
    if (platform_.scratch_enabled_ && platform_.scratch_.claims(gpa))
        return platform_.scratch_.mmio_read(gpa - testing::MmioScratchPage::kBase, size);
    return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

ErrorOr<void> VmPlatform::Mmio::write(uint64_t gpa, unsigned size, uint64_t value) {
    if (gpa - platform::kIoApicBase < platform::kIoApicSize)
        platform_.io_apic_.mmio_write(gpa - platform::kIoApicBase, size, value);
    else if (platform_.scratch_enabled_ && platform_.scratch_.claims(gpa))
        platform_.scratch_.mmio_write(gpa - testing::MmioScratchPage::kBase, size, value);
    return {};
}

} // namespace halcyon::worker
