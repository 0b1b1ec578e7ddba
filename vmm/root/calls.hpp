// Which hypercalls are privileged (only the root partition may make them), how each is called
// (rep or simple, memory or fast form, parameter block sizes) and the common TLFS checks on a
// call's input value, reusing vmm/hyperv's validation. Pure code.
#pragma once

#include "vmm/hyperv/hypercall.hpp"
#include "vmm/root/abi.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmm::root {

// Whether `code` is one of the privileged calls: every code Halcyon implements for the root
// and the root-only codes it does not implement (a child gets HV_STATUS_ACCESS_DENIED for all
// of them, the root HV_STATUS_INVALID_HYPERCALL_CODE for the unimplemented ones).
[[nodiscard]] bool is_privileged_call(uint16_t code);

// The implemented privileged calls (their parameter blocks are in codec.hpp).
[[nodiscard]] std::span<const hyperv::HypercallDescriptor> implemented_calls();

// A short name for logs ("HvCreatePartition"), "unknown" for other codes.
[[nodiscard]] const char* call_name(uint16_t code);

// The checks every call gets before its own: reserved control bits, an implemented code, rep
// count and start, the calling form, and (memory form) parameter blocks 8-byte aligned, within
// a page and below `guest_physical_size`. Status `success` means `descriptor` is set.
struct ValidatedCall {
    Status status = Status::invalid_hypercall_code;
    const hyperv::HypercallDescriptor* descriptor = nullptr;
    hyperv::HypercallControl control;
};
[[nodiscard]] ValidatedCall validate_call(const hyperv::HypercallInput& input,
                                          uint64_t guest_physical_size);

// The hypercall result value (RAX) for `result`.
[[nodiscard]] uint64_t result_value(const CallResult& result);

} // namespace halcyon::vmm::root
