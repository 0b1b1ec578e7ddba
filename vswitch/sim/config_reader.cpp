#include "vswitch/sim/config_reader.hpp"

namespace halcyon::vswitch::sim {

bool ConfigErrors::fail(uint32_t line, uint32_t column, std::string_view path,
                        std::string_view message) {
    if (message_.empty()) {
        message_ = file_ + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
        if (!path.empty())
            message_ += std::string(path) + ": ";
        message_ += message;
    }
    return false;
}

bool expect_kind(ConfigErrors& errors, const JsonValue& value, std::string_view path,
                 JsonValue::Kind kind) {
    if (value.kind == kind)
        return true;
    return errors.fail(value, path,
                       std::string("expected ") + json_kind_name(kind) + ", found " +
                           json_kind_name(value.kind));
}

bool read_unsigned(ConfigErrors& errors, const JsonValue& value, std::string_view path,
                   uint64_t min, uint64_t max, uint64_t& out) {
    if (value.kind != JsonValue::Kind::number || !value.is_integer)
        return errors.fail(value, path,
                           std::string("expected an integer, found ") +
                               (value.kind == JsonValue::Kind::number
                                    ? "a fraction"
                                    : json_kind_name(value.kind)));
    if (value.integer < 0 || static_cast<uint64_t>(value.integer) < min ||
        static_cast<uint64_t>(value.integer) > max)
        return errors.fail(value, path,
                           "value " + value.text + " out of range " + std::to_string(min) + ".." +
                               std::to_string(max));
    out = static_cast<uint64_t>(value.integer);
    return true;
}

ObjectReader::ObjectReader(ConfigErrors& errors, const JsonValue& value, std::string path)
    : errors_(errors), value_(value), path_(std::move(path)), used_(value.members.size(), false) {
    valid_ = expect_kind(errors, value, path_, JsonValue::Kind::object);
}

std::string ObjectReader::child_path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const JsonValue* ObjectReader::get(std::string_view key) {
    if (!valid_)
        return nullptr;
    for (size_t i = 0; i < value_.members.size(); ++i) {
        if (value_.members[i].first == key) {
            used_[i] = true;
            return &value_.members[i].second;
        }
    }
    return nullptr;
}

const JsonValue* ObjectReader::require(std::string_view key) {
    const JsonValue* found = get(key);
    if (!found && valid_)
        errors_.fail(value_, path_, "missing key \"" + std::string(key) + "\"");
    return found;
}

bool ObjectReader::boolean(std::string_view key, bool& out) {
    const JsonValue* v = get(key);
    if (!v)
        return valid_;
    if (!expect_kind(errors_, *v, child_path(key), JsonValue::Kind::boolean))
        return false;
    out = v->boolean;
    return true;
}

bool ObjectReader::unsigned_integer(std::string_view key, uint64_t min, uint64_t max,
                                    uint64_t& out) {
    const JsonValue* v = get(key);
    if (!v)
        return valid_;
    return read_unsigned(errors_, *v, child_path(key), min, max, out);
}

bool ObjectReader::string(std::string_view key, std::string& out) {
    const JsonValue* v = get(key);
    if (!v)
        return valid_;
    if (!expect_kind(errors_, *v, child_path(key), JsonValue::Kind::string))
        return false;
    out = v->text;
    return true;
}

bool ObjectReader::choice(std::string_view key, const std::vector<std::string_view>& choices,
                          uint32_t& index) {
    const JsonValue* v = get(key);
    if (!v)
        return valid_;
    if (!expect_kind(errors_, *v, child_path(key), JsonValue::Kind::string))
        return false;
    for (uint32_t i = 0; i < choices.size(); ++i) {
        if (v->text == choices[i]) {
            index = i;
            return true;
        }
    }
    std::string allowed;
    for (std::string_view c : choices)
        allowed += (allowed.empty() ? "\"" : ", \"") + std::string(c) + "\"";
    return errors_.fail(*v, child_path(key),
                        "unknown value \"" + v->text + "\" (expected one of " + allowed + ")");
}

bool ObjectReader::finish() {
    if (!valid_)
        return false;
    for (size_t i = 0; i < used_.size(); ++i) {
        if (!used_[i]) {
            const auto [line, column] = value_.member_positions[i];
            return errors_.fail(line, column, path_,
                                "unknown key \"" + value_.members[i].first + "\"");
        }
    }
    return !errors_.failed();
}

} // namespace halcyon::vswitch::sim
