#include "mgmt/api/http_request.hpp"
#include "mgmt/api/text.hpp"

#include <string.h>

namespace halcyon::mgmt {
namespace {

// RFC 9110 section 5.6.2: token characters.
bool is_token_char(char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

bool is_token(std::string_view text) {
    if (text.empty())
        return false;
    for (char c : text) {
        if (!is_token_char(c))
            return false;
    }
    return true;
}

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
        text.remove_suffix(1);
    return text;
}

} // namespace

bool ascii_equal_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i]))
            return false;
    }
    return true;
}

std::optional<std::string_view> HttpRequest::header(std::string_view name) const {
    for (uint32_t i = 0; i < header_count; ++i) {
        if (ascii_equal_ignoring_case(headers[i].name, name))
            return headers[i].value;
    }
    return std::nullopt;
}

HttpRequestParser::HttpRequestParser(std::span<uint8_t> buffer, HttpLimits limits)
    : buffer_(buffer), limits_(limits) {
    if (limits_.max_headers > kHttpMaxHeadersLimit)
        limits_.max_headers = kHttpMaxHeadersLimit;
}

void HttpRequestParser::reset() {
    buffered_ = 0;
    consume();
}

size_t HttpRequestParser::append(std::span<const uint8_t> bytes) {
    size_t room = buffer_.size() - buffered_;
    size_t take = bytes.size() < room ? bytes.size() : room;
    if (take != 0)
        memcpy(buffer_.data() + buffered_, bytes.data(), take);
    buffered_ += take;
    return take;
}

void HttpRequestParser::consume() {
    size_t used = state_ == State::complete ? body_start_ + body_length_ : 0;
    if (state_ == State::error)
        used = buffered_;
    if (used > buffered_)
        used = buffered_;
    memmove(buffer_.data(), buffer_.data() + used, buffered_ - used);
    buffered_ -= used;
    state_ = State::request_line;
    scan_ = line_start_ = headers_start_ = body_start_ = body_length_ = 0;
    request_ = HttpRequest{};
    error_ = HttpError{};
}

HttpRequestParser::Status HttpRequestParser::fail(uint16_t status, const char* code,
                                                  const char* message) {
    state_ = State::error;
    error_ = HttpError{status, code, message};
    return Status::error;
}

HttpRequestParser::Status HttpRequestParser::parse() {
    if (state_ == State::complete)
        return Status::complete;
    if (state_ == State::error)
        return Status::error;
    while (state_ == State::request_line || state_ == State::headers) {
        if (scan_ >= buffered_)
            break;
        uint8_t c = buffer_[scan_];
        if (c == '\n')
            return fail(400, "bad_request", "bare LF line ending (lines end with CRLF)");
        if (c != '\r') {
            ++scan_;
            continue;
        }
        if (scan_ + 1 >= buffered_)
            break; // the LF has not arrived yet
        if (buffer_[scan_ + 1] != '\n')
            return fail(400, "bad_request", "CR not followed by LF");
        size_t line_end = scan_;
        scan_ += 2;
        Status status = on_line(line_start_, line_end);
        line_start_ = scan_;
        if (status == Status::error)
            return status;
    }
    // Limits on what is still incomplete, so an endless line is refused early.
    if (state_ == State::request_line && scan_ - line_start_ > limits_.max_request_line)
        return fail(414, "uri_too_long", "request line longer than 1024 bytes");
    if (state_ == State::headers && scan_ - headers_start_ > limits_.max_header_block)
        return fail(431, "header_fields_too_large", "header block larger than 8192 bytes");
    if (state_ == State::body && buffered_ - body_start_ >= body_length_) {
        request_.body = std::span<const uint8_t>(buffer_.data() + body_start_, body_length_);
        state_ = State::complete;
    }
    return state_ == State::complete ? Status::complete : Status::need_more;
}

HttpRequestParser::Status HttpRequestParser::on_line(size_t start, size_t end) {
    if (state_ == State::request_line) {
        if (start == end) {
            // RFC 9112 section 2.2: empty lines before a request line are ignored (some clients
            // send CRLF after a body). Drop them so they never fill the buffer.
            memmove(buffer_.data(), buffer_.data() + scan_, buffered_ - scan_);
            buffered_ -= scan_;
            scan_ = 0;
            return Status::need_more;
        }
        if (end - start > limits_.max_request_line)
            return fail(414, "uri_too_long", "request line longer than 1024 bytes");
        if (parse_request_line(text(start, end)) == Status::error)
            return Status::error;
        state_ = State::headers;
        headers_start_ = scan_;
        return Status::need_more;
    }
    if (scan_ - headers_start_ > limits_.max_header_block)
        return fail(431, "header_fields_too_large", "header block larger than 8192 bytes");
    if (start == end)
        return finish_head();
    if (request_.header_count == limits_.max_headers)
        return fail(431, "header_fields_too_large", "more than 32 header fields");
    return parse_header(text(start, end));
}

