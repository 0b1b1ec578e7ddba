// Reading values out of a parsed JsonDocument (the parser itself is in json_reader.cpp).
#include "mgmt/api/json_reader.hpp"
#include "mgmt/api/text.hpp"

namespace halcyon::mgmt {

const JsonToken& JsonValue::token() const {
    return document_->token(index_);
}

JsonType JsonValue::type() const {
    return token().type;
}

uint32_t JsonValue::size() const {
    return token().size;
}

std::string_view JsonValue::raw() const {
    return substring(document_->text(), token().start, token().length);
}

JsonValue JsonValue::next_sibling() const {
    return JsonValue(document_, token().end);
}

std::optional<JsonValue> JsonValue::member(std::string_view key) const {
    if (type() != JsonType::object)
        return std::nullopt;
    JsonValue name = first_child();
    for (uint32_t i = 0; i < size(); ++i) {
        JsonValue value = name.next_sibling();
        if (name.string_equals(key))
            return value;
        name = value.next_sibling();
    }
    return std::nullopt;
}

std::optional<JsonValue> JsonValue::element(uint32_t position) const {
    uint32_t children = type() == JsonType::object ? 2 * size() : size();
    if ((type() != JsonType::array && type() != JsonType::object) || position >= children)
        return std::nullopt;
    JsonValue child = first_child();
    for (uint32_t i = 0; i < position; ++i)
        child = child.next_sibling();
    return child;
}

ErrorOr<bool> JsonValue::as_bool() const {
    if (type() != JsonType::boolean)
        return Error(ErrorCode::invalid_argument, "expected true or false");
    return raw() == "true";
}

ErrorOr<uint64_t> JsonValue::as_uint64() const {
    if (type() != JsonType::number)
        return Error(ErrorCode::invalid_argument, "expected a number");
    std::string_view text = raw();
    if (text[0] == '-')
        return Error(ErrorCode::out_of_range, "expected a number that is not negative");
    uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return Error(ErrorCode::invalid_argument, "expected an integer");
        uint64_t digit = uint64_t(c - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return Error(ErrorCode::out_of_range, "number too large");
        value = value * 10 + digit;
    }
    return value;
}

ErrorOr<int64_t> JsonValue::as_int64() const {
    if (type() != JsonType::number)
        return Error(ErrorCode::invalid_argument, "expected a number");
    std::string_view text = raw();
    bool negative = text[0] == '-';
    if (negative)
        text.remove_prefix(1);
    uint64_t magnitude = 0;
    uint64_t limit = negative ? uint64_t(INT64_MAX) + 1 : uint64_t(INT64_MAX);
    for (char c : text) {
        if (c < '0' || c > '9')
            return Error(ErrorCode::invalid_argument, "expected an integer");
        uint64_t digit = uint64_t(c - '0');
        if (magnitude > (limit - digit) / 10)
            return Error(ErrorCode::out_of_range, "number out of range");
        magnitude = magnitude * 10 + digit;
    }
    // Negating in unsigned arithmetic keeps INT64_MIN representable.
    return negative ? int64_t(0 - magnitude) : int64_t(magnitude);
}

ErrorOr<std::string_view> JsonValue::as_string(std::span<char> out) const {
    if (type() != JsonType::string)
        return Error(ErrorCode::invalid_argument, "expected a string");
    JsonStringBytes bytes(document_->text(), token());
    size_t length = 0;
    for (int byte = bytes.next(); byte >= 0; byte = bytes.next()) {
        if (length == out.size())
            return Error(ErrorCode::out_of_range, "string too long");
        out[length++] = char(byte);
    }
    return std::string_view(out.data(), length);
}

bool JsonValue::string_equals(std::string_view text) const {
    if (type() != JsonType::string)
        return false;
    if (!token().has_escapes)
        return raw() == text;
    JsonStringBytes bytes(document_->text(), token());
    size_t i = 0;
    for (int byte = bytes.next(); byte >= 0; byte = bytes.next()) {
        if (i == text.size() || uint8_t(text[i]) != byte)
            return false;
        ++i;
    }
    return i == text.size();
}

} // namespace halcyon::mgmt
