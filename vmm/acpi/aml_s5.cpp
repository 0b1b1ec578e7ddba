// Finds the \_S5 (soft-off) sleep type without an AML interpreter. Nearly every firmware
// declares it as a plain named package, encoded as
//     NameOp '\'? '_S5_' PackageOp PkgLength NumElements Element0 Element1 ...
// with each element an integer constant (ZeroOp, OneOp, BytePrefix n, WordPrefix n, ...).
// The scan looks for that byte pattern; anything else (a Method returning the package, a
// computed value) is reported as not found, and the caller then has no ACPI power-off.
#include "vmm/acpi/parsers.hpp"

namespace halcyon::acpi {
namespace {

constexpr uint8_t kNameOp = 0x08;
constexpr uint8_t kRootChar = 0x5C; // '\'
constexpr uint8_t kPackageOp = 0x12;
constexpr uint8_t kZeroOp = 0x00;
constexpr uint8_t kOneOp = 0x01;
constexpr uint8_t kOnesOp = 0xFF;
constexpr uint8_t kBytePrefix = 0x0A;
constexpr uint8_t kWordPrefix = 0x0B;
constexpr uint8_t kDWordPrefix = 0x0C;
constexpr uint8_t kQWordPrefix = 0x0E;

// SLP_TYPx is a 3-bit field of PM1x_CNT; anything larger is not a sleep type.
constexpr uint64_t kMaxSleepType = 7;

// A bounded reader over the AML: every read checks against `end`, which is the table end or,
// inside the package, the package end (whichever is smaller).
struct Cursor {
    std::span<const uint8_t> aml;
    size_t position;
    size_t end;

    bool byte(uint8_t& out) {
        if (position >= end)
            return false;
        out = aml[position++];
        return true;
    }

    bool little_endian(size_t bytes, uint64_t& out) {
        if (end - position < bytes)
            return false;
        out = 0;
        for (size_t i = 0; i < bytes; ++i)
            out |= static_cast<uint64_t>(aml[position + i]) << (8 * i);
        position += bytes;
        return true;
    }
};

// PkgLength (ACPI 6.5, 20.2.4): bits 7-6 of the lead byte give the number of following bytes.
// With none, bits 5-0 are the length; otherwise bits 3-0 are its low nibble and each following
// byte adds 8 more bits. The length counts from the lead byte itself.
bool package_length(Cursor& cursor, size_t& length) {
    uint8_t lead;
    if (!cursor.byte(lead))
        return false;
    unsigned follow = lead >> 6;
    if (follow == 0) {
        length = lead & 0x3F;
        return true;
    }
    if ((lead & 0x30) != 0)
        return false; // reserved bits must be zero in the multi-byte form
    length = lead & 0x0F;
    for (unsigned i = 0; i < follow; ++i) {
        uint8_t next;
        if (!cursor.byte(next))
            return false;
        length |= static_cast<size_t>(next) << (4 + 8 * i);
    }
    return true;
}

bool integer_element(Cursor& cursor, uint64_t& value) {
    uint8_t op;
    if (!cursor.byte(op))
        return false;
    switch (op) {
    case kZeroOp:
        value = 0;
        return true;
    case kOneOp:
        value = 1;
        return true;
    case kOnesOp:
        value = ~uint64_t{0};
        return true;
    case kBytePrefix:
        return cursor.little_endian(1, value);
    case kWordPrefix:
        return cursor.little_endian(2, value);
    case kDWordPrefix:
        return cursor.little_endian(4, value);
    case kQWordPrefix:
        return cursor.little_endian(8, value);
    default:
        return false; // a reference or expression: needs an interpreter
    }
}

// Parses `PackageOp PkgLength NumElements a b ...` starting at `position`.
bool parse_package(std::span<const uint8_t> aml, size_t position, SleepType& out) {
    Cursor cursor{aml, position, aml.size()};
    uint8_t op;
    if (!cursor.byte(op) || op != kPackageOp)
        return false;
    size_t length_start = cursor.position;
    size_t length;
    if (!package_length(cursor, length))
        return false;
    if (length > aml.size() - length_start || length_start + length < cursor.position)
        return false;
    cursor.end = length_start + length; // elements must lie inside the package

    uint8_t element_count;
    if (!cursor.byte(element_count) || element_count < 2)
        return false;
    uint64_t a, b;
    if (!integer_element(cursor, a) || !integer_element(cursor, b))
        return false;
    if (a > kMaxSleepType || b > kMaxSleepType)
        return false;
    out = SleepType{static_cast<uint8_t>(a), static_cast<uint8_t>(b)};
    return true;
}

bool is_s5_name_at(std::span<const uint8_t> aml, size_t i) {
    return aml[i] == '_' && aml[i + 1] == 'S' && aml[i + 2] == '5' && aml[i + 3] == '_';
}

// True when the NameSeg at `i` is the name of a NameOp: `NameOp _S5_` or `NameOp \ _S5_`.
bool follows_name_op(std::span<const uint8_t> aml, size_t i) {
    if (i >= 1 && aml[i - 1] == kNameOp)
        return true;
    return i >= 2 && aml[i - 1] == kRootChar && aml[i - 2] == kNameOp;
}

} // namespace

ErrorOr<SleepType> find_s5_sleep_type(std::span<const uint8_t> aml) {
    for (size_t i = 0; i + 4 <= aml.size(); ++i) {
        if (!is_s5_name_at(aml, i) || !follows_name_op(aml, i))
            continue;
        SleepType sleep_type;
        if (parse_package(aml, i + 4, sleep_type))
            return sleep_type;
        // Not a usable definition (perhaps the bytes were inside a string or a buffer): keep
        // looking, a real one may follow.
    }
    return Error(ErrorCode::not_found, "no \\_S5 package in the AML");
}

} // namespace halcyon::acpi
