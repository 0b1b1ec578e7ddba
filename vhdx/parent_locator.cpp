#include "vhdx/parent_locator.hpp"

#include "vhdx/format.hpp"
#include "vhdx/utf16.hpp"

#include <string.h>

namespace halcyon::vhdx {

using format::ParentLocatorHeader;
using format::ParentLocatorKeyValue;

std::string_view ParsedParentLocator::find(std::string_view key) const {
    for (const ParentLocatorEntry& entry : entries) {
        if (entry.key == key)
            return entry.value;
    }
    return {};
}

ErrorOr<ParsedParentLocator> parse_parent_locator(Allocator& allocator,
                                                  std::span<const uint8_t> item) {
    if (item.size() < sizeof(ParentLocatorHeader))
        return Error(ErrorCode::corrupt, "parent locator: item too short");
    ParentLocatorHeader header;
    memcpy(&header, item.data(), sizeof header);
    if (!(header.locator_type == format::kVhdxParentLocatorType))
        return Error(ErrorCode::not_supported, "parent locator: not the VHDX locator type");
    uint64_t table_end = sizeof(ParentLocatorHeader) +
                         uint64_t(header.key_value_count) * sizeof(ParentLocatorKeyValue);
    if (table_end > item.size())
        return Error(ErrorCode::corrupt, "parent locator: key/value table past the item's end");
    // First pass: validate and size the UTF-8 storage.
    uint64_t text_bytes = 0;
    auto pair_at = [&](uint32_t i) {
        ParentLocatorKeyValue pair;
        memcpy(&pair, item.data() + sizeof(ParentLocatorHeader) + i * sizeof pair, sizeof pair);
        return pair;
    };
    for (uint32_t i = 0; i < header.key_value_count; ++i) {
        ParentLocatorKeyValue pair = pair_at(i);
        if (pair.key_length == 0 || pair.value_length == 0)
            return Error(ErrorCode::corrupt, "parent locator: empty key or value");
        if (uint64_t(pair.key_offset) + pair.key_length > item.size() ||
            uint64_t(pair.value_offset) + pair.value_length > item.size())
            return Error(ErrorCode::corrupt, "parent locator: key or value past the item's end");
        text_bytes += TRY(utf8_length_of_utf16le(item.subspan(pair.key_offset, pair.key_length)));
        text_bytes +=
            TRY(utf8_length_of_utf16le(item.subspan(pair.value_offset, pair.value_length)));
    }
    size_t entries_bytes = header.key_value_count * sizeof(ParentLocatorEntry);
    ParsedParentLocator parsed;
    parsed.storage = TRY(Buffer::allocate(allocator, entries_bytes + text_bytes + 1));
    auto* entries = parsed.storage.as<ParentLocatorEntry>();
    char* text = parsed.storage.as<char>(entries_bytes);
    for (uint32_t i = 0; i < header.key_value_count; ++i) {
        ParentLocatorKeyValue pair = pair_at(i);
        auto decode = [&](uint32_t offset, uint16_t length) -> ErrorOr<std::string_view> {
            auto bytes = item.subspan(offset, length);
            size_t size = TRY(utf8_length_of_utf16le(bytes));
            TRY(utf16le_to_utf8(bytes, {text, size}));
            std::string_view view(text, size);
            text += size;
            return view;
        };
        std::string_view key = TRY(decode(pair.key_offset, pair.key_length));
        std::string_view value = TRY(decode(pair.value_offset, pair.value_length));
        for (uint32_t j = 0; j < i; ++j) {
            if (entries[j].key == key)
                return Error(ErrorCode::corrupt, "parent locator: duplicate key");
        }
        new (&entries[i]) ParentLocatorEntry{key, value};
    }
    parsed.entries = {entries, header.key_value_count};
    return parsed;
}

ErrorOr<Buffer> build_parent_locator(Allocator& allocator,
                                     std::span<const ParentLocatorEntry> pairs) {
    if (pairs.size() > 0xFFFF)
        return Error(ErrorCode::invalid_argument, "parent locator: too many pairs");
    uint64_t size = sizeof(ParentLocatorHeader) + pairs.size() * sizeof(ParentLocatorKeyValue);
    for (const ParentLocatorEntry& pair : pairs) {
        size_t key = TRY(utf16_length_of_utf8(pair.key));
        size_t value = TRY(utf16_length_of_utf8(pair.value));
        if (key == 0 || value == 0 || key > 0xFFFF || value > 0xFFFF)
            return Error(ErrorCode::invalid_argument,
                         "parent locator: empty or too long key/value");
        size += key + value;
    }
    if (size > 1024 * 1024)
        return Error(ErrorCode::invalid_argument, "parent locator: larger than 1 MiB");
    Buffer item = TRY(Buffer::allocate(allocator, size));
    ParentLocatorHeader header{format::kVhdxParentLocatorType, 0,
                               static_cast<uint16_t>(pairs.size())};
    memcpy(item.data(), &header, sizeof header);
    uint32_t text =
        static_cast<uint32_t>(sizeof header + pairs.size() * sizeof(ParentLocatorKeyValue));
    for (size_t i = 0; i < pairs.size(); ++i) {
        ParentLocatorKeyValue kv{};
        kv.key_offset = text;
        kv.key_length = static_cast<uint16_t>(TRY(utf16_length_of_utf8(pairs[i].key)));
        TRY(utf8_to_utf16le(pairs[i].key, item.span().subspan(text, kv.key_length)));
        text += kv.key_length;
        kv.value_offset = text;
        kv.value_length = static_cast<uint16_t>(TRY(utf16_length_of_utf8(pairs[i].value)));
        TRY(utf8_to_utf16le(pairs[i].value, item.span().subspan(text, kv.value_length)));
        text += kv.value_length;
        memcpy(item.data() + sizeof header + i * sizeof kv, &kv, sizeof kv);
    }
    return item;
}

} // namespace halcyon::vhdx
