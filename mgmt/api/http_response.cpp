#include "mgmt/api/http_response.hpp"

#include <string.h>

namespace halcyon::mgmt {
namespace {

// Appends to a fixed buffer; remembers whether anything did not fit.
class Appender {
public:
    explicit Appender(std::span<char> out) : out_(out) {}
    void put(std::string_view text) {
        if (text.empty())
            return; // may have a null data()
        if (text.size() > out_.size() - length_) {
            overflowed_ = true;
            return;
        }
        memcpy(out_.data() + length_, text.data(), text.size());
        length_ += text.size();
    }
    void put_number(uint64_t value) {
        char digits[20];
        size_t count = 0;
        do {
            digits[sizeof(digits) - 1 - count++] = char('0' + value % 10);
            value /= 10;
        } while (value != 0);
        put(std::string_view(digits + sizeof(digits) - count, count));
    }
    [[nodiscard]] size_t length() const { return overflowed_ ? 0 : length_; }

private:
    std::span<char> out_;
    size_t length_ = 0;
    bool overflowed_ = false;
};

void two_digits(char* out, uint32_t value) {
    out[0] = char('0' + value / 10 % 10);
    out[1] = char('0' + value % 10);
}

} // namespace

const char* http_reason_phrase(uint16_t status) {
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    case 507:
        return "Insufficient Storage";
    default:
        return "Unknown";
    }
}

void HttpResponse::set_raw_body(size_t length, std::string_view content_type) {
    is_raw_ = true;
    raw_length_ = length <= body_space_.size() ? length : body_space_.size();
    content_type_ = content_type;
}

void HttpResponse::set_error(uint16_t status, std::string_view code, std::string_view message) {
    status_ = status;
    content_type_ = "application/json";
    json_ = JsonWriter(body_space_);
    JsonWriter& writer = json();
    writer.begin_object();
    writer.key("error");
    writer.begin_object();
    writer.field("code", code);
    writer.field("message", message);
    writer.end_object();
    writer.end_object();
}

bool HttpResponse::add_header(std::string_view name, std::string_view value) {
    if (header_count_ == kMaxExtraHeaders ||
        value.size() > sizeof(value_storage_) - value_storage_used_)
        return false;
    char* copy = value_storage_ + value_storage_used_;
    if (!value.empty())
        memcpy(copy, value.data(), value.size());
    value_storage_used_ += value.size();
    names_[header_count_] = name;
    values_[header_count_] = std::string_view(copy, value.size());
    ++header_count_;
    return true;
}

bool HttpResponse::add_header(std::string_view name, uint64_t value) {
    char digits[20];
    size_t count = 0;
    do {
        digits[sizeof(digits) - 1 - count++] = char('0' + value % 10);
        value /= 10;
    } while (value != 0);
    return add_header(name, std::string_view(digits + sizeof(digits) - count, count));
}

std::string_view HttpResponse::body() const {
    if (is_raw_)
        return std::string_view(body_space_.data(), raw_length_);
    return json_.text();
}

std::string_view format_http_date(int64_t unix_seconds, std::span<char> out) {
    static constexpr char kDays[] = "ThuFriSatSunMonTueWed"; // 1970-01-01 was a Thursday
    static constexpr char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (out.size() < 29)
        return {};
    if (unix_seconds < 0)
        unix_seconds = 0;
    uint64_t days = uint64_t(unix_seconds) / 86400;
    uint32_t seconds_of_day = uint32_t(uint64_t(unix_seconds) % 86400);
    uint32_t weekday = uint32_t(days % 7);
    uint32_t year = 1970;
    auto is_leap = [](uint32_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; };
    while (days >= (is_leap(year) ? 366u : 365u)) {
        days -= is_leap(year) ? 366 : 365;
        ++year;
    }
    const uint8_t month_days[12] = {
        31, uint8_t(is_leap(year) ? 29 : 28), 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    uint32_t month = 0;
    while (days >= month_days[month]) {
        days -= month_days[month];
        ++month;
    }
    char* p = out.data();
    memcpy(p, kDays + 3 * weekday, 3);
    memcpy(p + 3, ", ", 2);
    two_digits(p + 5, uint32_t(days) + 1);
    p[7] = ' ';
    memcpy(p + 8, kMonths + 3 * month, 3);
    p[11] = ' ';
    two_digits(p + 12, year / 100);
    two_digits(p + 14, year % 100);
    p[16] = ' ';
    two_digits(p + 17, seconds_of_day / 3600);
    p[19] = ':';
    two_digits(p + 20, seconds_of_day / 60 % 60);
    p[22] = ':';
    two_digits(p + 23, seconds_of_day % 60);
    memcpy(p + 25, " GMT", 4);
    return std::string_view(p, 29);
}

size_t write_response_head(const HttpResponse& response, bool keep_alive, int64_t unix_seconds,
                           std::span<char> out) {
    Appender head(out);
    head.put("HTTP/1.1 ");
    head.put_number(response.status());
    head.put(" ");
    head.put(http_reason_phrase(response.status()));
    head.put("\r\nContent-Type: ");
    head.put(response.content_type());
    head.put("\r\nContent-Length: ");
    head.put_number(response.body().size());
    head.put(keep_alive ? "\r\nConnection: keep-alive" : "\r\nConnection: close");
    char date[29];
    head.put("\r\nDate: ");
    head.put(format_http_date(unix_seconds, date));
    // Responses describe live state (VM status, console output): never cache them.
    head.put("\r\nCache-Control: no-store");
    for (uint32_t i = 0; i < response.extra_header_count(); ++i) {
        head.put("\r\n");
        head.put(response.extra_header_name(i));
        head.put(": ");
        head.put(response.extra_header_value(i));
    }
    head.put("\r\n\r\n");
    return head.length();
}

} // namespace halcyon::mgmt
