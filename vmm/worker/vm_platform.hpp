// The devices of one VM's PC platform (the numbers are in vmm/worker/devices/platform.hpp and
// match the ACPI tables the Linux loader builds): IOAPIC, PIT, the masked 8259 pair, the CMOS
// clock, ACPI fixed hardware (power-off, reset, PM timer, power button) and COM1; plus the
// MMIO scratch page of test VMs (`test_devices = yes`).
//
// Interrupts: devices drive IOAPIC pins; the IOAPIC sends messages that this class hands to the
// partition's virtual local APICs (Partition::deliver_interrupt). Every call comes with the
// VM's lock held.
#pragma once

#include "lib/base/error_or.hpp"
#include "vmm/emulate/emulator.hpp"
#include "vmm/worker/devices/acpi_pm.hpp"
#include "vmm/worker/devices/cmos_rtc.hpp"
#include "vmm/worker/devices/interrupt_line.hpp"
#include "vmm/worker/devices/io_apic.hpp"
#include "vmm/worker/devices/pic8259.hpp"
#include "vmm/worker/devices/pit8254.hpp"
#include "vmm/worker/devices/uart16550.hpp"
#include "vmm/worker/testing/mmio_scratch_page.hpp"

#include <stdint.h>

namespace halcyon::worker {

class Vm;

class VmPlatform final : public MsiTarget {
public:
    // Creates the devices and claims their MMIO ranges in the VM's partition.
    [[nodiscard]] static ErrorOr<VmPlatform*> create(Vm& vm);
    // Every device back to its power-on state (a guest reboot).
    void reset();

    [[nodiscard]] uint32_t io_read(uint16_t port, uint8_t size, uint64_t now);
    void io_write(uint16_t port, uint8_t size, uint32_t value, uint64_t now);
    [[nodiscard]] emulate::MmioBus& mmio() { return mmio_; }

    // The earliest TSC at which a device has something to do, and doing it.
    [[nodiscard]] uint64_t next_deadline() const;
    void update(uint64_t now);

    void end_of_interrupt(uint8_t vector) { io_apic_.end_of_interrupt(vector); }
    [[nodiscard]] bool poweroff_requested() const { return acpi_.poweroff_requested(); }
    [[nodiscard]] bool reset_requested() const { return acpi_.reset_requested(); }
    void press_power_button() { acpi_.press_power_button(); }
    void flush_console() { uart_.flush(); }
    // Console input (Connect-VM) for COM1's receiver; false when its queue is full.
    [[nodiscard]] bool console_input(uint8_t byte) { return uart_.receive(byte); }

    void deliver(const InterruptMessage& message) override;

private:
    class Mmio final : public emulate::MmioBus {
    public:
        explicit Mmio(VmPlatform& platform) : platform_(platform) {}
        ErrorOr<uint64_t> read(uint64_t gpa, unsigned size) override;
        ErrorOr<void> write(uint64_t gpa, unsigned size, uint64_t value) override;

    private:
        VmPlatform& platform_;
    };

    VmPlatform(Vm& vm, uint64_t now);

    Vm& vm_;
    IoApic io_apic_;
    Pit8254 pit_;
    DualPic8259 pic_;
    CmosRtc rtc_;
    AcpiPm acpi_;
    Uart16550 uart_;
    testing::MmioScratchPage scratch_;
    bool scratch_enabled_;
    Mmio mmio_{*this};
};

} // namespace halcyon::worker
