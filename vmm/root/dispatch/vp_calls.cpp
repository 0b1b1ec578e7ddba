// The calls on a child's virtual processors, intercepts and interrupts
// (docs/management-partition.md).
#include "vmm/core/log.hpp"
#include "vmm/lapic/ipi.hpp"
#include "vmm/root/codec.hpp"
#include "vmm/root/dispatch/handlers.hpp"
#include "vmm/root/registers.hpp"

namespace halcyon::vmm::root {
namespace {

CallResult done(Status status, uint32_t reps = 0) {
    return CallResult{status, static_cast<uint16_t>(reps)};
}

// The header of a register call and the child and VP it names: initialized partition,
// existing VP.
ChildRecord* read_vp_header(CallContext& context, VpRegistersHeader& header, Status& status) {
    ChildRecord* record = read_child_input<size::kVpRegistersHeader>(
        context, decode_vp_registers_header, header, status);
    if (record != nullptr && header.vp_index >= record->vp_count) {
        status = Status::invalid_vp_index;
        return nullptr;
    }
    return record;
}

// A copy of everything the register calls can name on one VP of a child.
VpRegisterState vp_register_state(ChildRecord& record, uint32_t vp_index) {
    VpRegisterState state;
    state.general = record.partition->registers(vp_index);
    state.system = record.partition->system_registers(vp_index);
    state.explicit_suspend = record.vp_suspended[vp_index];
    return state;
}

lapic::DeliveryMode delivery_mode(uint32_t type) {
    switch (type) {
    case interrupt_type::kLowestPriority:
        return lapic::DeliveryMode::lowest_priority;
    case interrupt_type::kNmi:
        return lapic::DeliveryMode::nmi;
    case interrupt_type::kInit:
        return lapic::DeliveryMode::init;
    case interrupt_type::kSipi:
        return lapic::DeliveryMode::startup;
    default:
        return lapic::DeliveryMode::fixed;
    }
}

} // namespace

CallResult install_intercept(CallContext& context) {
    InstallInterceptInput input;
    Status status;
    ChildRecord* record = read_child_input<size::kInstallInterceptInput>(
        context, decode_install_intercept, input, status);
    if (record == nullptr)
        return done(status);
    switch (input.intercept_type) {
    case intercept::kTypeIoPort:
        // Every port of a child reaches the root already (the core emulates no device for
        // it): accepted, nothing to change.
        ++record->io_port_intercepts;
        return done(Status::success);
    case intercept::kTypeCpuid:
        return done(record->cpuid.install(static_cast<uint32_t>(input.parameter)));
    default: // global CPUID (decode_install_intercept allows nothing else)
        record->cpuid.install_all();
        return done(Status::success);
    }
}

CallResult create_vp(CallContext& context) {
    CreateVpInput input;
    Status status;
    ChildRecord* record =
        read_child_input<size::kCreateVpInput>(context, decode_create_vp, input, status);
    if (record == nullptr)
        return done(status);
    // VPs are numbered in creation order, as the partition numbers its vCPUs.
    if (input.vp_index != record->vp_count || input.vp_index >= kMaxChildVps)
        return done(Status::invalid_vp_index);
    if (status = record->charge(kVpChargePages); status != Status::success)
        return done(status);
    // Running from the start: a child's VP runs only when the root dispatches it, in whatever
    // state the root gave it (no INIT/SIPI protocol between the two).
    auto created = record->partition->create_vcpu(true);
    if (created.is_error()) {
        record->charged_pages -= kVpChargePages;
        log::warn("vm %s: partition %llu: VP %u: %s", context.state.root.name(),
                  static_cast<unsigned long long>(record->id), input.vp_index,
                  created.error().message());
        return done(Status::insufficient_memory);
    }
    ++record->vp_count;
    return done(Status::success);
}

CallResult get_vp_registers(CallContext& context) {
    VpRegistersHeader header;
    Status status;
    ChildRecord* record = read_vp_header(context, header, status);
    if (record == nullptr)
        return done(status);
    VpRegisterState state = vp_register_state(*record, header.vp_index);
    for (uint32_t i = context.params.rep_start(); i < context.params.rep_count(); ++i) {
        uint8_t name[size::kRegisterName];
        if (!context.params.read_element(i, name))
            return done(Status::invalid_alignment, i);
        RegisterValue value;
        if (status = read_register(decode_register_name(name), state, value);
            status != Status::success)
            return done(status, i);
        uint8_t out[size::kRegisterValue];
        encode_register_value(value, out);
        if (!context.params.write_element(i, out))
            return done(Status::invalid_alignment, i);
    }
    return done(Status::success, context.params.rep_count());
}

CallResult set_vp_registers(CallContext& context) {
    VpRegistersHeader header;
    Status status;
    ChildRecord* record = read_vp_header(context, header, status);
    if (record == nullptr)
        return done(status);
    Partition& child = *record->partition;
    VpRegisterState state = vp_register_state(*record, header.vp_index);
    // Registers are set one by one into a copy; the copy goes back whatever happens, so the
    // elements before a failing one take effect (the reps completed) and the rest do not.
    CallResult result = done(Status::success, context.params.rep_count());
    for (uint32_t i = context.params.rep_start(); i < context.params.rep_count(); ++i) {
        uint8_t element[size::kRegisterAssoc];
        if (!context.params.read_element(i, element)) {
            result = done(Status::invalid_alignment, i);
            break;
        }
        RegisterAssoc assoc;
        if (status = decode_register_assoc(element, assoc); status == Status::success)
            status = write_register(assoc.name, assoc.value, state);
        if (status != Status::success) {
            result = done(status, i);
            break;
        }
    }
    child.registers(header.vp_index) = state.general;
    child.set_system_registers(header.vp_index, state.system);
    record->vp_suspended[header.vp_index] = state.explicit_suspend;
    return result;
}

CallResult assert_virtual_interrupt(CallContext& context) {
    AssertInterruptInput input;
    Status status;
    ChildRecord* record = read_child_input<size::kAssertInterruptInput>(
        context, decode_assert_interrupt, input, status);
    if (record == nullptr)
        return done(status);
    // An interrupt message, as an IOAPIC or MSI would send it: the child's local APICs it
    // addresses take it at their next entry (a halted VP wakes when next dispatched).
    lapic::Ipi message;
    message.destination = static_cast<uint32_t>(input.destination);
    message.logical = input.logical_destination;
    message.mode = delivery_mode(input.interrupt_type);
    message.vector = static_cast<uint8_t>(input.vector);
    message.level_triggered = input.level_triggered;
    record->partition->deliver_interrupt(message);
    return done(Status::success);
}

CallResult signal_event_direct(CallContext& context) {
    SignalEventDirectInput input;
    Status status;
    ChildRecord* record = read_child_input<size::kSignalEventDirectInput>(
        context, decode_signal_event_direct, input, status);
    if (record == nullptr)
        return done(status);
    if (input.vp_index >= record->vp_count)
        return done(Status::invalid_vp_index);
    const hyperv::DeliveryResult delivered =
        record->partition->signal_event(input.vp_index, input.sint, input.flag_number);
    if (delivered != hyperv::DeliveryResult::delivered)
        return done(Status::invalid_synic_state); // SynIC, SIEF page or SINT off
    // newly_signaled (byte 0) stays 0: the SynIC raises the interrupt only for a clear flag
    // but does not report which case it was (docs/management-partition.md).
    uint8_t output[size::kSignalEventDirectOutput] = {};
    return done(context.params.write_output(output) ? Status::success : Status::invalid_alignment);
}

} // namespace halcyon::vmm::root
