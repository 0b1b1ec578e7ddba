#include "mgmt/api/hmac_sha256.hpp"

#include <string.h>

namespace halcyon::mgmt {

HmacSha256::HmacSha256(std::span<const uint8_t> key) {
    // RFC 2104 section 2: a key longer than the block is replaced by its hash; shorter keys are
    // padded with zeros to the block size.
    uint8_t block_key[kSha256BlockSize] = {};
    if (key.size() > kSha256BlockSize) {
        Sha256Digest hashed = Sha256::hash(key);
        memcpy(block_key, hashed.data(), hashed.size());
    } else if (!key.empty()) {
        memcpy(block_key, key.data(), key.size());
    }
    for (size_t i = 0; i < kSha256BlockSize; ++i) {
        inner_pad_[i] = block_key[i] ^ 0x36;
        outer_pad_[i] = block_key[i] ^ 0x5c;
    }
    // volatile: the copy of the key on the stack must not outlive the constructor.
    volatile uint8_t* wipe = block_key;
    for (size_t i = 0; i < kSha256BlockSize; ++i)
        wipe[i] = 0;
    inner_.update(std::span<const uint8_t>(inner_pad_, kSha256BlockSize));
}

HmacSha256::~HmacSha256() {
    volatile uint8_t* inner = inner_pad_;
    volatile uint8_t* outer = outer_pad_;
    for (size_t i = 0; i < kSha256BlockSize; ++i) {
        inner[i] = 0;
        outer[i] = 0;
    }
}

Sha256Digest HmacSha256::finish() {
    Sha256Digest inner_digest = inner_.finish();
    Sha256 outer;
    outer.update(std::span<const uint8_t>(outer_pad_, kSha256BlockSize));
    outer.update(inner_digest);
    inner_.update(std::span<const uint8_t>(inner_pad_, kSha256BlockSize));
    return outer.finish();
}

Sha256Digest HmacSha256::mac(std::span<const uint8_t> key, std::span<const uint8_t> message) {
    HmacSha256 hmac(key);
    hmac.update(message);
    return hmac.finish();
}

bool constant_time_equal(std::span<const uint8_t> a, std::span<const uint8_t> b) {
    if (a.size() != b.size())
        return false;
    uint8_t difference = 0;
    for (size_t i = 0; i < a.size(); ++i)
        difference |= uint8_t(a[i] ^ b[i]);
    return difference == 0;
}

} // namespace halcyon::mgmt
