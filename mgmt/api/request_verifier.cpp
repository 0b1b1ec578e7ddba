#include "mgmt/api/request_verifier.hpp"

#include "mgmt/api/hex.hpp"
#include "mgmt/api/hmac_sha256.hpp"

#include <string.h>

namespace halcyon::mgmt {

const char* auth_result_name(AuthResult result) {
    switch (result) {
    case AuthResult::ok:
        return "ok";
    case AuthResult::missing:
        return "missing";
    case AuthResult::malformed:
        return "malformed";
    case AuthResult::unknown_key:
        return "unknown_key";
    case AuthResult::bad_signature:
        return "bad_signature";
    case AuthResult::stale_timestamp:
        return "stale_timestamp";
    case AuthResult::replayed_nonce:
        return "replayed_nonce";
    }
    return "unknown";
}

const char* auth_result_message(AuthResult result) {
    switch (result) {
    case AuthResult::ok:
        return "authenticated";
    case AuthResult::missing:
        return "missing Authorization header (Halcyon-HMAC-SHA256)";
    case AuthResult::malformed:
        return "malformed Authorization header (expected Halcyon-HMAC-SHA256 keyid=..., ts=..., "
               "nonce=..., sig=...)";
    case AuthResult::unknown_key:
        return "the request was signed with a different host key";
    case AuthResult::bad_signature:
        return "invalid request signature";
    case AuthResult::stale_timestamp:
        return "request timestamp is more than 300 seconds from the server's clock";
    case AuthResult::replayed_nonce:
        return "nonce already used (replayed request)";
    }
    return "unknown";
}

NonceCache::NonceCache(std::span<Entry> storage) : entries_(storage) {
    for (Entry& entry : entries_)
        entry.used = false;
}

bool NonceCache::insert(std::string_view nonce, int64_t timestamp) {
    if (timestamp <= floor_)
        return false;
    Sha256Digest digest = Sha256::hash(nonce);
    // One pass finds a replay, a free slot, and the oldest entry (the one to drop if full).
    Entry* free_slot = nullptr;
    Entry* oldest = nullptr;
    for (Entry& entry : entries_) {
        if (!entry.used) {
            if (free_slot == nullptr)
                free_slot = &entry;
            continue;
        }
        if (memcmp(entry.fingerprint, digest.data(), sizeof(entry.fingerprint)) == 0)
            return false;
        if (oldest == nullptr || entry.timestamp < oldest->timestamp)
            oldest = &entry;
    }
    Entry* slot = free_slot;
    if (slot == nullptr) {
        if (oldest == nullptr)
            return false; // no storage at all: refuse rather than allow replays
        if (oldest->timestamp > floor_)
            floor_ = oldest->timestamp;
        slot = oldest;
        if (timestamp <= floor_)
            return false;
    }
    memcpy(slot->fingerprint, digest.data(), sizeof(slot->fingerprint));
    slot->timestamp = timestamp;
    slot->used = true;
    return true;
}

RequestVerifier::RequestVerifier(const HostKey& key, std::span<NonceCache::Entry> nonce_storage)
    : key_(key), nonces_(nonce_storage) {
    key_.key_id(key_id_);
}

uint64_t RequestVerifier::total_failures() const {
    uint64_t total = 0;
    for (uint32_t i = 1; i < kAuthResultCount; ++i)
        total += counts_[i];
    return total;
}

AuthResult RequestVerifier::verify(const HttpRequest& request, int64_t now_unix_seconds) {
    AuthResult result = check(request, now_unix_seconds);
    ++counts_[static_cast<uint32_t>(result)];
    return result;
}

AuthResult RequestVerifier::check(const HttpRequest& request, int64_t now_unix_seconds) {
    std::optional<std::string_view> header = request.header("authorization");
    if (!header)
        return AuthResult::missing;
    ErrorOr<AuthorizationFields> parsed = parse_authorization(*header);
    if (parsed.is_error())
        return AuthResult::malformed;
    const AuthorizationFields& fields = parsed.value();
    if (!ascii_equal_ignoring_case(fields.key_id, std::string_view(key_id_, kKeyIdLength)))
        return AuthResult::unknown_key;

    char body_hash[2 * kSha256DigestSize];
    Sha256Digest body_digest = Sha256::hash(request.body);
    Sha256Digest expected =
        request_signature(key_, request.method, request.target, fields.timestamp_text, fields.nonce,
                          hex_encode(body_digest, body_hash));
    uint8_t received[kSha256DigestSize];
    if (!hex_decode(fields.signature, received) || !constant_time_equal(expected, received))
        return AuthResult::bad_signature;

    // Only authentic requests reach the clock and nonce checks, so a forger cannot fill the
    // nonce cache.
    int64_t skew = fields.timestamp - now_unix_seconds;
    if (skew > kClockSkewSeconds || skew < -kClockSkewSeconds ||
        nonces_.below_floor(fields.timestamp))
        return AuthResult::stale_timestamp;
    if (!nonces_.insert(fields.nonce, fields.timestamp)) {
        // A full cache may have just raised its floor past this timestamp.
        return nonces_.below_floor(fields.timestamp) ? AuthResult::stale_timestamp
                                                     : AuthResult::replayed_nonce;
    }
    return AuthResult::ok;
}

} // namespace halcyon::mgmt
