// Inside serve_management_call (server.cpp): one decoded request on its way to the host. The
// opcode handlers (server_vm.cpp, server_vhd.cpp) read the request's fields from `in`, call
// `in.finish()` before touching the host (nothing reaches the host from a malformed request),
// check what the API would have checked (validate.hpp), call the host and write the result's
// fields to `out`, which is positioned after the ok status byte. An Error from a handler becomes
// the error response.
#pragma once

#include "lib/base/error_or.hpp"
#include "mgmt/api/vhd_host.hpp"
#include "mgmt/api/vm_host.hpp"
#include "mgmt/wire/codec.hpp"
#include "mgmt/wire/message.hpp"

namespace halcyon::mgmt::wire {

struct ServerCall {
    VmHost& vms;
    VhdHost* vhds; // never null in serve_vhd_call (the VHD opcodes are not served without one)
    WireReader in;
    WireWriter& out;
};

[[nodiscard]] ErrorOr<void> serve_vm_call(Opcode opcode, ServerCall& call);
[[nodiscard]] ErrorOr<void> serve_vhd_call(Opcode opcode, ServerCall& call);

// The request's name argument, copied (so the host gets a stable, NUL-terminated value).
template <size_t N>
[[nodiscard]] FixedString<N> read_argument(WireReader& in) {
    FixedString<N> text;
    in.string(text);
    return text;
}

} // namespace halcyon::mgmt::wire
