#include "mgmt/api/auth.hpp"
#include "mgmt/api/text.hpp"

#include "mgmt/api/hex.hpp"
#include "mgmt/api/hmac_sha256.hpp"
#include "mgmt/api/http_request.hpp"

#include <string.h>

namespace halcyon::mgmt {
namespace {

bool all_hex(std::string_view text) {
    for (char c : text) {
        if (hex_digit_value(c) < 0)
            return false;
    }
    return true;
}

std::string_view trim_spaces(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
        text.remove_suffix(1);
    return text;
}

size_t format_decimal(int64_t value, char* out) {
    char digits[20];
    size_t count = 0;
    uint64_t magnitude = value < 0 ? 0 - uint64_t(value) : uint64_t(value);
    do {
        digits[count++] = char('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude != 0);
    size_t length = 0;
    if (value < 0)
        out[length++] = '-';
    while (count > 0)
        out[length++] = digits[--count];
    return length;
}

} // namespace

ErrorOr<HostKey> HostKey::from_hex(std::string_view hex) {
    HostKey key;
    if (!hex_decode(hex, key.bytes))
        return Error(ErrorCode::invalid_argument, "host key must be exactly 64 hex digits");
    return key;
}

HostKey HostKey::from_entropy(std::span<const uint8_t> entropy) {
    Sha256 sha;
    sha.update("halcyon host key v1"); // domain separation from any other use of the samples
    sha.update(entropy);
    HostKey key;
    key.bytes = sha.finish();
    return key;
}

std::string_view HostKey::to_hex(std::span<char> out) const {
    return hex_encode(bytes, out);
}

std::string_view HostKey::key_id(std::span<char> out) const {
    Sha256Digest digest = Sha256::hash(bytes);
    return hex_encode(std::span<const uint8_t>(digest.data(), kKeyIdLength / 2), out);
}

ErrorOr<AuthorizationFields> parse_authorization(std::string_view value) {
    const Error malformed(ErrorCode::invalid_argument,
                          "malformed Authorization header (expected Halcyon-HMAC-SHA256 "
                          "keyid=..., ts=..., nonce=..., sig=...)");
    size_t space = value.find(' ');
    if (space == std::string_view::npos ||
        !ascii_equal_ignoring_case(substring(value, 0, space), kAuthScheme))
        return malformed;
    AuthorizationFields fields;
    bool seen[4] = {};
    std::string_view rest = substring(value, space + 1);
    while (!rest.empty()) {
        size_t comma = rest.find(',');
        std::string_view parameter = trim_spaces(substring(rest, 0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : substring(rest, comma + 1);
        size_t equals = parameter.find('=');
        if (equals == std::string_view::npos)
            return malformed;
        std::string_view name = substring(parameter, 0, equals);
        std::string_view text = substring(parameter, equals + 1);
        int which = ascii_equal_ignoring_case(name, "keyid")   ? 0
                    : ascii_equal_ignoring_case(name, "ts")    ? 1
                    : ascii_equal_ignoring_case(name, "nonce") ? 2
                    : ascii_equal_ignoring_case(name, "sig")   ? 3
                                                               : -1;
        if (which < 0 || seen[which] || text.empty())
            return malformed;
        seen[which] = true;
        switch (which) {
        case 0:
            fields.key_id = text;
            break;
        case 1:
            fields.timestamp_text = text;
            break;
        case 2:
            fields.nonce = text;
            break;
        default:
            fields.signature = text;
            break;
        }
    }
    if (!seen[0] || !seen[1] || !seen[2] || !seen[3])
        return malformed;
    if (fields.key_id.size() != kKeyIdLength || !all_hex(fields.key_id))
        return malformed;
    if (fields.signature.size() != 2 * kSha256DigestSize || !all_hex(fields.signature))
        return malformed;
    if (fields.nonce.size() < kMinNonceLength || fields.nonce.size() > kMaxNonceLength ||
        !all_hex(fields.nonce))
        return malformed;
    // Unix seconds: plain digits, no sign; 12 digits reach beyond the year 30000.
    if (fields.timestamp_text.size() > 12)
        return malformed;
    for (char c : fields.timestamp_text) {
        if (c < '0' || c > '9')
            return malformed;
        fields.timestamp = fields.timestamp * 10 + (c - '0');
    }
    return fields;
}

Sha256Digest request_signature(const HostKey& key, std::string_view method, std::string_view target,
                               std::string_view timestamp_text, std::string_view nonce,
                               std::string_view body_hash_hex) {
    HmacSha256 hmac(key.bytes);
    hmac.update(method);
    hmac.update("\n");
    hmac.update(target);
    hmac.update("\n");
    hmac.update(timestamp_text);
    hmac.update("\n");
    hmac.update(nonce);
    hmac.update("\n");
    hmac.update(body_hash_hex);
    return hmac.finish();
}

std::string_view sign_request(const HostKey& key, std::string_view method, std::string_view target,
                              int64_t unix_seconds, std::string_view nonce,
                              std::span<const uint8_t> body, std::span<char> out) {
    char timestamp[21];
    std::string_view timestamp_text(timestamp, format_decimal(unix_seconds, timestamp));
    char body_hash[2 * kSha256DigestSize];
    Sha256Digest body_digest = Sha256::hash(body);
    std::string_view body_hash_hex = hex_encode(body_digest, body_hash);
    Sha256Digest signature =
        request_signature(key, method, target, timestamp_text, nonce, body_hash_hex);
    char key_id[kKeyIdLength];
    char signature_hex[2 * kSha256DigestSize];
    const std::string_view parts[] = {
        kAuthScheme, " keyid=",      key.key_id(key_id),
        ", ts=",     timestamp_text, ", nonce=",
        nonce,       ", sig=",       hex_encode(signature, signature_hex)};
    size_t length = 0;
    for (std::string_view part : parts) {
        if (part.size() > out.size() - length)
            return {};
        if (!part.empty())
            memcpy(out.data() + length, part.data(), part.size());
        length += part.size();
    }
    return std::string_view(out.data(), length);
}

} // namespace halcyon::mgmt
