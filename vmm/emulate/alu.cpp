#include "vmm/emulate/alu.hpp"
#include "vmm/emulate/emulator.hpp"

namespace halcyon::emulate {

namespace {

using namespace rflags;

bool even_parity(uint64_t value) {
    return (__builtin_popcountll(value & 0xFF) & 1) == 0;
}

// ZF, SF and PF follow the result the same way for every operation.
uint64_t result_flags(uint64_t value, unsigned size) {
    uint64_t flags = 0;
    if ((value & size_mask(size)) == 0)
        flags |= kZero;
    if ((value >> (size * 8 - 1)) & 1)
        flags |= kSign;
    if (even_parity(value))
        flags |= kParity;
    return flags;
}

// Flags of r = a + b + carry_in: carry and overflow out of the top bit, adjust out of bit 3.
uint64_t add_flags(uint64_t a, uint64_t b, uint64_t r, unsigned size) {
    const unsigned top = size * 8 - 1;
    uint64_t flags = result_flags(r, size);
    if ((((a & b) | ((a | b) & ~r)) >> top) & 1)
        flags |= kCarry;
    if ((((a ^ r) & (b ^ r)) >> top) & 1)
        flags |= kOverflow;
    if ((a ^ b ^ r) & 0x10)
        flags |= kAdjust;
    return flags;
}

// Flags of r = a - b - borrow_in: CF is the borrow out of the top bit.
uint64_t sub_flags(uint64_t a, uint64_t b, uint64_t r, unsigned size) {
    const unsigned top = size * 8 - 1;
    uint64_t flags = result_flags(r, size);
    if ((((~a & b) | ((~a | b) & r)) >> top) & 1)
        flags |= kCarry;
    if ((((a ^ b) & (a ^ r)) >> top) & 1)
        flags |= kOverflow;
    if ((a ^ b ^ r) & 0x10)
        flags |= kAdjust;
    return flags;
}

} // namespace

AluResult alu(AluOp op, unsigned size, uint64_t a, uint64_t b, uint64_t rflags) {
    const uint64_t mask = size_mask(size);
    a &= mask;
    b &= mask;
    const uint64_t carry_in = rflags & kCarry;
    const uint64_t kept = rflags & ~kArithmetic;
    uint64_t r;
    switch (op) {
    case AluOp::add:
    case AluOp::adc:
        r = (a + b + (op == AluOp::adc ? carry_in : 0)) & mask;
        return {r, kept | add_flags(a, b, r, size), true};
    case AluOp::sub:
    case AluOp::sbb:
    case AluOp::cmp:
        r = (a - b - (op == AluOp::sbb ? carry_in : 0)) & mask;
        return {op == AluOp::cmp ? a : r, kept | sub_flags(a, b, r, size), op != AluOp::cmp};
    case AluOp::and_:
    case AluOp::test:
    case AluOp::or_:
    case AluOp::xor_:
        // CF and OF are cleared; AF is architecturally undefined and cleared here, which is
        // what both Intel and AMD parts do (checked against the host by the native tests).
        r = op == AluOp::or_ ? (a | b) : op == AluOp::xor_ ? (a ^ b) : (a & b);
        return {op == AluOp::test ? a : r, kept | result_flags(r, size), op != AluOp::test};
    case AluOp::inc:
        // INC/DEC leave CF alone: the one difference from ADD/SUB 1.
        r = (a + 1) & mask;
        return {r, (rflags & ~(kArithmetic & ~kCarry)) | (add_flags(a, 1, r, size) & ~kCarry),
                true};
    case AluOp::dec:
        r = (a - 1) & mask;
        return {r, (rflags & ~(kArithmetic & ~kCarry)) | (sub_flags(a, 1, r, size) & ~kCarry),
                true};
    case AluOp::neg:
        // NEG is 0 - a; its CF is simply "a was not zero", which sub_flags yields.
        r = (0 - a) & mask;
        return {r, kept | sub_flags(0, a, r, size), true};
    case AluOp::not_:
        return {~a & mask, rflags, true};
    }
    return {a, rflags, false};
}

AluResult bit_operation(BitOp op, unsigned size, uint64_t value, unsigned bit, uint64_t rflags) {
    value &= size_mask(size);
    const uint64_t selected = 1ULL << bit;
    const bool was_set = value & selected;
    // Only CF is defined. OF, SF, AF and PF are undefined and ZF is unchanged: this leaves all
    // of them as they were, which is what Intel CPUs do (the native tests compare on the host).
    const uint64_t flags = (rflags & ~kCarry) | (was_set ? kCarry : 0);
    switch (op) {
    case BitOp::test:
        return {value, flags, false};
    case BitOp::set:
        return {value | selected, flags, true};
    case BitOp::reset:
        return {value & ~selected, flags, true};
    case BitOp::complement:
        return {value ^ selected, flags, true};
    }
    return {value, flags, false};
}

} // namespace halcyon::emulate