HttpRequestParser::Status HttpRequestParser::parse_request_line(std::string_view line) {
    size_t first_space = line.find(' ');
    if (first_space == std::string_view::npos)
        return fail(400, "bad_request", "malformed request line");
    std::string_view method = substring(line, 0, first_space);
    std::string_view rest = substring(line, first_space + 1);
    size_t second_space = rest.find(' ');
    if (second_space == std::string_view::npos)
        return fail(400, "bad_request", "malformed request line");
    std::string_view target = substring(rest, 0, second_space);
    std::string_view version = substring(rest, second_space + 1);
    if (!is_token(method))
        return fail(400, "bad_request", "invalid method");
    if (target.empty() || version.find(' ') != std::string_view::npos)
        return fail(400, "bad_request", "malformed request line");
    for (char c : target) {
        if (uint8_t(c) <= 0x20 || uint8_t(c) >= 0x7F)
            return fail(400, "bad_request", "invalid character in the request target");
    }
    if (target[0] != '/')
        return fail(400, "bad_request", "request target must be a path (origin-form)");
    auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
    if (version.size() != 8 || substring(version, 0, 5) != "HTTP/" || !is_digit(version[5]) ||
        version[6] != '.' || !is_digit(version[7]))
        return fail(400, "bad_request", "malformed HTTP version");
    if (version[5] != '1' || version[7] > '1')
        return fail(505, "version_not_supported", "only HTTP/1.1 and HTTP/1.0 are supported");
    request_.method = method;
    request_.target = target;
    size_t question = target.find('?');
    request_.path = substring(target, 0, question);
    request_.query =
        question == std::string_view::npos ? std::string_view() : substring(target, question + 1);
    request_.version_minor = uint8_t(version[7] - '0');
    request_.keep_alive = request_.version_minor == 1;
    return Status::need_more;
}

HttpRequestParser::Status HttpRequestParser::parse_header(std::string_view line) {
    if (line[0] == ' ' || line[0] == '\t')
        return fail(400, "bad_request", "obsolete header line folding is not accepted");
    size_t colon = line.find(':');
    if (colon == std::string_view::npos)
        return fail(400, "bad_request", "header field without ':'");
    std::string_view name = substring(line, 0, colon);
    if (!is_token(name))
        return fail(400, "bad_request", "invalid header field name");
    std::string_view value = trim(substring(line, colon + 1));
    for (char c : value) {
        uint8_t byte = uint8_t(c);
        if ((byte < 0x20 && byte != '\t') || byte == 0x7F)
            return fail(400, "bad_request", "control character in a header field value");
    }
    request_.headers[request_.header_count++] = HttpHeader{name, value};
    return Status::need_more;
}

HttpRequestParser::Status HttpRequestParser::finish_head() {
    uint32_t hosts = 0;
    bool have_length = false;
    uint64_t length = 0;
    bool close = false, keep_alive = false;
    for (uint32_t i = 0; i < request_.header_count; ++i) {
        const HttpHeader& header = request_.headers[i];
        if (ascii_equal_ignoring_case(header.name, "host")) {
            ++hosts;
        } else if (ascii_equal_ignoring_case(header.name, "content-length")) {
            if (header.value.empty())
                return fail(400, "bad_request", "invalid Content-Length");
            uint64_t value = 0;
            for (char c : header.value) {
                if (c < '0' || c > '9')
                    return fail(400, "bad_request", "invalid Content-Length");
                value = value * 10 + uint64_t(c - '0');
                if (value > limits_.max_body)
                    return fail(413, "payload_too_large", "request body larger than 65536 bytes");
            }
            if (have_length && value != length)
                return fail(400, "bad_request", "conflicting Content-Length headers");
            have_length = true;
            length = value;
        } else if (ascii_equal_ignoring_case(header.name, "transfer-encoding")) {
            return fail(501, "not_implemented",
                        "Transfer-Encoding is not supported (send Content-Length)");
        } else if (ascii_equal_ignoring_case(header.name, "connection")) {
            // A comma-separated list of options (RFC 9110 section 7.6.1).
            std::string_view rest = header.value;
            while (!rest.empty()) {
                size_t comma = rest.find(',');
                std::string_view option = trim(substring(rest, 0, comma));
                close |= ascii_equal_ignoring_case(option, "close");
                keep_alive |= ascii_equal_ignoring_case(option, "keep-alive");
                rest = comma == std::string_view::npos ? std::string_view()
                                                       : substring(rest, comma + 1);
            }
        } else if (ascii_equal_ignoring_case(header.name, "expect")) {
            if (!ascii_equal_ignoring_case(header.value, "100-continue"))
                return fail(417, "expectation_failed", "only 'Expect: 100-continue' is supported");
            request_.expects_continue = true;
        }
    }
    if (hosts > 1 || (hosts == 0 && request_.version_minor == 1))
        return fail(400, "bad_request", "exactly one Host header is required");
    if (close)
        request_.keep_alive = false;
    else if (keep_alive)
        request_.keep_alive = true;
    body_start_ = scan_;
    body_length_ = size_t(length);
    state_ = State::body;
    if (buffered_ - body_start_ >= body_length_) {
        request_.body = std::span<const uint8_t>(buffer_.data() + body_start_, body_length_);
        state_ = State::complete;
        return Status::complete;
    }
    return Status::need_more;
}

} // namespace halcyon::mgmt
