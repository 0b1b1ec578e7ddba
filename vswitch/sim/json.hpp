// A small strict JSON reader (RFC 8259) for vswitch-sim's configuration files. Every value keeps
// the line and column where it starts so configuration errors can point at the offending text.
// Host-only code (std::string/std::vector); it never throws: errors come back as values.
#pragma once

#include <stdint.h>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace halcyon::vswitch::sim {

struct JsonValue {
    enum class Kind : uint8_t { null, boolean, number, string, array, object };

    Kind kind = Kind::null;
    bool boolean = false;
    // Numbers: `integer` is exact when is_integer (no fraction/exponent and within int64).
    bool is_integer = false;
    int64_t integer = 0;
    double number = 0;
    std::string text; // string contents (UTF-8, escapes resolved)
    std::vector<JsonValue> items;
    std::vector<std::pair<std::string, JsonValue>> members;      // in file order
    std::vector<std::pair<uint32_t, uint32_t>> member_positions; // line/column of each key
    uint32_t line = 0;
    uint32_t column = 0;

    [[nodiscard]] const JsonValue* find(std::string_view key) const {
        for (const auto& [name, value] : members)
            if (name == key)
                return &value;
        return nullptr;
    }
};

[[nodiscard]] const char* json_kind_name(JsonValue::Kind kind);

struct JsonParseResult {
    bool ok = false;
    JsonValue value;
    std::string error; // what went wrong, when !ok
    uint32_t line = 0;
    uint32_t column = 0;
};

// Parses one JSON document (whitespace around it allowed). Rejects duplicate object keys,
// trailing commas, comments, control characters in strings, invalid escapes and nesting deeper
// than kMaxJsonDepth.
inline constexpr uint32_t kMaxJsonDepth = 64;
[[nodiscard]] JsonParseResult parse_json(std::string_view text);

} // namespace halcyon::vswitch::sim
