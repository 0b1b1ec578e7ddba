// Writes JSON (RFC 8259) into a caller buffer, for response bodies. Commas and nesting are
// handled by the writer; strings are escaped, and bytes that are not valid UTF-8 (a VM name
// never has them, a log line might) become U+FFFD so the output is always valid JSON. Output
// that does not fit sets overflowed() instead of writing past the buffer; the caller then
// answers with an error instead of a truncated document.
#pragma once

#include <span>
#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace halcyon::mgmt {

class JsonWriter {
public:
    explicit JsonWriter(std::span<char> out) : out_(out) {}

    void begin_object() { open('{'); }
    void end_object() { close('}'); }
    void begin_array() { open('['); }
    void end_array() { close(']'); }
    // Inside an object: the next member's name; the value follows with one of the calls below.
    void key(std::string_view name);

    void string(std::string_view text);
    void number(uint64_t value);
    void number_signed(int64_t value);
    void boolean(bool value);
    void null();

    // Shorthands for a member of an object.
    void field(std::string_view name, std::string_view text) {
        key(name);
        string(text);
    }
    void field(std::string_view name, const char* text) { field(name, std::string_view(text)); }
    void field(std::string_view name, uint64_t value) {
        key(name);
        number(value);
    }
    void field(std::string_view name, uint32_t value) { field(name, uint64_t(value)); }
    void field(std::string_view name, bool value) {
        key(name);
        boolean(value);
    }

    [[nodiscard]] bool overflowed() const { return overflowed_; }
    [[nodiscard]] size_t size() const { return length_; }
    [[nodiscard]] std::string_view text() const { return std::string_view(out_.data(), length_); }

private:
    void open(char bracket);
    void close(char bracket);
    void before_value();
    void put(char c);
    void put(std::string_view text);

    std::span<char> out_;
    size_t length_ = 0;
    bool overflowed_ = false;
    uint32_t depth_ = 0;
    uint64_t has_members_ = 0; // bit d: the container at depth d already holds a value
    bool after_key_ = false;
};

} // namespace halcyon::mgmt
