#include "mgmt/wire/remote_hosts.hpp"

#include <string.h>

namespace halcyon::mgmt::wire {

ManagementChannel::ManagementChannel(ManagementTransport& transport,
                                     std::span<uint8_t> request_buffer,
                                     std::span<uint8_t> response_buffer)
    : transport_(transport), request_buffer_(request_buffer), response_buffer_(response_buffer) {}

WireWriter ManagementChannel::begin(Opcode opcode) {
    pending_ = opcode;
    return begin_message(request_buffer_, uint16_t(opcode), sequence_ + 1);
}

Error ManagementChannel::keep_error(ErrorCode code, const char* prefix, std::string_view text) {
    size_t length = 0;
    auto append = [&](std::string_view part) {
        size_t n = part.size() < sizeof(error_text_) - 1 - length
                       ? part.size()
                       : sizeof(error_text_) - 1 - length;
        memcpy(error_text_ + length, part.data(), n);
        length += n;
    };
    append(prefix);
    append(text);
    error_text_[length] = '\0';
    return Error(code, error_text_);
}

Error ManagementChannel::malformed(const char* why) {
    return keep_error(ErrorCode::io, "malformed response from the core: ", why);
}

ErrorOr<WireReader> ManagementChannel::call(WireWriter& request) {
    if (request_buffer_.size() < kManagementMessageMax ||
        response_buffer_.size() < kManagementMessageMax)
        return Error(ErrorCode::invalid_argument,
                     "the management channel's buffers are smaller than kManagementMessageMax");
    // A request that does not encode is the caller's mistake (a name or path past its bound):
    // refused here, as the core would.
    if (request.failed())
        return Error(ErrorCode::invalid_argument, request.failure());
    const size_t request_length = TRY(end_message(request, ErrorCode::invalid_argument));
    const uint32_t sequence = ++sequence_;

    ErrorOr<size_t> answered =
        transport_.call(request_buffer_.first(request_length), response_buffer_);
    if (answered.is_error())
        return keep_error(ErrorCode::io, "the management call to the core failed: ",
                          answered.error().message() ? answered.error().message() : "");
    if (answered.value() > response_buffer_.size())
        return malformed("longer than the response buffer");

    std::span<const uint8_t> response = response_buffer_.first(answered.value());
    MessageHeader header;
    if (ErrorOr<void> parsed = parse_header(response, header); parsed.is_error())
        return malformed(parsed.error().message());
    if (header.opcode != (uint16_t(pending_) | kResponseFlag))
        return malformed("the answer is to another operation");
    if (header.sequence != sequence)
        return malformed("the answer is to another call (sequence number)");

    WireReader reader(response.subspan(kHeaderSize));
    const uint8_t status = reader.u8();
    if (reader.failed())
        return malformed(reader.failure());
    if (status == kStatusOk)
        return reader;
    if (status != kStatusError)
        return malformed("unknown status");
    const uint16_t code = reader.u16();
    std::string_view message = reader.string(kErrorMessageMax);
    if (ErrorOr<void> done = reader.finish(); done.is_error())
        return malformed(reader.failure());
    if (code > uint16_t(ErrorCode::already_exists))
        return malformed("unknown error code");
    return keep_error(ErrorCode(code), "", message);
}

ErrorOr<void> ManagementChannel::finish(WireReader& response) {
    if (ErrorOr<void> done = response.finish(); done.is_error())
        return malformed(response.failure());
    return {};
}

} // namespace halcyon::mgmt::wire
