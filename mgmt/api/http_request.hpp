// An incremental, strict HTTP/1.1 request parser (RFC 9110/9112) for the management API.
// Bytes arrive in arbitrary pieces (TCP segments); the parser keeps them in a caller-provided
// buffer, validates the head as lines complete, enforces every limit as early as it can (a
// 2 MiB request line is refused after its first KiB, not buffered), and frames the body by
// Content-Length. After a request is handled, consume() moves pipelined bytes to the front.
//
// Strict means: CRLF line ends only, single spaces in the request line, origin-form targets,
// no whitespace before a header's colon, no obsolete line folding, no control characters, one
// Host header, one Content-Length (or repeated with the same value), no Transfer-Encoding.
#pragma once

#include <optional>
#include <span>
#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace halcyon::mgmt {

inline constexpr uint32_t kHttpMaxHeadersLimit = 64;

struct HttpLimits {
    uint32_t max_request_line = 1024; // bytes, without CRLF (414 beyond)
    uint32_t max_headers = 32;        // header fields, at most kHttpMaxHeadersLimit (431)
    uint32_t max_header_block = 8192; // bytes after the request line, final CRLF included (431)
    uint32_t max_body = 64 * 1024;    // Content-Length (413)

    // The parser's buffer must hold one request at every limit.
    [[nodiscard]] constexpr size_t buffer_size() const {
        return size_t(max_request_line) + 2 + max_header_block + max_body;
    }
};

struct HttpHeader {
    std::string_view name;
    std::string_view value; // without surrounding whitespace
};

struct HttpRequest {
    std::string_view method;
    std::string_view target; // as sent: path and query
    std::string_view path;   // target up to '?'
    std::string_view query;  // after '?' (empty when none)
    uint8_t version_minor = 1;
    uint32_t header_count = 0;
    HttpHeader headers[kHttpMaxHeadersLimit];
    std::span<const uint8_t> body;
    bool keep_alive = true;
    bool expects_continue = false; // "Expect: 100-continue"

    // First header with this name (names compare case-insensitively).
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
    [[nodiscard]] std::string_view body_text() const {
        return std::string_view(reinterpret_cast<const char*>(body.data()), body.size());
    }
};

// Why a request was refused: the status to answer with and the error body's code and message.
struct HttpError {
    uint16_t status = 0;
    const char* code = nullptr;
    const char* message = nullptr;
};

class HttpRequestParser {
public:
    enum class Status { need_more, complete, error };

    // `buffer` must be at least limits.buffer_size() bytes; it is owned by the caller.
    HttpRequestParser(std::span<uint8_t> buffer, HttpLimits limits);

    // Buffers as many of `bytes` as fit and returns how many that was. Fewer than offered only
    // when a complete request (and pipelined bytes after it) already fill the buffer: call
    // consume() after answering, then offer the rest again.
    [[nodiscard]] size_t append(std::span<const uint8_t> bytes);
    // Advances over the buffered bytes. `complete`: request() is ready; `error`: error() says
    // what to answer (then close the connection: the byte stream can no longer be framed).
    [[nodiscard]] Status parse();

    [[nodiscard]] const HttpRequest& request() const { return request_; }
    [[nodiscard]] const HttpError& error() const { return error_; }
    // The head is complete and the body is still arriving (when 100 Continue may be sent).
    [[nodiscard]] bool awaiting_body() const { return state_ == State::body; }
    // Bytes buffered (the current request's and any pipelined after it).
    [[nodiscard]] size_t buffered() const { return buffered_; }
    // Drops the completed request and starts on the next one.
    void consume();
    void reset();

private:
    enum class State { request_line, headers, body, complete, error };

    Status fail(uint16_t status, const char* code, const char* message);
    Status on_line(size_t start, size_t end);
    Status parse_request_line(std::string_view line);
    Status parse_header(std::string_view line);
    Status finish_head();
    std::string_view text(size_t start, size_t end) const {
        return std::string_view(reinterpret_cast<const char*>(buffer_.data()) + start, end - start);
    }

    std::span<uint8_t> buffer_;
    HttpLimits limits_;
    State state_ = State::request_line;
    size_t buffered_ = 0;
    size_t scan_ = 0;       // next byte to look at for a line end
    size_t line_start_ = 0; // first byte of the line being scanned
    size_t headers_start_ = 0;
    size_t body_start_ = 0;
    size_t body_length_ = 0;
    HttpRequest request_;
    HttpError error_;
};

// Case-insensitive ASCII comparison (header names, tokens).
[[nodiscard]] bool ascii_equal_ignoring_case(std::string_view a, std::string_view b);

} // namespace halcyon::mgmt
