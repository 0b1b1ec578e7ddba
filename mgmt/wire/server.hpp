// The core's side of the management wire (message.hpp): decodes one request from the management
// partition, validates every byte of it, calls the VM manager's VmHost / VhdHost and encodes the
// result. Called from the HvCallHalcyonManagement hypercall handler.
#pragma once

#include "lib/base/error_or.hpp"
#include "mgmt/api/vhd_host.hpp"
#include "mgmt/api/vm_host.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::mgmt::wire {

// Serves one request: returns the length of the response written to `response`. Any malformed
// request (wrong length, unknown opcode, a bool not 0/1, an enum out of range, a string past its
// bound or with NUL, a count past its array, a VM spec outside the API's rules) and any error of
// the host call are answered with an encoded error response, never by reading out of bounds.
// `vhds` null: the VHD opcodes are answered not_supported. An Error is returned only when
// `response` is smaller than kResponseMin (no room even for an error answer).
//
// `request` and `response` must not overlap. Every field is decoded and checked (strings copied)
// before the host is called; only the data of write_console / write_file reaches the host as a
// span into `request` (the partition's single vCPU waits in the hypercall meanwhile, so it cannot
// change it). Stack: each opcode has its own frame; the largest (vm_at, find_vm: a VmInfo) is
// about 3.4 KiB in the core world.
[[nodiscard]] ErrorOr<size_t> serve_management_call(VmHost& vms, VhdHost* vhds,
                                                    std::span<const uint8_t> request,
                                                    std::span<uint8_t> response);

} // namespace halcyon::mgmt::wire
