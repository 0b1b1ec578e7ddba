// The parent locator metadata item (MS-VHDX 2.6.2.6): UTF-16LE key/value pairs naming the
// parent of a differencing disk (parent_linkage, relative_path, absolute_win32_path, ...).
#pragma once

#include "lib/base/error_or.hpp"
#include "vhdx/allocator.hpp"
#include "vhdx/buffer.hpp"
#include "vhdx/disk.hpp"

#include <span>
#include <string_view>

namespace halcyon::vhdx {

// Decoded key/value pairs (UTF-8); `entries` points into `storage`.
struct ParsedParentLocator {
    Buffer storage;
    std::span<ParentLocatorEntry> entries;

    // The value of key, or an empty view.
    [[nodiscard]] std::string_view find(std::string_view key) const;
};

// Validates the item (VHDX locator type, pairs inside the item, UTF-16LE) and decodes it.
[[nodiscard]] ErrorOr<ParsedParentLocator> parse_parent_locator(Allocator& allocator,
                                                                std::span<const uint8_t> item);

// Encodes pairs (UTF-8) as a parent locator item.
[[nodiscard]] ErrorOr<Buffer> build_parent_locator(Allocator& allocator,
                                                   std::span<const ParentLocatorEntry> pairs);

} // namespace halcyon::vhdx
