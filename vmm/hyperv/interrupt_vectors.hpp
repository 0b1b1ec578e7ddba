// A set of interrupt vectors, as the SynIC hands them to its virtual processor's local APIC:
// the vectors to assert (fixed delivery, edge-triggered) after an operation, and the vectors
// whose interrupts end by themselves (AutoEOI). The SynIC fills it while its lock is held; the
// partition asserts the vectors after releasing it, so no SynIC lock is ever held together with
// a local APIC lock.
#pragma once

#include <bit>
#include <stdint.h>

namespace halcyon::vmm::hyperv {

class InterruptVectors {
public:
    void add(uint8_t vector) { words_[vector / 64] |= bit(vector); }
    void remove(uint8_t vector) { words_[vector / 64] &= ~bit(vector); }
    [[nodiscard]] bool contains(uint8_t vector) const {
        return (words_[vector / 64] & bit(vector)) != 0;
    }
    [[nodiscard]] bool empty() const {
        return (words_[0] | words_[1] | words_[2] | words_[3]) == 0;
    }
    [[nodiscard]] uint32_t size() const {
        uint32_t count = 0;
        for (uint64_t word : words_)
            count += static_cast<uint32_t>(std::popcount(word));
        return count;
    }
    // The lowest vector >= `from` in the set, or -1: `for (int v = s.next(0); v >= 0; v =
    // s.next(v + 1))` visits them all.
    [[nodiscard]] int next(int from) const {
        if (from < 0 || from >= 256)
            return -1;
        int index = from / 64;
        uint64_t word = words_[index] & (~uint64_t{0} << (from % 64));
        while (word == 0) {
            if (++index == 4)
                return -1;
            word = words_[index];
        }
        return index * 64 + std::countr_zero(word);
    }
    [[nodiscard]] uint64_t word(unsigned index) const { return words_[index]; }
    friend bool operator==(const InterruptVectors&, const InterruptVectors&) = default;

private:
    static constexpr uint64_t bit(uint8_t vector) { return uint64_t{1} << (vector % 64); }

    uint64_t words_[4] = {};
};

} // namespace halcyon::vmm::hyperv
