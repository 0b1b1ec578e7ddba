// HvDispatchVp (docs/management-partition.md, "Running a child"): the root lends its vCPU's
// time to a child's VP. The VP runs on the calling CPU, inside the root's hypercall, until
// something only the root can decide - an I/O port access, an intercepted CPUID, a HLT, a
// triple fault - which becomes an intercept message in SINT 0 of the calling root vCPU's
// SynIC; or until the root's CPU is due back with its scheduler (the end of the root's slice,
// a timer, a kick), the time slice the root asked for, or an event of the host.
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/preemption_timer.hpp"
#include "vmm/arch/x86_64/tsc.hpp"
#include "vmm/core/log.hpp"
#include "vmm/root/codec.hpp"
#include "vmm/root/dispatch/handlers.hpp"

namespace halcyon::vmm::root {
namespace {

// Without a slice of its own and without a scheduler deadline, a dispatch returns after this.
constexpr uint64_t kDefaultSliceMicroseconds = 10'000;
constexpr uint64_t kHundredNanosecondsPerSecond = 10'000'000;

CallResult done(Status status) {
    return CallResult{status, 0};
}

uint64_t earliest(uint64_t a, uint64_t b) {
    return a < b ? a : b;
}

// The TSC at which a slice of `time_slice` (100 ns units; 0: the default) ends.
uint64_t slice_end(uint64_t now, uint64_t time_slice) {
    const uint64_t hz = x86::tsc::frequency_hz();
    const uint64_t per_unit = hz / kHundredNanosecondsPerSecond;
    uint64_t ticks;
    if (time_slice == 0)
        ticks = hz / 1'000'000 * kDefaultSliceMicroseconds;
    else if (__builtin_mul_overflow(time_slice, per_unit == 0 ? 1 : per_unit, &ticks))
        ticks = ~uint64_t{0};
    return now + ticks < now ? ~uint64_t{0} : now + ticks;
}

// What a VP's run ended with, for the root.
struct Outcome {
    uint32_t message_type = 0; // 0: no message (the run was preempted)
    uint8_t payload[size::kIoPortMessage] = {};
    uint8_t payload_size = 0;
};

template <size_t N>
void set_payload(Outcome& outcome, uint32_t type, const std::array<uint8_t, N>& bytes) {
    static_assert(N <= sizeof(Outcome::payload));
    outcome.message_type = type;
    for (size_t i = 0; i < N; ++i)
        outcome.payload[i] = bytes[i];
    outcome.payload_size = static_cast<uint8_t>(N);
}

void set_header_only(Outcome& outcome, uint32_t type, const InterceptHeader& header) {
    outcome.message_type = type;
    encode_intercept_header(header, std::span(outcome.payload).first(size::kInterceptHeader));
    outcome.payload_size = size::kInterceptHeader;
}

// Builds the message for an intercept of `vp` (false: the run was only preempted).
bool intercept_message(RootState& state, ChildRecord& record, uint32_t vp,
                       const Intercept& intercept, Outcome& outcome) {
    Partition& child = *record.partition;
    const GeneralRegisters& regs = child.registers(vp);
    const SystemRegisters system = child.system_registers(vp);
    switch (intercept.kind) {
    case InterceptKind::io: {
        const uint64_t length = intercept.io.next_rip - regs.rip;
        const InterceptHeader header =
            intercept_header(vp, regs, system, static_cast<uint8_t>(length < 16 ? length : 0),
                             intercept.io.in ? access::kRead : access::kWrite);
        set_payload(outcome, message::kIoPortIntercept,
                    encode_io_port_message(header, intercept.io, regs, system));
        return true;
    }
    case InterceptKind::halted:
        // The HLT is done (RIP after it); the VP waits for an interrupt the root may assert.
        set_header_only(outcome, message::kHalt,
                        intercept_header(vp, regs, system, 0, access::kExecute));
        return true;
    case InterceptKind::yield: {
        CpuidExit cpuid;
        if (!state.cpuid[state.table.index_of(record)].take(vp, cpuid))
            return false;
        const InterceptHeader header =
            intercept_header(vp, regs, system, cpuid.instruction_length, access::kExecute);
        const CpuidResult result{cpuid.result.eax, cpuid.result.ebx, cpuid.result.ecx,
                                 cpuid.result.edx};
        set_payload(outcome, message::kCpuidIntercept, encode_cpuid_message(header, regs, result));
        return true;
    }
    case InterceptKind::shutdown:
    case InterceptKind::mmio: // a child has no MMIO regions of the root's
    case InterceptKind::failed:
        log::warn("vm %s: partition %llu VP %u cannot continue: %s", state.root.name(),
                  static_cast<unsigned long long>(record.id), vp,
                  intercept.kind == InterceptKind::shutdown ? "triple fault" : intercept.message);
        set_header_only(outcome, message::kUnrecoverableException,
                        intercept_header(vp, regs, system, 0, access::kExecute));
        return true;
    }
    return false;
}

} // namespace

CallResult dispatch_vp(CallContext& context) {
    RootState& state = context.state;
    DispatchVpInput input;
    Status status;
    ChildRecord* record =
        read_child_input<size::kDispatchVpInput>(context, decode_dispatch_vp, input, status);
    if (record == nullptr)
        return done(status);
    if (input.vp_index >= record->vp_count)
        return done(Status::invalid_vp_index);
    uint8_t output[size::kDispatchVpOutput];
    if (record->vp_suspended[input.vp_index]) {
        encode_dispatch_vp_output(dispatch::kStateBlocked, dispatch::kEventSuspend, output);
        return done(context.params.write_output(output) ? Status::success
                                                        : Status::invalid_alignment);
    }

    Partition& child = *record->partition;
    const uint32_t vp = input.vp_index;
    const uint64_t start = x86::rdtsc();
    const uint64_t slice = slice_end(start, input.time_slice);
    // Back with the root's scheduler by its deadline, within the slice, and out of the guest
    // for the VP's own timers (their interrupts are injected at the next entry).
    (void)x86::preemption_timer::arm(
        earliest(earliest(context.deadline, slice), child.timer_deadline(vp)));
    context.ran_child = true;
    auto ran = child.run_vcpu(vp);
    Intercept intercept;
    if (ran.is_error()) {
        intercept.kind = InterceptKind::failed;
        intercept.message = ran.error().message();
    } else {
        intercept = ran.value();
    }
    Outcome outcome;
    if (!intercept_message(state, *record, vp, intercept, outcome)) {
        // Preempted: the root dispatches again; its own vCPU gives the CPU to the scheduler
        // first, whose deadline or kick this was.
        const uint64_t now = x86::rdtsc();
        encode_dispatch_vp_output(dispatch::kStateReady,
                                  now >= slice && now < context.deadline
                                      ? dispatch::kEventTimeSliceEnd
                                      : dispatch::kEventPreempted,
                                  output);
        context.yield = now >= context.deadline || now < slice;
        return done(context.params.write_output(output) ? Status::success
                                                        : Status::invalid_alignment);
    }
    const hyperv::DeliveryResult posted =
        state.root.post_message(context.root_vp, kInterceptSint, outcome.message_type,
                                std::span(outcome.payload, outcome.payload_size));
    if (posted != hyperv::DeliveryResult::delivered && posted != hyperv::DeliveryResult::queued) {
        // No SynIC message page, SINT 0 masked, or its queue full: the VP stays where it is
        // (an I/O or CPUID is not completed, a HLT stays halted) and intercepts again.
        return done(Status::invalid_synic_state);
    }
    encode_dispatch_vp_output(dispatch::kStateReady, dispatch::kEventIntercept, output);
    return done(context.params.write_output(output) ? Status::success : Status::invalid_alignment);
}

} // namespace halcyon::vmm::root
