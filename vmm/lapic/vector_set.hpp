// A 256-bit set of interrupt vectors: the IRR, ISR and TMR of a local APIC.
#pragma once

#include <bit>
#include <stdint.h>

namespace halcyon::vmm::lapic {

class VectorSet {
public:
    void set(uint8_t vector) { words_[vector / 64] |= bit(vector); }
    void clear(uint8_t vector) { words_[vector / 64] &= ~bit(vector); }
    void assign(uint8_t vector, bool value) { value ? set(vector) : clear(vector); }
    [[nodiscard]] bool test(uint8_t vector) const {
        return (words_[vector / 64] & bit(vector)) != 0;
    }
    void clear_all() {
        for (uint64_t& word : words_) {
            word = 0;
        }
    }

    // The highest vector in the set, or -1 when empty (the APIC's priority order is numeric).
    [[nodiscard]] int highest() const {
        for (int index = 3; index >= 0; --index) {
            if (words_[index] != 0) {
                return index * 64 + 63 - std::countl_zero(words_[index]);
            }
        }
        return -1;
    }

    // Bits 32*index .. 32*index+31: the register at MMIO offset base + index * 16 (index 0..7).
    [[nodiscard]] uint32_t dword(unsigned index) const {
        return static_cast<uint32_t>(words_[index / 2] >> (32 * (index % 2)));
    }

private:
    static constexpr uint64_t bit(uint8_t vector) { return uint64_t{1} << (vector % 64); }

    uint64_t words_[4] = {};
};

} // namespace halcyon::vmm::lapic
