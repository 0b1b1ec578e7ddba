// Small string_view helpers. substring() clamps instead of throwing: std::string_view::substr
// reports a bad position by throwing, which in the freestanding worlds (no exceptions) becomes
// a call to abort(), a symbol the core and the management partition do not have.
#pragma once

#include <stddef.h>
#include <string_view>

namespace halcyon::mgmt {

[[nodiscard]] constexpr std::string_view substring(std::string_view text, size_t position,
                                                   size_t count = std::string_view::npos) {
    if (position > text.size())
        position = text.size();
    size_t available = text.size() - position;
    return std::string_view(text.data() + position, count < available ? count : available);
}

} // namespace halcyon::mgmt
