// A string of at most N bytes stored inline, for names and paths in structures that cross the
// VmHost interface by value (no allocation on either side).
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <string_view>

namespace halcyon::mgmt {

template <size_t N>
class FixedString {
public:
    static constexpr size_t kCapacity = N;

    FixedString() = default;

    // False (leaving the string unchanged) when `text` is longer than N.
    [[nodiscard]] bool assign(std::string_view text) {
        if (text.size() > N)
            return false;
        if (!text.empty())
            memcpy(data_, text.data(), text.size());
        length_ = uint32_t(text.size());
        data_[length_] = '\0';
        return true;
    }
    [[nodiscard]] std::string_view view() const { return std::string_view(data_, length_); }
    [[nodiscard]] const char* c_str() const { return data_; }
    [[nodiscard]] bool empty() const { return length_ == 0; }
    [[nodiscard]] size_t size() const { return length_; }

private:
    char data_[N + 1] = {};
    uint32_t length_ = 0;
};

} // namespace halcyon::mgmt
