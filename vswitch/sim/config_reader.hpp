// Typed, checked access to one JSON object of a configuration: every key must be consumed by the
// loader (unknown keys are errors, so a typo never silently falls back to a default), and every
// error names the file position and the path to the value ("switches[0].ports[2].mtu").
#pragma once

#include "vswitch/sim/json.hpp"

#include <stdint.h>
#include <string>
#include <string_view>
#include <vector>

namespace halcyon::vswitch::sim {

// The first error of a load, formatted as "FILE:LINE:COLUMN: PATH: message".
class ConfigErrors {
public:
    explicit ConfigErrors(std::string_view file) : file_(file) {}
    bool fail(uint32_t line, uint32_t column, std::string_view path, std::string_view message);
    bool fail(const JsonValue& at, std::string_view path, std::string_view message) {
        return fail(at.line, at.column, path, message);
    }
    [[nodiscard]] bool failed() const { return !message_.empty(); }
    [[nodiscard]] const std::string& message() const { return message_; }

private:
    std::string file_;
    std::string message_;
};

class ObjectReader {
public:
    // Fails (reported) unless `value` is an object.
    ObjectReader(ConfigErrors& errors, const JsonValue& value, std::string path);

    [[nodiscard]] bool valid() const { return valid_; }
    [[nodiscard]] const std::string& path() const { return path_; }
    [[nodiscard]] std::string child_path(std::string_view key) const;
    // The member named `key` (marked as consumed), or nullptr if absent.
    [[nodiscard]] const JsonValue* get(std::string_view key);
    // A required member; reports "missing key" if absent.
    [[nodiscard]] const JsonValue* require(std::string_view key);

    // Optional typed members: absent leaves `out` unchanged and returns true; present but of the
    // wrong type or out of range reports an error and returns false.
    [[nodiscard]] bool boolean(std::string_view key, bool& out);
    [[nodiscard]] bool unsigned_integer(std::string_view key, uint64_t min, uint64_t max,
                                        uint64_t& out);
    template <typename T>
    [[nodiscard]] bool integer(std::string_view key, uint64_t min, uint64_t max, T& out) {
        uint64_t value = out;
        if (!unsigned_integer(key, min, max, value))
            return false;
        out = static_cast<T>(value);
        return true;
    }
    [[nodiscard]] bool string(std::string_view key, std::string& out);
    // A string that must be one of `choices`; `index` receives its position.
    [[nodiscard]] bool choice(std::string_view key, const std::vector<std::string_view>& choices,
                              uint32_t& index);

    // Reports the first member no get()/require() consumed. Call after reading everything.
    [[nodiscard]] bool finish();

    [[nodiscard]] ConfigErrors& errors() { return errors_; }
    [[nodiscard]] const JsonValue& value() const { return value_; }

private:
    ConfigErrors& errors_;
    const JsonValue& value_;
    std::string path_;
    std::vector<bool> used_;
    bool valid_ = false;
};

// Number checks for array items and the like.
[[nodiscard]] bool read_unsigned(ConfigErrors& errors, const JsonValue& value,
                                 std::string_view path, uint64_t min, uint64_t max, uint64_t& out);
[[nodiscard]] bool expect_kind(ConfigErrors& errors, const JsonValue& value, std::string_view path,
                               JsonValue::Kind kind);

} // namespace halcyon::vswitch::sim
