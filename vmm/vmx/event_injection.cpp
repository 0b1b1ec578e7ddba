#include "vmm/vmx/event_injection.hpp"

#include "vmm/vmx/control_bits.hpp"

namespace halcyon::vmx {
namespace {

constexpr uint8_t kNmiVector = 2;

} // namespace

bool exception_has_error_code(uint8_t vector) {
    switch (vector) {
    case 8:  // #DF
    case 10: // #TS
    case 11: // #NP
    case 12: // #SS
    case 13: // #GP
    case 14: // #PF
    case 17: // #AC
    case 21: // #CP
        return true;
    default:
        return false;
    }
}

EventInjection exception_injection(uint8_t vector, bool has_error_code, uint32_t error_code,
                                   bool protected_mode) {
    (void)has_error_code; // the architecture decides, see the header
    const bool deliver = protected_mode && exception_has_error_code(vector);
    return EventInjection{
        .info = make_interruption_info(EventType::hardware_exception, vector, deliver),
        .error_code = deliver ? error_code : 0,
    };
}

EventInjection interrupt_injection(uint8_t vector) {
    return EventInjection{.info =
                              make_interruption_info(EventType::external_interrupt, vector, false)};
}

EventInjection nmi_injection() {
    return EventInjection{.info = make_interruption_info(EventType::nmi, kNmiVector, false)};
}

std::optional<EventInjection> reinjection(uint32_t idt_vectoring_info,
                                          uint32_t idt_vectoring_error_code,
                                          uint32_t exit_instruction_length) {
    if (!event_valid(idt_vectoring_info))
        return std::nullopt;
    EventInjection injection;
    // Bit 12 of the IDT-vectoring information is undefined and bits 30:12 of the entry field
    // are reserved: only the defined bits go back.
    injection.info = idt_vectoring_info & interruption::kEntryDefined;
    if ((injection.info & interruption::kDeliverErrorCode) != 0)
        injection.error_code = idt_vectoring_error_code;
    switch (event_type(injection.info)) {
    case EventType::software_interrupt:
    case EventType::privileged_software_exception:
    case EventType::software_exception:
        injection.instruction_length = exit_instruction_length;
        break;
    default:
        break;
    }
    return injection;
}

bool can_inject_now(const EventInjection& injection, uint32_t state, uint64_t flags,
                    bool virtual_nmis) {
    if (!event_valid(injection.info))
        return true;
    switch (event_type(injection.info)) {
    case EventType::external_interrupt:
        // SDM 26.3.1.5: no STI or MOV-SS blocking, and RFLAGS.IF = 1 (else the interrupt would
        // be delivered to a guest that masked it).
        return (state & interruptibility::kShadow) == 0 && (flags & rflags::kIf) != 0;
    case EventType::nmi:
        // MOV-SS blocking always holds NMIs back; with virtual NMIs so does NMI blocking. STI
        // blocking is processor-specific for NMIs (some CPUs refuse the entry): wait for it too.
        if ((state & interruptibility::kShadow) != 0)
            return false;
        return !virtual_nmis || (state & interruptibility::kBlockingByNmi) == 0;
    default:
        return true;
    }
}

} // namespace halcyon::vmx
