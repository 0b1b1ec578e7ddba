// A tiny AML (ACPI Machine Language, ACPI 6.5 chapter 20) encoder: the few encodings the guest's
// DSDT needs, written straight into a caller's buffer. Each call appends one complete term; a
// term that does not fit fails and leaves the buffer's used size unchanged.
//
//   AmlWriter aml(buffer);
//   TRY(aml.name_package("_S5", {5, 5, 0, 0}));   // Name (_S5, Package () { 5, 5, 0, 0 })
#pragma once

#include "lib/base/error_or.hpp"

#include <initializer_list>
#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::worker::linux_boot {

namespace aml {
inline constexpr uint8_t kZeroOp = 0x00;
inline constexpr uint8_t kOneOp = 0x01;
inline constexpr uint8_t kNameOp = 0x08;
inline constexpr uint8_t kBytePrefix = 0x0A;
inline constexpr uint8_t kWordPrefix = 0x0B;
inline constexpr uint8_t kDWordPrefix = 0x0C;
inline constexpr uint8_t kQWordPrefix = 0x0E;
inline constexpr uint8_t kPackageOp = 0x12;
inline constexpr uint8_t kOnesOp = 0xFF;
inline constexpr size_t kMaxPackageLengthBytes = 4;
inline constexpr size_t kMaxPackageLength = 0x0FFF'FFFF; // 28 bits, the PkgLength bytes included
} // namespace aml

// PkgLength for a term whose body after the PkgLength is `body_bytes` long: the encoded length
// counts the PkgLength bytes themselves, so the shortest form that holds body + itself is used.
// Returns the number of bytes written to `out`.
[[nodiscard]] ErrorOr<size_t>
encode_package_length(size_t body_bytes, std::span<uint8_t, aml::kMaxPackageLengthBytes> out);

// The bytes `value` takes as a ComputationalData integer (ZeroOp, OneOp, OnesOp, or a prefix
// and 1, 2, 4 or 8 little-endian bytes).
[[nodiscard]] size_t integer_size(uint64_t value);

class AmlWriter {
public:
    explicit AmlWriter(std::span<uint8_t> out) : out_(out) {}

    // An integer constant, in its shortest encoding.
    [[nodiscard]] ErrorOr<void> integer(uint64_t value);
    // `Package () { values... }` of integer constants (at most 255 elements).
    [[nodiscard]] ErrorOr<void> package(std::span<const uint64_t> values);
    // `Name (NAME, Package () { values... })`; NAME is 1-4 characters ([A-Z_] then [A-Z0-9_]),
    // padded with '_' to a 4-character NameSeg as ASL does.
    [[nodiscard]] ErrorOr<void> name_package(const char* name, std::span<const uint64_t> values);
    [[nodiscard]] ErrorOr<void> name_package(const char* name,
                                             std::initializer_list<uint64_t> values) {
        return name_package(name, std::span<const uint64_t>(values.begin(), values.size()));
    }

    [[nodiscard]] size_t size() const { return used_; }
    [[nodiscard]] std::span<const uint8_t> bytes() const { return out_.first(used_); }

private:
    [[nodiscard]] ErrorOr<void> reserve(size_t bytes) const;
    void put(uint8_t byte) { out_[used_++] = byte; }
    void put_integer(uint64_t value);

    std::span<uint8_t> out_;
    size_t used_ = 0;
};

} // namespace halcyon::worker::linux_boot
