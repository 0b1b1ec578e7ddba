// Request authentication: the Authorization header, signatures over the canonical request,
// tampering, the clock window, replays and the fixed-size nonce cache.
#include "mgmt/api/auth.hpp"
#include "mgmt/api/hex.hpp"
#include "mgmt/api/hmac_sha256.hpp"
#include "mgmt/api/request_verifier.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

namespace {

using namespace halcyon::mgmt;

constexpr int64_t kNow = 1'700'000'000;

HostKey key_a() {
    return HostKey::from_hex(std::string(64, 'a')).release_value();
}
HostKey key_b() {
    return HostKey::from_hex(std::string(63, 'a') + "b").release_value();
}

// A parsed request with the given parts, signed (or not) like a client would.
struct SignedRequest {
    SignedRequest(const HostKey& key, std::string method_text, std::string target_text,
                  std::string body_text, int64_t timestamp, std::string nonce)
        : method(std::move(method_text)), target(std::move(target_text)),
          body(std::move(body_text)) {
        char buffer[kAuthorizationMaxLength];
        authorization = sign_request(
            key, method, target, timestamp, nonce,
            std::span(reinterpret_cast<const uint8_t*>(body.data()), body.size()), buffer);
        build();
    }
    // `request` points into the strings: the object must stay where it is.
    SignedRequest(const SignedRequest&) = delete;
    SignedRequest& operator=(const SignedRequest&) = delete;

    void build() {
        request = HttpRequest{};
        request.method = method;
        request.target = target;
        request.path = target.substr(0, target.find('?'));
        request.body = std::span(reinterpret_cast<const uint8_t*>(body.data()), body.size());
        request.headers[0] = {"Host", "h"};
        request.headers[1] = {"Authorization", authorization};
        request.header_count = 2;
    }

