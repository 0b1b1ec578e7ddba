// Integer hashing for the ACL's hash tables (tuple buckets, stateful flows). Multiply-xorshift
// rounds, no SIMD (the core world is built without SSE), good enough avalanche for linear probing.
#pragma once

#include <stdint.h>

namespace halcyon::vswitch::acl {

[[nodiscard]] constexpr uint64_t hash_combine(uint64_t state, uint64_t value) {
    state ^= value + 0x9E3779B97F4A7C15ull;
    state *= 0xFF51AFD7ED558CCDull;
    state ^= state >> 29;
    return state;
}

[[nodiscard]] constexpr uint64_t hash_finish(uint64_t state) {
    state ^= state >> 33;
    state *= 0xC4CEB9FE1A85EC53ull;
    state ^= state >> 33;
    return state;
}

} // namespace halcyon::vswitch::acl
