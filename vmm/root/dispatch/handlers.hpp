// The privileged calls of a root partition, one function each (dispatch.cpp: partitions and
// memory; vp_calls.cpp: virtual processors, intercepts, interrupts; dispatch_vp.cpp:
// HvDispatchVp). Called with the root's state locked, after validate_call().
#pragma once

#include "vmm/root/abi.hpp"
#include "vmm/root/dispatch/params.hpp"
#include "vmm/root/dispatch/root_state.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::vmm::root {

struct CallContext {
    RootState& state;
    const Params& params;
    uint32_t root_vp;  // the calling vCPU of the root
    uint64_t deadline; // TSC by which the root's CPU must be back with its scheduler
    bool ran_child = false;
    bool yield = false;
};

// A child that exists (invalid_partition_id) and, when `initialized`, has been initialized
// (invalid_partition_state). nullptr with `status` set otherwise.
[[nodiscard]] ChildRecord* find_child(RootState& state, uint64_t id, bool initialized,
                                      Status& status);

// The fixed input header of a call, decoded: invalid_alignment when the root's input page
// cannot hold it, otherwise whatever `decode` says of its fields (Status (span, Input&)).
template <size_t Bytes, typename Input, typename Decoder>
[[nodiscard]] Status read_input(const Params& params, Decoder decode, Input& input) {
    uint8_t block[Bytes];
    if (!params.read_header(block))
        return Status::invalid_alignment;
    return decode(std::span<const uint8_t>(block), input);
}

// read_input, then the initialized child its partition_id names (find_child): the common start
// of every call on an existing child. nullptr with `status` set when any step refuses.
template <size_t Bytes, typename Input, typename Decoder>
[[nodiscard]] ChildRecord* read_child_input(CallContext& context, Decoder decode, Input& input,
                                            Status& status) {
    status = read_input<Bytes>(context.params, decode, input);
    if (status != Status::success)
        return nullptr;
    return find_child(context.state, input.partition_id, true, status);
}

[[nodiscard]] CallResult create_partition(CallContext& context);
[[nodiscard]] CallResult initialize_partition(CallContext& context);
[[nodiscard]] CallResult delete_partition(CallContext& context);
[[nodiscard]] CallResult get_partition_id(CallContext& context);
[[nodiscard]] CallResult deposit_memory(CallContext& context);
[[nodiscard]] CallResult withdraw_memory(CallContext& context);
[[nodiscard]] CallResult map_gpa_pages(CallContext& context);
[[nodiscard]] CallResult unmap_gpa_pages(CallContext& context);
[[nodiscard]] CallResult install_intercept(CallContext& context);
[[nodiscard]] CallResult create_vp(CallContext& context);
[[nodiscard]] CallResult get_vp_registers(CallContext& context);
[[nodiscard]] CallResult set_vp_registers(CallContext& context);
[[nodiscard]] CallResult assert_virtual_interrupt(CallContext& context);
[[nodiscard]] CallResult signal_event_direct(CallContext& context);
[[nodiscard]] CallResult dispatch_vp(CallContext& context);
[[nodiscard]] CallResult halcyon_management(CallContext& context); // management_call.cpp

} // namespace halcyon::vmm::root
