// HvCallHalcyonManagement (0x7F00): the management partition's management-API requests to the
// core (docs/management-partition.md, "The vendor hypercall"). The request is copied out of the
// partition's RAM into the core's buffer before anything reads it, and the answer copied back,
// so the service never sees the partition's memory (its own vCPU, the only one, waits here).
#include "vmm/root/codec.hpp"
#include "vmm/root/dispatch/handlers.hpp"
#include "vmm/root/dispatch/root_partition.hpp"
#include "vmm/root/management_codec.hpp"

namespace halcyon::vmm::root {
namespace {

// One management partition at a time calls (its single vCPU, under its root lock); the buffers
// stay out of the vCPU's exit-path stack.
alignas(16) uint8_t g_request[kManagementMessageMax];
alignas(16) uint8_t g_response[kManagementMessageMax];
mm::SpinLock g_buffers_lock;

CallResult done(Status status) {
    return CallResult{status, 0};
}

} // namespace

CallResult halcyon_management(CallContext& context) {
    ManagementService* service = context.state.management;
    if (service == nullptr) // privileged_hypercall refuses this already; keep it local too
        return done(Status::access_denied);
    ManagementInput input;
    if (const Status status =
            read_input<size::kManagementInput>(context.params, decode_management_input, input);
        status != Status::success)
        return done(status);
    if (const Status status = check_management_buffers(input); status != Status::success)
        return done(status);
    Partition& partition = context.state.root;
    if (!partition.is_ram(input.request_gpa, input.request_length) ||
        !partition.is_ram(input.response_gpa, input.response_capacity))
        return done(Status::invalid_parameter);

    mm::SpinLockGuard guard(g_buffers_lock);
    if (partition.read_guest(input.request_gpa, g_request, input.request_length).is_error())
        return done(Status::invalid_parameter);
    auto answered = service->serve(std::span<const uint8_t>(g_request, input.request_length),
                                   std::span<uint8_t>(g_response, input.response_capacity));
    if (answered.is_error() || answered.value() > input.response_capacity)
        return done(Status::invalid_parameter); // no room even for an error answer
    const size_t length = answered.value();
    if (partition.write_guest(input.response_gpa, g_response, length).is_error())
        return done(Status::invalid_parameter);
    uint8_t output[size::kManagementOutput];
    encode_management_output(static_cast<uint32_t>(length), output);
    return done(context.params.write_output(output) ? Status::success : Status::invalid_alignment);
}

} // namespace halcyon::vmm::root
