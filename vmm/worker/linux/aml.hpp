// A tiny AML (ACPI Machine Language, ACPI 6.5 chapter 20) encoder: the few encodings the guest's
// DSDT needs, written straight into a caller's buffer. Each call appends one complete term; a
// term that does not fit fails and leaves the buffer's used size unchanged.
//
// Terms with a body (Scope, Device, Method) are opened, filled and closed; close() writes the
// PkgLength in its shortest form, as the ASL compiler does, so iasl reproduces our bytes:
//
//   AmlWriter aml(buffer);
//   TRY(aml.name_package("_S5", {5, 5, 0, 0}));   // Name (_S5, Package () { 5, 5, 0, 0 })
//   TRY(aml.open_device("VMBS"));                 // Device (VMBS) {
//   TRY(aml.name_string("_HID", "VMBus"));        //     Name (_HID, "VMBus")
//   TRY(aml.close());                             // }
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
inline constexpr uint8_t kStringPrefix = 0x0D;
inline constexpr uint8_t kQWordPrefix = 0x0E;
inline constexpr uint8_t kScopeOp = 0x10;
inline constexpr uint8_t kBufferOp = 0x11;
inline constexpr uint8_t kPackageOp = 0x12;
inline constexpr uint8_t kMethodOp = 0x14;
inline constexpr uint8_t kRootChar = '\\';
inline constexpr uint8_t kExtOpPrefix = 0x5B;
inline constexpr uint8_t kDeviceOp = 0x82; // after kExtOpPrefix
inline constexpr uint8_t kReturnOp = 0xA4;
inline constexpr uint8_t kOnesOp = 0xFF;
inline constexpr size_t kMaxPackageLengthBytes = 4;
inline constexpr size_t kMaxPackageLength = 0x0FFF'FFFF; // 28 bits, the PkgLength bytes included
inline constexpr size_t kMaxNesting = 8;                 // open Scope/Device/Method terms
inline constexpr uint8_t kMaxMethodArguments = 7;
// A resource template (ACPI 6.5, 6.4) that describes no resources: only the small End Tag
// descriptor (6.4.2.9), whose checksum byte 0 means "not checked".
inline constexpr uint8_t kEmptyResourceTemplate[] = {0x79, 0x00};
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

    // Named objects. NAME is a NameSeg: 1-4 characters ([A-Z_] then [A-Z0-9_]), padded with '_'
    // to 4 characters as ASL does.
    // `Name (NAME, Package () { values... })`
    [[nodiscard]] ErrorOr<void> name_package(const char* name, std::span<const uint64_t> values);
    [[nodiscard]] ErrorOr<void> name_package(const char* name,
                                             std::initializer_list<uint64_t> values) {
        return name_package(name, std::span<const uint64_t>(values.begin(), values.size()));
    }
    // `Name (NAME, value)` with an integer constant.
    [[nodiscard]] ErrorOr<void> name_integer(const char* name, uint64_t value);
    // `Name (NAME, "text")`; text is printable ASCII (0x20-0x7E), as _HID/_DDN strings are.
    [[nodiscard]] ErrorOr<void> name_string(const char* name, const char* text);
    // `Name (NAME, Buffer () { bytes... })`, e.g. a _CRS resource template.
    [[nodiscard]] ErrorOr<void> name_buffer(const char* name, std::span<const uint8_t> bytes);
    // `Return (value)` with an integer constant (inside a method).
    [[nodiscard]] ErrorOr<void> return_integer(uint64_t value);

    // Terms with a body: each open_*() must be matched by a close(), innermost first.
    // `Scope (NAME) {`; NAME may start with '\' (the root).
    [[nodiscard]] ErrorOr<void> open_scope(const char* name);
    // `Device (NAME) {`
    [[nodiscard]] ErrorOr<void> open_device(const char* name);
    // `Method (NAME, argument_count, NotSerialized | Serialized) {` with SyncLevel 0.
    [[nodiscard]] ErrorOr<void> open_method(const char* name, uint8_t argument_count,
                                            bool serialized = false);
    // `}` of the innermost open term: writes its PkgLength. If the longer PkgLength the body
    // needs does not fit, the whole term is dropped (used size back to where it started).
    [[nodiscard]] ErrorOr<void> close();

    // Every opened term has been closed: the bytes are a complete TermList.
    [[nodiscard]] bool complete() const { return depth_ == 0; }
    [[nodiscard]] size_t size() const { return used_; }
    [[nodiscard]] std::span<const uint8_t> bytes() const { return out_.first(used_); }

private:
    struct OpenTerm {
        size_t start;     // first byte of the term (its opcode)
        size_t length_at; // the one placeholder byte reserved for its PkgLength
    };

    [[nodiscard]] ErrorOr<void> reserve(size_t bytes) const;
    void put(uint8_t byte) { out_[used_++] = byte; }
    void put_integer(uint64_t value);
    // Opcode bytes, a 1-byte PkgLength placeholder, then the (already validated) name segment.
    [[nodiscard]] ErrorOr<void> open(std::span<const uint8_t> opcode, bool root,
                                     const char (&seg)[4], std::span<const uint8_t> after_name);
    // NameOp + NameSeg, then runs `body` (which must write exactly `body_bytes`); all or nothing.
    template <typename Body>
    [[nodiscard]] ErrorOr<void> named(const char* name, size_t body_bytes, Body body);

    std::span<uint8_t> out_;
    size_t used_ = 0;
    OpenTerm open_[aml::kMaxNesting] = {};
    size_t depth_ = 0;
};

} // namespace halcyon::worker::linux_boot
