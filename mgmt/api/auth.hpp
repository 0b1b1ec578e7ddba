// Request authentication for the management API. The host key (256 bits, generated on first
// boot or given in halcyon.cfg) never travels: every request carries
//
//   Authorization: Halcyon-HMAC-SHA256 keyid=<16 hex>, ts=<unix seconds>, nonce=<hex>, sig=<64 hex>
//
// where sig = HMAC-SHA256(key, METHOD "\n" TARGET "\n" TS "\n" NONCE "\n" hex(SHA-256(body))),
// TARGET being the request target exactly as sent (path and query) and TS and NONCE exactly as
// in the header. keyid is the first 8 bytes of SHA-256(key) in hex, so a client learns it has
// the wrong key without the server revealing anything. The server refuses requests with a
// missing or malformed header, another keyid, a wrong signature, a timestamp more than 300 s
// from its clock, or a nonce it has already seen (see NonceCache).
#pragma once

#include "lib/base/error_or.hpp"
#include "mgmt/api/sha256.hpp"

#include <array>
#include <span>
#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace halcyon::mgmt {

inline constexpr size_t kHostKeySize = 32;
inline constexpr size_t kKeyIdLength = 16;        // hex digits
inline constexpr size_t kMinNonceLength = 16;     // hex digits (64 bits)
inline constexpr size_t kMaxNonceLength = 64;     // hex digits (256 bits)
inline constexpr int64_t kClockSkewSeconds = 300; // accepted distance from the server's clock
inline constexpr std::string_view kAuthScheme = "Halcyon-HMAC-SHA256";
// Room for a complete Authorization header value.
inline constexpr size_t kAuthorizationMaxLength = 256;

struct HostKey {
    std::array<uint8_t, kHostKeySize> bytes{};

    // Exactly 64 hex digits (the form halcyon.cfg and halctl use).
    [[nodiscard]] static ErrorOr<HostKey> from_hex(std::string_view hex);
    // A key generated on first boot: SHA-256 over raw entropy (RDSEED/RDRAND samples, TSC
    // jitter), so a biased source still yields a uniform key. Give it at least 32 bytes of
    // real entropy.
    [[nodiscard]] static HostKey from_entropy(std::span<const uint8_t> entropy);
    // 64 lowercase hex digits written to `out` (64 bytes), to show the administrator.
    std::string_view to_hex(std::span<char> out) const;
    // The key's identifier: 16 hex digits written to `out` (16 bytes).
    std::string_view key_id(std::span<char> out) const;
};

// The parts of an Authorization header, as views into it.
struct AuthorizationFields {
    std::string_view key_id;
    std::string_view timestamp_text;
    int64_t timestamp = 0;
    std::string_view nonce;
    std::string_view signature;
};

[[nodiscard]] ErrorOr<AuthorizationFields> parse_authorization(std::string_view value);

// HMAC over the canonical request (see the top of this file). `body_hash_hex` is the lowercase
// hex SHA-256 of the body.
[[nodiscard]] Sha256Digest request_signature(const HostKey& key, std::string_view method,
                                             std::string_view target,
                                             std::string_view timestamp_text,
                                             std::string_view nonce,
                                             std::string_view body_hash_hex);

// For clients (halctl, tests): the complete Authorization header value for a request, written
// to `out` (kAuthorizationMaxLength bytes). `nonce` must be 16..64 hex digits.
std::string_view sign_request(const HostKey& key, std::string_view method, std::string_view target,
                              int64_t unix_seconds, std::string_view nonce,
                              std::span<const uint8_t> body, std::span<char> out);

} // namespace halcyon::mgmt
