// The server side of request authentication (the scheme is described in auth.hpp): checks the
// Authorization header of each request against the host key, the clock and the nonces already
// seen, and counts every refusal by reason.
#pragma once

#include "mgmt/api/auth.hpp"
#include "mgmt/api/http_request.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::mgmt {

enum class AuthResult : uint8_t {
    ok,
    missing,         // no Authorization header
    malformed,       // not our scheme or bad parameters
    unknown_key,     // keyid is not this host's key
    bad_signature,   // signature does not match (wrong key, or tampered request)
    stale_timestamp, // ts more than 300 s from the server clock, or older than the nonce cache
    replayed_nonce,  // the nonce was used before
};
inline constexpr uint32_t kAuthResultCount = 7;

[[nodiscard]] const char* auth_result_name(AuthResult result);
[[nodiscard]] const char* auth_result_message(AuthResult result);

// Remembers the nonces of recent authenticated requests, in a fixed array. A nonce can only be
// replayed while its timestamp is inside the +-300 s window; when the array is full the entry
// with the oldest timestamp is dropped and every timestamp up to it is refused from then on
// (the "floor"), so dropping an entry can never make a replay possible. Honest clients are not
// affected unless more requests than the array holds arrive within one second.
class NonceCache {
public:
    struct Entry {
        uint8_t fingerprint[16]; // SHA-256 of the nonce text, truncated
        int64_t timestamp;
        bool used;
    };

    explicit NonceCache(std::span<Entry> storage);

    // True when (nonce, timestamp) is new; then it is remembered. False for a replay, or when
    // the timestamp is at or below the floor.
    [[nodiscard]] bool insert(std::string_view nonce, int64_t timestamp);
    [[nodiscard]] bool below_floor(int64_t timestamp) const { return timestamp <= floor_; }

private:
    std::span<Entry> entries_;
    int64_t floor_ = INT64_MIN;
};

class RequestVerifier {
public:
    RequestVerifier(const HostKey& key, std::span<NonceCache::Entry> nonce_storage);

    [[nodiscard]] AuthResult verify(const HttpRequest& request, int64_t now_unix_seconds);

    [[nodiscard]] uint64_t failures(AuthResult result) const {
        return counts_[static_cast<uint32_t>(result)];
    }
    [[nodiscard]] uint64_t total_failures() const;

private:
    AuthResult check(const HttpRequest& request, int64_t now_unix_seconds);

    HostKey key_;
    char key_id_[kKeyIdLength];
    NonceCache nonces_;
    uint64_t counts_[kAuthResultCount] = {};
};

} // namespace halcyon::mgmt