    std::string method, target, body, authorization;
    HttpRequest request;
};

std::string nonce(int n) {
    char text[33];
    snprintf(text, sizeof(text), "%032x", n);
    return text;
}

struct Verifier {
    explicit Verifier(size_t entries = 64) : storage(entries), verifier(key_a(), storage) {}
    std::vector<NonceCache::Entry> storage;
    RequestVerifier verifier;
};

TEST(MgmtAuth, HostKeyFromHexAndKeyId) {
    EXPECT_TRUE(HostKey::from_hex(std::string(63, 'a')).is_error());
    EXPECT_TRUE(HostKey::from_hex(std::string(64, 'g')).is_error());
    HostKey key = key_a();
    EXPECT_EQ(key.bytes[0], 0xaa);
    char id[kKeyIdLength];
    std::string first(key.key_id(id));
    EXPECT_EQ(first.size(), 16u);
    char other[kKeyIdLength];
    EXPECT_NE(first, std::string(key_b().key_id(other)));
}

TEST(MgmtAuth, HostKeyFromEntropyAndBackToHex) {
    uint8_t samples[64];
    for (size_t i = 0; i < sizeof(samples); ++i)
        samples[i] = uint8_t(i * 7);
    HostKey key = HostKey::from_entropy(samples);
    EXPECT_EQ(key.bytes, HostKey::from_entropy(samples).bytes); // deterministic in its input
    samples[63] ^= 1;
    EXPECT_NE(key.bytes, HostKey::from_entropy(samples).bytes);
    char hex[64];
    std::string text(key.to_hex(hex));
    EXPECT_EQ(text.size(), 64u);
    EXPECT_EQ(HostKey::from_hex(text).value().bytes, key.bytes);
}

TEST(MgmtAuth, ParsesTheHeader) {
    // The fields are views into the header text, which must outlive them.
    std::string header = "Halcyon-HMAC-SHA256 keyid=0123456789abcdef, ts=1700000000, "
                         "nonce=00112233445566778899aabbccddeeff, sig=" +
                         std::string(64, '0');
    auto fields = parse_authorization(header);
    ASSERT_FALSE(fields.is_error());
    EXPECT_EQ(fields.value().key_id, "0123456789abcdef");
    EXPECT_EQ(fields.value().timestamp, 1700000000);
    EXPECT_EQ(fields.value().nonce, "00112233445566778899aabbccddeeff");
    // Parameters in any order, the scheme in any case.
    EXPECT_FALSE(parse_authorization("halcyon-hmac-sha256 sig=" + std::string(64, '1') +
                                     ",nonce=0011223344556677,ts=5,keyid=0123456789abcdef")
                     .is_error());
}

TEST(MgmtAuth, RefusesMalformedHeaders) {
    std::string sig = std::string(64, '0');
    std::string good_rest = "ts=1, nonce=0011223344556677, sig=" + sig;
    for (std::string text : {
             std::string("Basic dXNlcjpwYXNz"),
             std::string("Halcyon-HMAC-SHA256"),
             "Halcyon-HMAC-SHA256 " + good_rest,                        // no keyid
             "Halcyon-HMAC-SHA256 keyid=0123456789abcde, " + good_rest, // short keyid
             "Halcyon-HMAC-SHA256 keyid=0123456789abcdef, keyid=0123456789abcdef, " + good_rest,
             "Halcyon-HMAC-SHA256 keyid=0123456789abcdef, ts=-1, nonce=0011223344556677, sig=" +
                 sig,
             "Halcyon-HMAC-SHA256 keyid=0123456789abcdef, ts=1, nonce=001122334455667, sig=" + sig,
             "Halcyon-HMAC-SHA256 keyid=0123456789abcdef, ts=1, nonce=xx11223344556677, sig=" + sig,
             "Halcyon-HMAC-SHA256 keyid=0123456789abcdef, ts=1, nonce=0011223344556677, sig=" +
                 sig.substr(1),
             "Halcyon-HMAC-SHA256 keyid=0123456789abcdef, " + good_rest + ", extra=1",
             std::string("Halcyon-HMAC-SHA256 keyid=0123456789abcdef, ts=1234567890123, "
                         "nonce=0011223344556677, sig=") +
                 sig,
         }) {
        EXPECT_TRUE(parse_authorization(text).is_error()) << text;
    }
}

TEST(MgmtAuth, AcceptsAValidRequest) {
    Verifier v;
    SignedRequest r(key_a(), "POST", "/v1/vms?x=1", "{\"name\":\"a\"}", kNow, nonce(1));
    EXPECT_EQ(v.verifier.verify(r.request, kNow), AuthResult::ok);
    EXPECT_EQ(v.verifier.total_failures(), 0u);
}

TEST(MgmtAuth, MissingOrForeignCredentials) {
    Verifier v;
    SignedRequest r(key_a(), "GET", "/v1/vms", "", kNow, nonce(1));
    r.request.header_count = 1; // drop Authorization
    EXPECT_EQ(v.verifier.verify(r.request, kNow), AuthResult::missing);
    SignedRequest other(key_b(), "GET", "/v1/vms", "", kNow, nonce(2));
    EXPECT_EQ(v.verifier.verify(other.request, kNow), AuthResult::unknown_key);
    r.authorization = "Bearer token";
    r.build();
    EXPECT_EQ(v.verifier.verify(r.request, kNow), AuthResult::malformed);
    EXPECT_EQ(v.verifier.failures(AuthResult::missing), 1u);
    EXPECT_EQ(v.verifier.failures(AuthResult::unknown_key), 1u);
    EXPECT_EQ(v.verifier.failures(AuthResult::malformed), 1u);
    EXPECT_EQ(v.verifier.total_failures(), 3u);
}

TEST(MgmtAuth, EveryTamperedPartBreaksTheSignature) {
    Verifier v;
    int n = 10;
    auto tampered = [&](auto change) {
        SignedRequest r(key_a(), "POST", "/v1/vms/web/stop?x=1", "{\"mode\":\"force\"}", kNow,
                        nonce(++n));
        change(r);
        r.build();
        return v.verifier.verify(r.request, kNow);
    };
    EXPECT_EQ(tampered([](SignedRequest&) {}), AuthResult::ok);
    EXPECT_EQ(tampered([](SignedRequest& r) { r.body = "{\"mode\":\"turnoff\"}"; }),
              AuthResult::bad_signature);
    EXPECT_EQ(tampered([](SignedRequest& r) { r.method = "GET"; }), AuthResult::bad_signature);
    EXPECT_EQ(tampered([](SignedRequest& r) { r.target = "/v1/vms/db/stop?x=1"; }),
              AuthResult::bad_signature);
    EXPECT_EQ(tampered([](SignedRequest& r) { r.target = "/v1/vms/web/stop?x=2"; }),
              AuthResult::bad_signature); // the query is signed too
    EXPECT_EQ(tampered([](SignedRequest& r) {
                  size_t ts = r.authorization.find("ts=");
                  r.authorization[ts + 3 + 9] = r.authorization[ts + 3 + 9] == '0' ? '1' : '0';
              }),
              AuthResult::bad_signature);
    EXPECT_EQ(tampered([](SignedRequest& r) {
                  size_t at = r.authorization.find("nonce=") + 6;
                  r.authorization[at] = r.authorization[at] == 'f' ? 'e' : 'f';
              }),
              AuthResult::bad_signature);
    EXPECT_EQ(tampered([](SignedRequest& r) {
                  char& last = r.authorization.back();
                  last = last == '0' ? '1' : '0';
              }),
              AuthResult::bad_signature);
    EXPECT_EQ(v.verifier.failures(AuthResult::bad_signature), 7u);
}

TEST(MgmtAuth, ClockWindow) {
    Verifier v;
    int n = 0;
    auto at = [&](int64_t timestamp) {
        SignedRequest r(key_a(), "GET", "/v1/host", "", timestamp, nonce(++n));
        return v.verifier.verify(r.request, kNow);
    };
    EXPECT_EQ(at(kNow - 300), AuthResult::ok);
    EXPECT_EQ(at(kNow + 300), AuthResult::ok);
    EXPECT_EQ(at(kNow - 301), AuthResult::stale_timestamp);
    EXPECT_EQ(at(kNow + 301), AuthResult::stale_timestamp);
    EXPECT_EQ(at(0), AuthResult::stale_timestamp);
}

TEST(MgmtAuth, ReplayIsRefused) {
    Verifier v;
    SignedRequest r(key_a(), "POST", "/v1/vms/web/start", "", kNow, nonce(7));
    EXPECT_EQ(v.verifier.verify(r.request, kNow), AuthResult::ok);
    EXPECT_EQ(v.verifier.verify(r.request, kNow), AuthResult::replayed_nonce);
    EXPECT_EQ(v.verifier.verify(r.request, kNow + 100), AuthResult::replayed_nonce);
    // Once the timestamp leaves the window the clock check refuses it anyway.
    EXPECT_EQ(v.verifier.verify(r.request, kNow + 301), AuthResult::stale_timestamp);
    // The same nonce for another request is a replay too (nonces are single-use).
    SignedRequest other(key_a(), "GET", "/v1/host", "", kNow, nonce(7));
    EXPECT_EQ(v.verifier.verify(other.request, kNow), AuthResult::replayed_nonce);
}

TEST(MgmtAuth, AFullNonceCacheNeverAllowsAReplay) {
    Verifier v(8);
    std::deque<SignedRequest> sent; // never moves its elements
    // Ten requests with rising timestamps into a cache of eight: the two oldest are dropped.
    for (int i = 0; i < 10; ++i) {
        sent.emplace_back(key_a(), "GET", "/v1/vms", "", kNow - 100 + i, nonce(100 + i));
        ASSERT_EQ(v.verifier.verify(sent.back().request, kNow), AuthResult::ok) << i;
    }
    // Replaying a dropped one is refused by the floor; replaying a remembered one by the cache.
    EXPECT_EQ(v.verifier.verify(sent[0].request, kNow), AuthResult::stale_timestamp);
    EXPECT_EQ(v.verifier.verify(sent[1].request, kNow), AuthResult::stale_timestamp);
    for (int i = 2; i < 10; ++i)
        EXPECT_EQ(v.verifier.verify(sent[i].request, kNow), AuthResult::replayed_nonce) << i;
    // New requests at the current time still get in.
    SignedRequest fresh(key_a(), "GET", "/v1/vms", "", kNow, nonce(999));
    EXPECT_EQ(v.verifier.verify(fresh.request, kNow), AuthResult::ok);
}

TEST(MgmtAuth, NonceCacheEvictsTheOldestTimestampNotTheOldestInsertion) {
    std::vector<NonceCache::Entry> storage(2);
    NonceCache cache(storage);
    EXPECT_TRUE(cache.insert("aaaaaaaaaaaaaaaa", kNow + 200)); // a client with a fast clock
    EXPECT_TRUE(cache.insert("bbbbbbbbbbbbbbbb", kNow));
    EXPECT_TRUE(cache.insert("cccccccccccccccc", kNow + 1)); // drops "bbbb", floor = kNow
    EXPECT_TRUE(cache.below_floor(kNow));
    EXPECT_FALSE(cache.below_floor(kNow + 1));
    EXPECT_FALSE(cache.insert("aaaaaaaaaaaaaaaa", kNow + 200)); // still remembered
    EXPECT_FALSE(cache.insert("bbbbbbbbbbbbbbbb", kNow));       // below the floor
}

TEST(MgmtAuth, SignatureMatchesAnIndependentComputation) {
    // The documented canonical string, computed by hand with the primitives.
    HostKey key = key_a();
    char header[kAuthorizationMaxLength];
    std::string_view value = sign_request(key, "GET", "/v1/log?since=5", 1700000123,
                                          "00112233445566778899aabbccddeeff", {}, header);
    std::string expected_prefix = "Halcyon-HMAC-SHA256 keyid=";
    EXPECT_EQ(value.substr(0, expected_prefix.size()), expected_prefix);
    Sha256Digest empty = Sha256::hash("");
    char empty_hex[64];
    Sha256Digest mac =
        request_signature(key, "GET", "/v1/log?since=5", "1700000123",
                          "00112233445566778899aabbccddeeff", hex_encode(empty, empty_hex));
    std::string canonical = "GET\n/v1/log?since=5\n1700000123\n00112233445566778899aabbccddeeff\n"
                            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    Sha256Digest direct = HmacSha256::mac(
        key.bytes, std::span(reinterpret_cast<const uint8_t*>(canonical.data()), canonical.size()));
    EXPECT_EQ(mac, direct);
    char mac_hex[64];
    EXPECT_NE(value.find(std::string("sig=") + std::string(hex_encode(mac, mac_hex))),
              std::string_view::npos);
}

TEST(MgmtAuth, DocumentedExample) {
    // The worked example of docs/management-api.md (computed there with Python's hmac module).
    HostKey key;
    for (size_t i = 0; i < key.bytes.size(); ++i)
        key.bytes[i] = uint8_t(i);
    char header[kAuthorizationMaxLength];
    EXPECT_EQ(sign_request(key, "GET", "/v1/vms", 1700000000, "00112233445566778899aabbccddeeff",
                           {}, header),
              "Halcyon-HMAC-SHA256 keyid=630dcd2966c43366, ts=1700000000, "
              "nonce=00112233445566778899aabbccddeeff, "
              "sig=47b8cb1954d980581b6423925303898e330f4d95fa6d305e80c04e0997994dc3");
    std::string body = "{\"mode\":\"force\"}";
    std::string_view stop = sign_request(
        key, "POST", "/v1/vms/web/stop", 1700000000, "0123456789abcdef0123456789abcdef",
        std::span(reinterpret_cast<const uint8_t*>(body.data()), body.size()), header);
    EXPECT_NE(stop.find("sig=1488b03aac948d76cbb0d4d92c78c2c33501e881ee8ce2317ef5a0bdc125618b"),
              std::string_view::npos);
}

} // namespace
