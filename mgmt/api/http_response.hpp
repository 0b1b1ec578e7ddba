// One HTTP/1.1 response under construction: a status, a body written straight into the
// connection's output buffer (JSON through a JsonWriter, or raw bytes) and a few extra header
// fields. write_response_head() then produces the status line and header block that go in
// front of it.
#pragma once

#include "mgmt/api/json_writer.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace halcyon::mgmt {

// The reason phrase for the statuses this server sends ("Not Found").
[[nodiscard]] const char* http_reason_phrase(uint16_t status);

class HttpResponse {
public:
    static constexpr uint32_t kMaxExtraHeaders = 6;

    explicit HttpResponse(std::span<char> body_space)
        : body_space_(body_space), json_(body_space) {}

    void set_status(uint16_t status) { status_ = status; }
    [[nodiscard]] uint16_t status() const { return status_; }

    // The body as JSON (Content-Type: application/json). Check json().overflowed() at the end.
    [[nodiscard]] JsonWriter& json() {
        raw_length_ = 0;
        is_raw_ = false;
        return json_;
    }
    // The body as raw bytes: write into raw_space(), then set_raw_body(length, type).
    [[nodiscard]] std::span<char> raw_space() const { return body_space_; }
    void set_raw_body(size_t length, std::string_view content_type);

    // Replaces the body with {"error":{"code":...,"message":...}}.
    void set_error(uint16_t status, std::string_view code, std::string_view message);

    // Adds a header field; the value is copied. False when there is no room left.
    bool add_header(std::string_view name, std::string_view value);
    bool add_header(std::string_view name, uint64_t value);

    [[nodiscard]] std::string_view body() const;
    [[nodiscard]] std::string_view content_type() const { return content_type_; }
    [[nodiscard]] bool body_overflowed() const { return !is_raw_ && json_.overflowed(); }
    [[nodiscard]] uint32_t extra_header_count() const { return header_count_; }
    [[nodiscard]] std::string_view extra_header_name(uint32_t i) const { return names_[i]; }
    [[nodiscard]] std::string_view extra_header_value(uint32_t i) const { return values_[i]; }

private:
    std::span<char> body_space_;
    JsonWriter json_;
    uint16_t status_ = 200;
    bool is_raw_ = false;
    size_t raw_length_ = 0;
    std::string_view content_type_ = "application/json";
    uint32_t header_count_ = 0;
    std::string_view names_[kMaxExtraHeaders];
    std::string_view values_[kMaxExtraHeaders];
    char value_storage_[256];
    size_t value_storage_used_ = 0;
};

// "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 IMF-fixdate) for a Unix time; `out` needs 29 bytes.
std::string_view format_http_date(int64_t unix_seconds, std::span<char> out);

// Writes the status line and header fields (Content-Type, Content-Length, Connection, Date,
// Cache-Control and the response's extra fields) ending in the empty line. Returns the length,
// or 0 when `out` is too small.
[[nodiscard]] size_t write_response_head(const HttpResponse& response, bool keep_alive,
                                         int64_t unix_seconds, std::span<char> out);

} // namespace halcyon::mgmt
