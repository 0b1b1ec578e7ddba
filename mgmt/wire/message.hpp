// The management wire format: how the management partition's API server (RemoteVmHost,
// RemoteVhdHost) and the core's VM manager (serve_management_call) exchange every VmHost and
// VhdHost call as bytes across the HvCallHalcyonManagement hypercall (docs/management-wire.md).
//
// Every message is a 16-byte header followed by `payload_length` bytes, all integers little
// endian, written and read field by field: the core trusts nothing in a request, so every byte
// is checked (exact length, known opcode, bools 0/1, enums in range, strings within their
// bounds without NUL, counts within their arrays).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace halcyon::mgmt::wire {

// The largest message either way (a request or a response), and so the size of the buffers the
// partition hands to the hypercall.
inline constexpr size_t kManagementMessageMax = 131072;

inline constexpr uint32_t kWireMagic = 0x57474D48; // "HMGW" in memory order
inline constexpr uint16_t kWireVersion = 1;
inline constexpr size_t kHeaderSize = 16;
// A response's opcode is the request's with this bit set.
inline constexpr uint16_t kResponseFlag = 0x8000;

// Bytes of data one write_console / write_file call carries; RemoteVmHost splits larger
// writes into calls of at most this many bytes.
inline constexpr size_t kWireDataMax = 64 * 1024;
// Bytes one read_log / read_console call returns at most (the response, header and fixed fields
// included, must fit kManagementMessageMax).
inline constexpr size_t kStreamDataMax = kManagementMessageMax - 64;
// Longest error message carried; longer ones are cut.
inline constexpr size_t kErrorMessageMax = 511;
// Entries one vm_disks / integration_services call returns at most.
inline constexpr uint32_t kWireDrivesMax = 16;
inline constexpr uint32_t kWireServicesMax = 16;
// The smallest response buffer serve_management_call accepts: an error response with a short
// message must always fit.
inline constexpr size_t kResponseMin = 256;

// Response status byte, the first byte of every response payload.
inline constexpr uint8_t kStatusOk = 0;
inline constexpr uint8_t kStatusError = 1;

// One per VmHost / VhdHost method. Values are part of the format: never renumber.
enum class Opcode : uint16_t {
    invalid = 0, // never valid in a request; answers to unreadable headers carry it
    // VmHost
    host_info = 1,
    vm_count = 2,
    vm_at = 3,
    find_vm = 4,
    create_vm = 5,
    set_vm = 6,
    remove_vm = 7,
    start_vm = 8,
    stop_vm = 9,
    restart_vm = 10,
    suspend_vm = 11,
    resume_vm = 12,
    read_log = 13,
    read_console = 14,
    write_console = 15,
    write_file = 16,
    // VhdHost
    create_vhd = 32,
    get_vhd = 33,
    resize_vhd = 34,
    vm_disks = 35,
    add_vm_disk = 36,
    remove_vm_disk = 37,
    integration_services = 38,
};

[[nodiscard]] constexpr bool is_known_opcode(uint16_t value) {
    return (value >= uint16_t(Opcode::host_info) && value <= uint16_t(Opcode::write_file)) ||
           (value >= uint16_t(Opcode::create_vhd) &&
            value <= uint16_t(Opcode::integration_services));
}

[[nodiscard]] constexpr bool is_vhd_opcode(Opcode opcode) {
    return uint16_t(opcode) >= uint16_t(Opcode::create_vhd);
}

// The header as decoded (the bytes are never copied into this struct).
struct MessageHeader {
    uint16_t opcode = 0;
    uint32_t sequence = 0;
    uint32_t payload_length = 0;
};

} // namespace halcyon::mgmt::wire
