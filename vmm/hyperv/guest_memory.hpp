// How the SynIC and the hypercalls reach guest RAM: copies for hypercall parameter blocks and
// message payloads, and atomic operations on 64-bit guest words for what the guest changes at
// the same time from its own vCPUs (the header word of a message slot, the event flags). The
// partition implements it over its guest memory (atomics on the host mapping of that RAM);
// the unit tests over a byte array.
#pragma once

#include "vmm/hyperv/guest_page_writer.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmm::hyperv {

class GuestMemory : public GuestPageWriter {
public:
    // Copies between guest RAM at `guest_physical` and `data`. False, with nothing copied, unless
    // every byte is RAM.
    [[nodiscard]] virtual bool read(uint64_t guest_physical, std::span<uint8_t> data) = 0;
    [[nodiscard]] virtual bool write(uint64_t guest_physical, std::span<const uint8_t> data) = 0;

    // Atomic operations on the naturally aligned 64-bit word at `guest_physical` (8-byte
    // aligned; false if not RAM). Sequentially consistent, like the guest's LOCK-prefixed
    // instructions they race with.
    [[nodiscard]] virtual bool load_u64(uint64_t guest_physical, uint64_t& value) = 0;
    // Stores `desired` if the word still holds `expected`; otherwise `expected` receives the
    // word's value. `swapped` tells which happened.
    [[nodiscard]] virtual bool compare_exchange_u64(uint64_t guest_physical, uint64_t& expected,
                                                    uint64_t desired, bool& swapped) = 0;
    // word |= bits; `previous` receives the value before.
    [[nodiscard]] virtual bool fetch_or_u64(uint64_t guest_physical, uint64_t bits,
                                            uint64_t& previous) = 0;

protected:
    ~GuestMemory() = default;
};

} // namespace halcyon::vmm::hyperv
