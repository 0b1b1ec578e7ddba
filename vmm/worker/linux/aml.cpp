#include "vmm/worker/linux/aml.hpp"

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

} // namespace halcyon::worker::linux_boot
