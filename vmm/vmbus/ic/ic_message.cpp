// IC framing and version negotiation (see ic_message.hpp).
#include "vmm/vmbus/ic/ic_message.hpp"

namespace halcyon::vmm::vmbus::ic {

namespace {

void store_version(uint8_t* p, Version version) {
    store_le16(p, version.major);
    store_le16(p + 2, version.minor);
}

Version load_version(const uint8_t* p) {
    return {load_le16(p), load_le16(p + 2)};
}

bool offered(std::span<const Version> list, Version version) {
    for (const Version& candidate : list) {
        if (candidate == version)
            return true;
    }
    return false;
}

} // namespace

void write_header(std::span<uint8_t> packet, const MessageHeader& header) {
    uint8_t* p = packet.data();
    store_le32(p, kPipePacketTypeData);
    store_le32(p + 4, static_cast<uint32_t>(packet.size() - kPipeHeaderBytes));
    store_version(p + hdr::kFrameworkMajor, header.framework);
    store_le16(p + hdr::kMessageType, header.type);
    store_version(p + hdr::kMessageMajor, header.message);
    store_le16(p + hdr::kMessageSize, header.size);
    store_le32(p + hdr::kStatus, header.status);
    p[hdr::kTransactionId] = header.transaction;
    p[hdr::kFlags] = header.flags;
    p[hdr::kFlags + 1] = 0;
    p[hdr::kFlags + 2] = 0;
}

ErrorOr<MessageHeader> read_header(std::span<const uint8_t> packet) {
    if (packet.size() < kIcHeaderBytes)
        return Error(ErrorCode::invalid_argument, "ic: packet shorter than the IC header");
    const uint8_t* p = packet.data();
    MessageHeader header;
    header.framework = load_version(p + hdr::kFrameworkMajor);
    header.type = load_le16(p + hdr::kMessageType);
    header.message = load_version(p + hdr::kMessageMajor);
    header.size = load_le16(p + hdr::kMessageSize);
    header.status = load_le32(p + hdr::kStatus);
    header.transaction = p[hdr::kTransactionId];
    header.flags = p[hdr::kFlags];
    return header;
}

ErrorOr<uint32_t> write_negotiate(std::span<uint8_t> body, std::span<const Version> frameworks,
                                  std::span<const Version> messages) {
    if (frameworks.empty() || messages.empty() || frameworks.size() > kMaxNegotiateVersions ||
        messages.size() > kMaxNegotiateVersions)
        return Error(ErrorCode::invalid_argument, "ic: bad version lists for NEGOTIATE");
    const uint32_t bytes = negotiate_body_bytes(static_cast<uint32_t>(frameworks.size()),
                                                static_cast<uint32_t>(messages.size()));
    if (body.size() < bytes)
        return Error(ErrorCode::invalid_argument, "ic: NEGOTIATE does not fit");
    uint8_t* p = body.data();
    store_le16(p + negotiate::kFrameworkCount, static_cast<uint16_t>(frameworks.size()));
    store_le16(p + negotiate::kMessageCount, static_cast<uint16_t>(messages.size()));
    store_le32(p + 4, 0);
    uint8_t* at = p + negotiate::kVersions;
    for (const Version& version : frameworks) {
        store_version(at, version);
        at += negotiate::kVersionBytes;
    }
    for (const Version& version : messages) {
        store_version(at, version);
        at += negotiate::kVersionBytes;
    }
    return bytes;
}

ErrorOr<NegotiateResult> read_negotiate_response(std::span<const uint8_t> body,
                                                 std::span<const Version> frameworks,
                                                 std::span<const Version> messages) {
    // Linux always answers in the buffer we sent, so two version slots are there even when it
    // found no match (it then zeroes the counts and leaves junk in the slots).
    if (body.size() < negotiate_body_bytes(1, 1))
        return Error(ErrorCode::invalid_argument, "ic: NEGOTIATE response too short");
    const uint16_t framework_count = load_le16(body.data() + negotiate::kFrameworkCount);
    const uint16_t message_count = load_le16(body.data() + negotiate::kMessageCount);
    NegotiateResult result;
    if (framework_count == 0 && message_count == 0)
        return result;
    if (framework_count != 1 || message_count != 1)
        return Error(ErrorCode::invalid_argument, "ic: NEGOTIATE response must pick one version");
    result.framework = load_version(body.data() + negotiate::kVersions);
    result.message = load_version(body.data() + negotiate::kVersions + negotiate::kVersionBytes);
    if (!offered(frameworks, result.framework) || !offered(messages, result.message))
        return Error(ErrorCode::invalid_argument, "ic: guest picked a version never offered");
    result.agreed = true;
    return result;
}

} // namespace halcyon::vmm::vmbus::ic
