#include "boot/multiboot2/rsdp.hpp"

namespace halcyon::multiboot2 {

namespace {

constexpr char kSignature[8] = {'R', 'S', 'D', ' ', 'P', 'T', 'R', ' '};
constexpr size_t kRevisionOffset = 15;
constexpr size_t kLengthOffset = 20;

[[nodiscard]] bool sums_to_zero(std::span<const uint8_t> bytes) {
    uint8_t sum = 0;
    for (uint8_t byte : bytes)
        sum = static_cast<uint8_t>(sum + byte);
    return sum == 0;
}

} // namespace

size_t rsdp_size(std::span<const uint8_t> bytes) {
    if (bytes.size() < kRsdpV1Size || __builtin_memcmp(bytes.data(), kSignature, 8) != 0 ||
        !sums_to_zero(bytes.first(kRsdpV1Size)))
        return 0;
    if (bytes[kRevisionOffset] < 2)
        return kRsdpV1Size;
    if (bytes.size() < kRsdpV2Size)
        return 0;
    uint32_t length;
    __builtin_memcpy(&length, bytes.data() + kLengthOffset, sizeof(length));
    if (length < kRsdpV2Size || length > bytes.size() || !sums_to_zero(bytes.first(length)))
        return 0;
    return length;
}

bool is_valid_rsdp(std::span<const uint8_t> bytes) {
    return rsdp_size(bytes) != 0;
}

std::optional<size_t> find_rsdp(std::span<const uint8_t> area) {
    for (size_t offset = 0; offset + kRsdpV1Size <= area.size(); offset += 16) {
        if (is_valid_rsdp(area.subspan(offset)))
            return offset;
    }
    return std::nullopt;
}

} // namespace halcyon::multiboot2
