#include "mgmt/api/sha256.hpp"

#include <string.h>

namespace halcyon::mgmt {
namespace {

// FIPS 180-4 section 4.2.2: the first 32 bits of the fractional parts of the cube roots of the
// first 64 primes.
constexpr uint32_t kRoundConstants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

// Section 5.3.3: the first 32 bits of the fractional parts of the square roots of the first 8
// primes.
constexpr uint32_t kInitialState[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

constexpr uint32_t rotate_right(uint32_t value, unsigned count) {
    return (value >> count) | (value << (32 - count));
}

constexpr uint32_t load_big_endian32(const uint8_t* bytes) {
    return (uint32_t(bytes[0]) << 24) | (uint32_t(bytes[1]) << 16) | (uint32_t(bytes[2]) << 8) |
           uint32_t(bytes[3]);
}

} // namespace

void Sha256::reset() {
    memcpy(state_, kInitialState, sizeof(state_));
    block_used_ = 0;
    total_bytes_ = 0;
}

// Section 6.2.2: the message schedule and the 64 rounds over one 512-bit block.
void Sha256::compress(const uint8_t* block) {
    uint32_t schedule[64];
    for (int t = 0; t < 16; ++t)
        schedule[t] = load_big_endian32(block + 4 * t);
    for (int t = 16; t < 64; ++t) {
        uint32_t s0 = rotate_right(schedule[t - 15], 7) ^ rotate_right(schedule[t - 15], 18) ^
                      (schedule[t - 15] >> 3);
        uint32_t s1 = rotate_right(schedule[t - 2], 17) ^ rotate_right(schedule[t - 2], 19) ^
                      (schedule[t - 2] >> 10);
        schedule[t] = schedule[t - 16] + s0 + schedule[t - 7] + s1;
    }
    uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
    uint32_t e = state_[4], f = state_[5], g = state_[6], h = state_[7];
    for (int t = 0; t < 64; ++t) {
        uint32_t sigma1 = rotate_right(e, 6) ^ rotate_right(e, 11) ^ rotate_right(e, 25);
        uint32_t choose = (e & f) ^ (~e & g);
        uint32_t t1 = h + sigma1 + choose + kRoundConstants[t] + schedule[t];
        uint32_t sigma0 = rotate_right(a, 2) ^ rotate_right(a, 13) ^ rotate_right(a, 22);
        uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = sigma0 + majority;
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    state_[0] += a;
    state_[1] += b;
    state_[2] += c;
    state_[3] += d;
    state_[4] += e;
    state_[5] += f;
    state_[6] += g;
    state_[7] += h;
}

void Sha256::update(std::span<const uint8_t> data) {
    if (data.empty())
        return; // an empty span may have a null data(), which memcpy must not see
    total_bytes_ += data.size();
    size_t offset = 0;
    if (block_used_ != 0) {
        size_t take = kSha256BlockSize - block_used_;
        if (take > data.size())
            take = data.size();
        memcpy(block_ + block_used_, data.data(), take);
        block_used_ += take;
        offset = take;
        if (block_used_ < kSha256BlockSize)
            return;
        compress(block_);
        block_used_ = 0;
    }
    // Whole blocks straight from the caller's memory, without copying.
    for (; data.size() - offset >= kSha256BlockSize; offset += kSha256BlockSize)
        compress(data.data() + offset);
    memcpy(block_, data.data() + offset, data.size() - offset);
    block_used_ = data.size() - offset;
}

void Sha256::update(std::string_view text) {
    update(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

// Section 5.1.1: a 1 bit, zeros up to 56 mod 64 bytes, then the message length in bits (64-bit
// big-endian).
Sha256Digest Sha256::finish() {
    uint64_t bit_length = total_bytes_ * 8;
    block_[block_used_++] = 0x80;
    if (block_used_ > kSha256BlockSize - 8) {
        memset(block_ + block_used_, 0, kSha256BlockSize - block_used_);
        compress(block_);
        block_used_ = 0;
    }
    memset(block_ + block_used_, 0, kSha256BlockSize - 8 - block_used_);
    for (int i = 0; i < 8; ++i)
        block_[kSha256BlockSize - 1 - i] = uint8_t(bit_length >> (8 * i));
    compress(block_);

    Sha256Digest digest;
    for (int i = 0; i < 8; ++i) {
        digest[4 * i] = uint8_t(state_[i] >> 24);
        digest[4 * i + 1] = uint8_t(state_[i] >> 16);
        digest[4 * i + 2] = uint8_t(state_[i] >> 8);
        digest[4 * i + 3] = uint8_t(state_[i]);
    }
    reset();
    return digest;
}

Sha256Digest Sha256::hash(std::span<const uint8_t> data) {
    Sha256 sha;
    sha.update(data);
    return sha.finish();
}

Sha256Digest Sha256::hash(std::string_view text) {
    Sha256 sha;
    sha.update(text);
    return sha.finish();
}

} // namespace halcyon::mgmt
