// Events VT-x delivers into the guest at VM entry and reports at VM exit (SDM vol. 3, 25.8.3
// "VM-Entry Controls for Event Injection", 25.9.2/25.9.3 "Information for VM Exits Due to
// Vectored Events / Occurring During Event Delivery", 28.2.4 / 31.7.1 re-injection).
//
// All three fields share one format: vector in bits 7:0, type in 10:8, "deliver error code" in
// bit 11, valid in bit 31 (the exit fields use bit 12 for NMI unblocking; entry wants it 0).
#pragma once

#include <optional>
#include <stdint.h>

namespace halcyon::vmx {

enum class EventType : uint8_t {
    external_interrupt = 0,
    nmi = 2,
    hardware_exception = 3,
    software_interrupt = 4,
    privileged_software_exception = 5, // INT1 (ICEBP)
    software_exception = 6,            // INT3, INTO
    other = 7,
};

namespace interruption {
inline constexpr uint32_t kVectorMask = 0xFF;
inline constexpr uint32_t kTypeShift = 8;
inline constexpr uint32_t kTypeMask = 7u << kTypeShift;
inline constexpr uint32_t kDeliverErrorCode = 1u << 11;
inline constexpr uint32_t kNmiUnblockingDueToIret = 1u << 12; // exit information only
inline constexpr uint32_t kValid = 1u << 31;
// What VM entry accepts: everything else must be zero.
inline constexpr uint32_t kEntryDefined = kValid | kDeliverErrorCode | kTypeMask | kVectorMask;
} // namespace interruption

[[nodiscard]] constexpr uint32_t make_interruption_info(EventType type, uint8_t vector,
                                                        bool deliver_error_code) {
    return interruption::kValid | (static_cast<uint32_t>(type) << interruption::kTypeShift) |
           (deliver_error_code ? interruption::kDeliverErrorCode : 0) | vector;
}
[[nodiscard]] constexpr EventType event_type(uint32_t info) {
    return static_cast<EventType>((info & interruption::kTypeMask) >> interruption::kTypeShift);
}
[[nodiscard]] constexpr uint8_t event_vector(uint32_t info) {
    return static_cast<uint8_t>(info & interruption::kVectorMask);
}
[[nodiscard]] constexpr bool event_valid(uint32_t info) {
    return (info & interruption::kValid) != 0;
}

// The three VM-entry fields of one injection.
struct EventInjection {
    uint32_t info = 0; // 0: nothing to inject
    uint32_t error_code = 0;
    uint32_t instruction_length = 0; // software interrupts and exceptions only

    friend bool operator==(const EventInjection&, const EventInjection&) = default;
};

// Whether a hardware exception pushes an error code in protected mode (#DF, #TS, #NP, #SS, #GP,
// #PF, #AC, #CP).
[[nodiscard]] bool exception_has_error_code(uint8_t vector);

// A hardware exception for the guest. VM entry insists that the "deliver error code" bit match
// the architecture (set exactly for the vectors above, and never while an unrestricted guest is
// in real mode, where no exception pushes one), so the caller's wish is corrected to that.
[[nodiscard]] EventInjection exception_injection(uint8_t vector, bool has_error_code,
                                                 uint32_t error_code, bool protected_mode);
[[nodiscard]] EventInjection interrupt_injection(uint8_t vector);
[[nodiscard]] EventInjection nmi_injection();

// The event to deliver again after an exit that interrupted its delivery (IDT-vectoring
// information valid), or nullopt. The event goes back exactly as it was: same type and vector,
// the saved error code, and for software interrupts/exceptions the instruction length the exit
// reported (the CPU needs it to push the right return address).
[[nodiscard]] std::optional<EventInjection> reinjection(uint32_t idt_vectoring_info,
                                                        uint32_t idt_vectoring_error_code,
                                                        uint32_t exit_instruction_length);

// Guest interruptibility state (SDM vol. 3, 25.4.2, table 25-3).
namespace interruptibility {
inline constexpr uint32_t kBlockingBySti = 1u << 0;
inline constexpr uint32_t kBlockingByMovSs = 1u << 1;
inline constexpr uint32_t kBlockingBySmi = 1u << 2;
inline constexpr uint32_t kBlockingByNmi = 1u << 3;
inline constexpr uint32_t kEnclaveInterruption = 1u << 4;
inline constexpr uint32_t kShadow = kBlockingBySti | kBlockingByMovSs;
} // namespace interruptibility

// Whether VM entry would accept injecting `injection` with the guest in this state; when it
// would not (the caller queued an interrupt the guest cannot take yet), the backend keeps the
// event pending and opens an interrupt or NMI window instead.
[[nodiscard]] bool can_inject_now(const EventInjection& injection, uint32_t interruptibility,
                                  uint64_t rflags, bool virtual_nmis);

} // namespace halcyon::vmx
