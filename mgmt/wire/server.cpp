// serve_management_call: the header, the dispatch and the error answers. The opcode handlers
// are in server_vm.cpp and server_vhd.cpp.
#include "mgmt/wire/server.hpp"

#include "mgmt/wire/codec.hpp"
#include "mgmt/wire/server_call.hpp"

namespace halcyon::mgmt::wire {

namespace {

size_t bounded_length(const char* text, size_t bound) {
    size_t length = 0;
    while (text != nullptr && length < bound && text[length] != '\0')
        ++length;
    return length;
}

// An error answer. The message is cut to kErrorMessageMax and to what the buffer holds.
ErrorOr<size_t> write_error(std::span<uint8_t> response, uint16_t opcode, uint32_t sequence,
                            Error error) {
    constexpr size_t kFixed = kHeaderSize + 1 + 2 + 2; // header, status, code, message length
    if (response.size() < kFixed)
        return Error(ErrorCode::invalid_argument,
                     "the management response buffer is too small for an answer");
    size_t room = response.size() - kFixed;
    const char* text = error.message() != nullptr ? error.message() : "";
    size_t length = bounded_length(text, room < kErrorMessageMax ? room : kErrorMessageMax);
    WireWriter out = begin_message(response, opcode | kResponseFlag, sequence);
    out.u8(kStatusError);
    out.u16(uint16_t(error.code()));
    out.string(std::string_view(text, length), kErrorMessageMax, "");
    return end_message(out, ErrorCode::invalid_argument);
}

ErrorOr<void> dispatch(Opcode opcode, VmHost& vms, VhdHost* vhds, std::span<const uint8_t> payload,
                       WireWriter& out) {
    if (is_vhd_opcode(opcode) && vhds == nullptr)
        return Error(ErrorCode::not_supported,
                     "this host serves no storage or integration-service verbs");
    ServerCall call{vms, vhds, WireReader(payload), out};
    TRY(is_vhd_opcode(opcode) ? serve_vhd_call(opcode, call) : serve_vm_call(opcode, call));
    if (out.failed())
        return Error(ErrorCode::io, "the result does not fit the management response buffer");
    return {};
}

} // namespace

ErrorOr<size_t> serve_management_call(VmHost& vms, VhdHost* vhds, std::span<const uint8_t> request,
                                      std::span<uint8_t> response) {
    if (response.size() < kResponseMin)
        return Error(ErrorCode::invalid_argument,
                     "the management response buffer is too small for an answer");
    if (response.size() > kManagementMessageMax)
        response = response.first(kManagementMessageMax);

    MessageHeader header;
    if (ErrorOr<void> parsed = parse_header(request, header); parsed.is_error())
        return write_error(response, header.opcode, header.sequence, parsed.error());
    if (!is_known_opcode(header.opcode))
        return write_error(
            response, header.opcode, header.sequence,
            Error(ErrorCode::invalid_argument, "malformed management message: unknown opcode"));
    const Opcode opcode = Opcode(header.opcode);

    WireWriter out = begin_message(response, header.opcode | kResponseFlag, header.sequence);
    out.u8(kStatusOk);
    ErrorOr<void> served = dispatch(opcode, vms, vhds, request.subspan(kHeaderSize), out);
    if (served.is_error())
        return write_error(response, header.opcode, header.sequence, served.error());
    return end_message(out, ErrorCode::io);
}

} // namespace halcyon::mgmt::wire
