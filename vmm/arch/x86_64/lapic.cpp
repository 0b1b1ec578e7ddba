// Local APIC access in xAPIC (MMIO) and x2APIC (MSR) mode (see lapic.hpp). Register offsets and
// ICR encodings: Intel SDM vol. 3, chapter 11 (APIC).
#include "vmm/arch/x86_64/lapic.hpp"

#include "boot/handoff/handoff.hpp"
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/smp_clock.hpp"
#include "vmm/core/log.hpp"

namespace halcyon::x86::lapic {
namespace {

// xAPIC register offsets (the x2APIC MSR is 0x800 + offset / 16).
enum class Register : uint32_t {
    id = 0x20,
    version = 0x30,
    task_priority = 0x80,
    end_of_interrupt = 0xB0,
    spurious_vector = 0xF0,
    error_status = 0x280,
    command_low = 0x300,
    command_high = 0x310,
};

// IA32_APIC_BASE bits.
constexpr uint64_t kApicBaseX2apicEnable = 1ull << 10;
constexpr uint64_t kApicBaseGlobalEnable = 1ull << 11;
constexpr uint64_t kApicBaseAddressMask = 0x000F'FFFF'FFFF'F000ull;

constexpr uint32_t kSvrSoftwareEnable = 1u << 8;

// ICR low word.
constexpr uint32_t kDeliveryFixed = 0u << 8;
constexpr uint32_t kDeliveryInit = 5u << 8;
constexpr uint32_t kDeliveryStartup = 6u << 8;
constexpr uint32_t kDeliveryStatusPending = 1u << 12; // xAPIC only
constexpr uint32_t kLevelAssert = 1u << 14;

constexpr uint32_t kX2apicMsrBase = 0x800;
constexpr uint32_t kX2apicIcrMsr = 0x830;

constexpr uint64_t kIpiDeliveryTimeoutMicroseconds = 100'000;

Mode g_mode = Mode::uninitialized;
uint64_t g_xapic_base = 0;

[[nodiscard]] volatile uint32_t* xapic_register(Register reg) {
    return reinterpret_cast<volatile uint32_t*>(handoff::kDirectMapBase + g_xapic_base +
                                                static_cast<uint32_t>(reg));
}

[[nodiscard]] uint32_t read(Register reg) {
    if (g_mode == Mode::x2apic)
        return static_cast<uint32_t>(rdmsr(kX2apicMsrBase + static_cast<uint32_t>(reg) / 16));
    return *xapic_register(reg);
}

void write(Register reg, uint32_t value) {
    if (g_mode == Mode::x2apic)
        wrmsr(kX2apicMsrBase + static_cast<uint32_t>(reg) / 16, value);
    else
        *xapic_register(reg) = value;
}

[[nodiscard]] bool cpu_supports_x2apic() {
    return (cpuid(1).ecx & (1u << 21)) != 0;
}

[[nodiscard]] ErrorOr<void> send_ipi(uint32_t apic_id, uint32_t command) {
    if (g_mode == Mode::x2apic) {
        // One 64-bit write, destination in the high half; x2APIC has no delivery status bit.
        wrmsr(kX2apicIcrMsr, (static_cast<uint64_t>(apic_id) << 32) | command);
        return {};
    }
    // 0xFF is the broadcast destination in xAPIC mode.
    if (apic_id >= 0xFF)
        return Error(ErrorCode::out_of_range, "APIC ID 255 and above need x2APIC mode");
    // The high word must be written first: writing the low word sends the IPI.
    write(Register::command_high, apic_id << 24);
    write(Register::command_low, command);
    const Deadline deadline(kIpiDeliveryTimeoutMicroseconds);
    while ((read(Register::command_low) & kDeliveryStatusPending) != 0) {
        if (deadline.expired())
            return Error(ErrorCode::timeout, "IPI still pending after 100 ms");
        pause();
    }
    return {};
}

} // namespace

const char* mode_name(Mode mode) {
    switch (mode) {
    case Mode::uninitialized:
        return "uninitialized";
    case Mode::xapic:
        return "xAPIC";
    case Mode::x2apic:
        return "x2APIC";
    }
    return "?";
}

ErrorOr<void> initialize(uint64_t acpi_address) {
    if ((cpuid(1).edx & (1u << 9)) == 0)
        return Error(ErrorCode::not_supported, "CPU has no local APIC");
    const uint64_t apic_base = rdmsr(msr::kApicBase);
    g_xapic_base = apic_base & kApicBaseAddressMask;
    if (acpi_address != 0 && acpi_address != g_xapic_base)
        log::warn("local APIC: MADT says %#llx, IA32_APIC_BASE says %#llx; using the MSR",
                  static_cast<unsigned long long>(acpi_address),
                  static_cast<unsigned long long>(g_xapic_base));
    const bool firmware_chose_x2apic = (apic_base & kApicBaseX2apicEnable) != 0;
    g_mode = firmware_chose_x2apic || cpu_supports_x2apic() ? Mode::x2apic : Mode::xapic;
    return {};
}

Mode mode() {
    return g_mode;
}

uint64_t xapic_base() {
    return g_xapic_base;
}

void enable_this_cpu() {
    uint64_t apic_base = rdmsr(msr::kApicBase);
    if ((apic_base & kApicBaseGlobalEnable) == 0) {
        apic_base |= kApicBaseGlobalEnable;
        wrmsr(msr::kApicBase, apic_base);
    }
    // x2APIC can only be entered from enabled xAPIC mode, hence the two steps.
    if (g_mode == Mode::x2apic && (apic_base & kApicBaseX2apicEnable) == 0)
        wrmsr(msr::kApicBase, apic_base | kApicBaseX2apicEnable);
    write(Register::task_priority, 0);
    write(Register::spurious_vector, kSvrSoftwareEnable | kSpuriousVector);
    (void)read_error_status();
}

uint32_t current_id() {
    const uint32_t id = read(Register::id);
    return g_mode == Mode::x2apic ? id : id >> 24;
}

ErrorOr<void> send_init(uint32_t apic_id) {
    return send_ipi(apic_id, kDeliveryInit | kLevelAssert);
}

ErrorOr<void> send_startup(uint32_t apic_id, uint8_t vector_page) {
    return send_ipi(apic_id, kDeliveryStartup | kLevelAssert | vector_page);
}

ErrorOr<void> send_fixed(uint32_t apic_id, uint8_t vector) {
    if (vector < 16)
        return Error(ErrorCode::invalid_argument, "fixed IPI vectors 0-15 are illegal");
    return send_ipi(apic_id, kDeliveryFixed | kLevelAssert | vector);
}

void end_of_interrupt() {
    write(Register::end_of_interrupt, 0);
}

uint32_t read_error_status() {
    // The ESR is latched by a write (xAPIC); in x2APIC mode only the value 0 may be written.
    write(Register::error_status, 0);
    return read(Register::error_status);
}

} // namespace halcyon::x86::lapic
