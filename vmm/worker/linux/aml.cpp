#include "vmm/worker/linux/aml.hpp"

#include <string.h>

namespace halcyon::worker::linux_boot {
namespace {

constexpr size_t kNameSegBytes = 4;
constexpr size_t kMaxPackageElements = 255; // NumElements is one byte

bool is_lead_name_char(char c) {
    return (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_name_char(char c) {
    return is_lead_name_char(c) || (c >= '0' && c <= '9');
}

ErrorOr<void> name_seg(const char* name, char (&seg)[kNameSegBytes]) {
    if (name == nullptr || !is_lead_name_char(name[0]))
        return Error(ErrorCode::invalid_argument, "AML name must start with A-Z or '_'");
    size_t length = 0;
    while (name[length] != '\0') {
        if (length == kNameSegBytes || !is_name_char(name[length]))
            return Error(ErrorCode::invalid_argument, "AML name is not 1-4 of A-Z, 0-9, '_'");
        seg[length] = name[length];
        ++length;
    }
    for (; length < kNameSegBytes; ++length)
        seg[length] = '_';
    return {};
}

// The length of an AML String's text, or an error for characters ASL strings cannot hold here.
// AsciiCharList allows 0x01-0x7F; identification strings (_HID, _DDN, ...) are printable.
ErrorOr<size_t> printable_length(const char* text) {
    if (text == nullptr)
        return Error(ErrorCode::invalid_argument, "AML string is null");
    size_t length = 0;
    for (; text[length] != '\0'; ++length) {
        if (text[length] < 0x20 || text[length] > 0x7E)
            return Error(ErrorCode::invalid_argument, "AML string is not printable ASCII");
    }
    return length;
}

} // namespace

ErrorOr<size_t> encode_package_length(size_t body_bytes,
                                      std::span<uint8_t, aml::kMaxPackageLengthBytes> out) {
    // One byte holds 6 bits; with n-1 following bytes the lead byte keeps 4 bits and each
    // following byte adds 8 (so 12, 20 and 28 bits).
    constexpr size_t kLimits[aml::kMaxPackageLengthBytes] = {0x3F, 0xFFF, 0xF'FFFF, 0xFFF'FFFF};
    for (size_t bytes = 1; bytes <= aml::kMaxPackageLengthBytes; ++bytes) {
        if (body_bytes > kLimits[bytes - 1] - bytes)
            continue;
        const size_t total = body_bytes + bytes;
        if (bytes == 1) {
            out[0] = static_cast<uint8_t>(total);
            return size_t{1};
        }
        out[0] = static_cast<uint8_t>(((bytes - 1) << 6) | (total & 0x0F));
        for (size_t i = 1; i < bytes; ++i)
            out[i] = static_cast<uint8_t>(total >> (4 + 8 * (i - 1)));
        return bytes;
    }
    return Error(ErrorCode::out_of_range, "AML package is longer than PkgLength can encode");
}

size_t integer_size(uint64_t value) {
    if (value <= 1 || value == ~uint64_t{0})
        return 1;
    if (value <= 0xFF)
        return 2;
    if (value <= 0xFFFF)
        return 3;
    if (value <= 0xFFFF'FFFF)
        return 5;
    return 9;
}

ErrorOr<void> AmlWriter::reserve(size_t bytes) const {
    if (bytes > out_.size() - used_)
        return Error(ErrorCode::out_of_memory, "AML does not fit in its table buffer");
    return {};
}

void AmlWriter::put_integer(uint64_t value) {
    const size_t size = integer_size(value);
    if (size == 1) {
        put(value == 0 ? aml::kZeroOp : value == 1 ? aml::kOneOp : aml::kOnesOp);
        return;
    }
    constexpr uint8_t kPrefixes[] = {
        0, 0, aml::kBytePrefix, aml::kWordPrefix, 0, aml::kDWordPrefix, 0, 0, 0, aml::kQWordPrefix};
    put(kPrefixes[size]);
    for (size_t i = 0; i + 1 < size; ++i)
        put(static_cast<uint8_t>(value >> (8 * i)));
}

ErrorOr<void> AmlWriter::integer(uint64_t value) {
    TRY(reserve(integer_size(value)));
    put_integer(value);
    return {};
}

ErrorOr<void> AmlWriter::package(std::span<const uint64_t> values) {
    if (values.size() > kMaxPackageElements)
        return Error(ErrorCode::out_of_range, "AML package has more than 255 elements");
    size_t body = 1; // NumElements
    for (uint64_t value : values)
        body += integer_size(value);
    uint8_t length[aml::kMaxPackageLengthBytes];
    const size_t length_bytes = TRY(encode_package_length(body, length));
    TRY(reserve(1 + length_bytes + body));
    put(aml::kPackageOp);
    for (size_t i = 0; i < length_bytes; ++i)
        put(length[i]);
    put(static_cast<uint8_t>(values.size()));
    for (uint64_t value : values)
        put_integer(value);
    return {};
}

template <typename Body>
ErrorOr<void> AmlWriter::named(const char* name, size_t body_bytes, Body body) {
    char seg[kNameSegBytes];
    TRY(name_seg(name, seg));
    TRY(reserve(1 + kNameSegBytes + body_bytes));
    put(aml::kNameOp);
    for (char c : seg)
        put(static_cast<uint8_t>(c));
    body();
    return {};
}

ErrorOr<void> AmlWriter::name_package(const char* name, std::span<const uint64_t> values) {
    char seg[kNameSegBytes];
    TRY(name_seg(name, seg));
    TRY(reserve(1 + kNameSegBytes));
    const size_t start = used_;
    put(aml::kNameOp);
    for (char c : seg)
        put(static_cast<uint8_t>(c));
    auto packaged = package(values);
    if (packaged.is_error()) {
        used_ = start; // all or nothing
        return packaged.release_error();
    }
    return {};
}

ErrorOr<void> AmlWriter::name_integer(const char* name, uint64_t value) {
    return named(name, integer_size(value), [&] { put_integer(value); });
}

ErrorOr<void> AmlWriter::name_string(const char* name, const char* text) {
    const size_t length = TRY(printable_length(text));
    return named(name, 1 + length + 1, [&] {
        put(aml::kStringPrefix);
        for (size_t i = 0; i < length; ++i)
            put(static_cast<uint8_t>(text[i]));
        put(0); // NullChar
    });
}

ErrorOr<void> AmlWriter::name_buffer(const char* name, std::span<const uint8_t> bytes) {
    // DefBuffer := BufferOp PkgLength BufferSize ByteList, BufferSize an integer TermArg.
    const size_t size_bytes = integer_size(bytes.size());
    uint8_t length[aml::kMaxPackageLengthBytes];
    const size_t length_bytes = TRY(encode_package_length(size_bytes + bytes.size(), length));
    return named(name, 1 + length_bytes + size_bytes + bytes.size(), [&] {
        put(aml::kBufferOp);
        for (size_t i = 0; i < length_bytes; ++i)
            put(length[i]);
        put_integer(bytes.size());
        for (uint8_t byte : bytes)
            put(byte);
    });
}

ErrorOr<void> AmlWriter::return_integer(uint64_t value) {
    TRY(reserve(1 + integer_size(value)));
    put(aml::kReturnOp);
    put_integer(value);
    return {};
}

ErrorOr<void> AmlWriter::open(std::span<const uint8_t> opcode, bool root,
                              const char (&seg)[kNameSegBytes],
                              std::span<const uint8_t> after_name) {
    if (depth_ == aml::kMaxNesting)
        return Error(ErrorCode::out_of_range, "AML terms are nested too deeply");
    TRY(reserve(opcode.size() + 1 + (root ? 1 : 0) + kNameSegBytes + after_name.size()));
    const size_t start = used_;
    for (uint8_t byte : opcode)
        put(byte);
    const size_t length_at = used_;
    put(0); // PkgLength placeholder: close() writes it (and widens it if the body needs)
    if (root)
        put(aml::kRootChar);
    for (char c : seg)
        put(static_cast<uint8_t>(c));
    for (uint8_t byte : after_name)
        put(byte);
    open_[depth_++] = OpenTerm{start, length_at};
    return {};
}

ErrorOr<void> AmlWriter::open_scope(const char* name) {
    const bool root = name != nullptr && name[0] == '\\';
    char seg[kNameSegBytes];
    TRY(name_seg(root ? name + 1 : name, seg));
    const uint8_t opcode[] = {aml::kScopeOp};
    return open(opcode, root, seg, {});
}

ErrorOr<void> AmlWriter::open_device(const char* name) {
    char seg[kNameSegBytes];
    TRY(name_seg(name, seg));
    const uint8_t opcode[] = {aml::kExtOpPrefix, aml::kDeviceOp};
    return open(opcode, false, seg, {});
}

ErrorOr<void> AmlWriter::open_method(const char* name, uint8_t argument_count, bool serialized) {
    if (argument_count > aml::kMaxMethodArguments)
        return Error(ErrorCode::invalid_argument, "AML methods take at most 7 arguments");
    char seg[kNameSegBytes];
    TRY(name_seg(name, seg));
    // MethodFlags: bits 0-2 ArgCount, bit 3 SerializeFlag, bits 4-7 SyncLevel (0).
    const uint8_t flags[] = {static_cast<uint8_t>(argument_count | (serialized ? 0x08 : 0))};
    const uint8_t opcode[] = {aml::kMethodOp};
    return open(opcode, false, seg, flags);
}

ErrorOr<void> AmlWriter::close() {
    if (depth_ == 0)
        return Error(ErrorCode::invalid_argument, "AML close() without an open term");
    const OpenTerm term = open_[--depth_];
    const size_t body = used_ - (term.length_at + 1);
    uint8_t length[aml::kMaxPackageLengthBytes];
    auto encoded = encode_package_length(body, length);
    const size_t extra = encoded.is_error() ? 0 : encoded.value() - 1;
    if (encoded.is_error() || extra > out_.size() - used_) {
        used_ = term.start; // drop the whole term rather than leave it unterminated
        if (encoded.is_error())
            return encoded.release_error();
        return Error(ErrorCode::out_of_memory, "AML does not fit in its table buffer");
    }
    // The placeholder held one byte; a longer PkgLength moves the body up.
    if (extra != 0)
        memmove(&out_[term.length_at + 1 + extra], &out_[term.length_at + 1], body);
    for (size_t i = 0; i < encoded.value(); ++i)
        out_[term.length_at + i] = length[i];
    used_ += extra;
    return {};
}

} // namespace halcyon::worker::linux_boot
