// The management API's incremental HTTP/1.1 request parser: framing, pipelining, bytes split at
// every boundary, and every limit and refusal with its status code.
#include "mgmt/api/http_request.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace halcyon::mgmt;
using Status = HttpRequestParser::Status;

struct Parser {
    explicit Parser(HttpLimits limits = {})
        : buffer(limits.buffer_size()), parser(buffer, limits) {}

    size_t append(std::string_view text) {
        return parser.append(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
    }
    Status feed(std::string_view text) {
        EXPECT_EQ(append(text), text.size());
        return parser.parse();
    }

    std::vector<uint8_t> buffer;
    HttpRequestParser parser;
};

// The result of feeding `text` at once: the status and, for errors, the HTTP status code.
int refusal(std::string_view text, HttpLimits limits = {}) {
    Parser p(limits);
    Status status = p.feed(text);
    if (status == Status::error)
        return p.parser.error().status;
    return status == Status::complete ? 0 : -1;
}

struct Seen {
    std::string method, target, body;
    bool keep_alive;
    bool operator==(const Seen&) const = default;
};

// Feeds `stream` in the given pieces and collects the requests, consuming each.
std::vector<Seen> run(std::string_view stream, std::vector<size_t> cuts) {
    Parser p;
    std::vector<Seen> seen;
    size_t start = 0;
    cuts.push_back(stream.size());
    for (size_t cut : cuts) {
        std::string_view piece = stream.substr(start, cut - start);
        start = cut;
        while (!piece.empty()) {
            size_t taken = p.append(piece);
            piece.remove_prefix(taken);
            for (Status status = p.parser.parse(); status != Status::need_more;
                 status = p.parser.parse()) {
                EXPECT_EQ(status, Status::complete) << p.parser.error().message;
                if (status != Status::complete)
                    return seen;
                const HttpRequest& r = p.parser.request();
                seen.push_back({std::string(r.method), std::string(r.target),
                                std::string(r.body_text()), r.keep_alive});
                p.parser.consume();
            }
        }
    }
    EXPECT_EQ(p.parser.buffered(), 0u);
    return seen;
}

const std::string kPipelined = "GET /v1/vms HTTP/1.1\r\nHost: h\r\n\r\n"
                               "POST /v1/vms?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n"
                               "{\"a\":\"b\\n\"}"
                               "\r\n" // a stray CRLF between requests is ignored
                               "DELETE /v1/vms/a HTTP/1.1\r\nhost: h\r\nConnection: close\r\n\r\n";
const std::vector<Seen> kExpected = {{"GET", "/v1/vms", "", true},
                                     {"POST", "/v1/vms?x=1", "{\"a\":\"b\\n\"}", true},
                                     {"DELETE", "/v1/vms/a", "", false}};

TEST(MgmtHttpParser, ParsesARequest) {
    Parser p;
    ASSERT_EQ(p.feed("PATCH /v1/vms/web?since=5&a=b HTTP/1.1\r\nHost: example\r\n"
                     "X-Thing:   spaced value  \r\nContent-Length: 2\r\n\r\nhi"),
              Status::complete);
    const HttpRequest& r = p.parser.request();
    EXPECT_EQ(r.method, "PATCH");
    EXPECT_EQ(r.target, "/v1/vms/web?since=5&a=b");
    EXPECT_EQ(r.path, "/v1/vms/web");
    EXPECT_EQ(r.query, "since=5&a=b");
    EXPECT_EQ(r.version_minor, 1);
    EXPECT_EQ(r.header_count, 3u);
    EXPECT_EQ(r.header("x-THING").value(), "spaced value");
    EXPECT_FALSE(r.header("missing").has_value());
    EXPECT_EQ(r.body_text(), "hi");
    EXPECT_TRUE(r.keep_alive);
    EXPECT_FALSE(r.expects_continue);
}

TEST(MgmtHttpParser, PipelinedRequestsInOnePiece) {
    EXPECT_EQ(run(kPipelined, {}), kExpected);
}

TEST(MgmtHttpParser, SplitAtEveryByteBoundary) {
    for (size_t cut = 1; cut < kPipelined.size(); ++cut)
        ASSERT_EQ(run(kPipelined, {cut}), kExpected) << "cut at " << cut;
    for (size_t first = 1; first < kPipelined.size(); first += 7) {
        for (size_t second = first + 1; second < kPipelined.size(); second += 5)
            ASSERT_EQ(run(kPipelined, {first, second}), kExpected) << first << "," << second;
    }
}

TEST(MgmtHttpParser, OneByteAtATime) {
    std::vector<size_t> cuts;
    for (size_t i = 1; i < kPipelined.size(); ++i)
        cuts.push_back(i);
    EXPECT_EQ(run(kPipelined, cuts), kExpected);
}

TEST(MgmtHttpParser, WaitsForTheWholeBody) {
    Parser p;
    EXPECT_EQ(p.feed("POST /v1/vms HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab"),
              Status::need_more);
    EXPECT_TRUE(p.parser.awaiting_body());
    EXPECT_EQ(p.feed("cde"), Status::complete);
    EXPECT_EQ(p.parser.request().body_text(), "abcde");
}

TEST(MgmtHttpParser, ExpectContinue) {
    Parser p;
    EXPECT_EQ(p.feed("PUT /v1/files/k HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n"
                     "Content-Length: 3\r\n\r\n"),
              Status::need_more);
    EXPECT_TRUE(p.parser.awaiting_body());
    EXPECT_TRUE(p.parser.request().expects_continue);
    EXPECT_EQ(refusal("GET / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n"), 417);
}

TEST(MgmtHttpParser, ConnectionPersistence) {
    auto keep_alive = [](std::string_view text) {
        Parser p;
        EXPECT_EQ(p.feed(text), Status::complete);
        return p.parser.request().keep_alive;
    };
    EXPECT_TRUE(keep_alive("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
    EXPECT_FALSE(keep_alive("GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n"));
    EXPECT_FALSE(keep_alive("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n"));
    EXPECT_FALSE(keep_alive("GET / HTTP/1.0\r\n\r\n")); // 1.0: no Host needed, closes
    EXPECT_TRUE(keep_alive("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
}

TEST(MgmtHttpParser, RequestLineLimit) {
    std::string target = "/" + std::string(1024 - 14, 'a'); // "GET " + target + " HTTP/1.1"
    std::string line = "GET " + target + " HTTP/1.1";
    ASSERT_EQ(line.size(), 1024u);
    EXPECT_EQ(refusal(line + "\r\nHost: h\r\n\r\n"), 0);
    EXPECT_EQ(refusal("GET " + target + "a HTTP/1.1\r\nHost: h\r\n\r\n"), 414);
    // Refused as soon as the limit is passed, without waiting for the line end.
    Parser p;
    EXPECT_EQ(p.feed(line), Status::need_more);
    EXPECT_EQ(p.feed("x"), Status::error);
    EXPECT_EQ(p.parser.error().status, 414);
    EXPECT_STREQ(p.parser.error().code, "uri_too_long");
}

TEST(MgmtHttpParser, HeaderCountLimit) {
    std::string head = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 1; i < 32; ++i)
        head += "X-" + std::to_string(i) + ": v\r\n";
    EXPECT_EQ(refusal(head + "\r\n"), 0); // 32 fields
    EXPECT_EQ(refusal(head + "X-33: v\r\n\r\n"), 431);
}

TEST(MgmtHttpParser, HeaderBlockLimit) {
    // Header block = every header line with its CRLF plus the final CRLF: exactly 8192 bytes.
    std::string host = "Host: h\r\n";
    std::string filler = "X-Fill: " + std::string(8192 - host.size() - 2 - 10, 'f') + "\r\n";
    EXPECT_EQ(host.size() + filler.size() + 2, 8192u);
    EXPECT_EQ(refusal("GET / HTTP/1.1\r\n" + host + filler + "\r\n"), 0);
    std::string longer = "X-Fill: " + std::string(8192 - host.size() - 2 - 9, 'f') + "\r\n";
    EXPECT_EQ(refusal("GET / HTTP/1.1\r\n" + host + longer + "\r\n"), 431);
    // An endless header line is refused once it passes the limit.
    Parser p;
    EXPECT_EQ(p.feed("GET / HTTP/1.1\r\nX: " + std::string(8000, 'v')), Status::need_more);
    EXPECT_EQ(p.feed(std::string(300, 'v')), Status::error);
    EXPECT_EQ(p.parser.error().status, 431);
}

TEST(MgmtHttpParser, BodyLimit) {
    std::string head = "PUT /v1/files/k HTTP/1.1\r\nHost: h\r\nContent-Length: ";
    Parser ok;
    EXPECT_EQ(ok.feed(head + "65536\r\n\r\n" + std::string(65536, 'b')), Status::complete);
    EXPECT_EQ(ok.parser.request().body.size(), 65536u);
    // Refused from the header alone, before any body byte.
    EXPECT_EQ(refusal(head + "65537\r\n\r\n"), 413);
    EXPECT_EQ(refusal(head + "99999999999999999999999999\r\n\r\n"), 413);
}

TEST(MgmtHttpParser, CustomLimits) {
    HttpLimits limits;
    limits.max_headers = 2;
    limits.max_body = 10;
    EXPECT_EQ(refusal("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", limits), 431);
    EXPECT_EQ(refusal("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", limits), 413);
}

TEST(MgmtHttpParser, Versions) {
    EXPECT_EQ(refusal("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 505);
    EXPECT_EQ(refusal("GET / HTTP/1.2\r\nHost: h\r\n\r\n"), 505);
    EXPECT_EQ(refusal("GET / HTTP/0.9\r\nHost: h\r\n\r\n"), 505);
    EXPECT_EQ(refusal("GET / http/1.1\r\nHost: h\r\n\r\n"), 400);
    EXPECT_EQ(refusal("GET / HTTP/1.10\r\nHost: h\r\n\r\n"), 400);
    EXPECT_EQ(refusal("GET / HTTP/1\r\nHost: h\r\n\r\n"), 400);
}

TEST(MgmtHttpParser, MalformedRequestsAre400) {
    for (const char* text : {
             "GET / HTTP/1.1\nHost: h\r\n\r\n",                         // bare LF
             "GET / HTTP/1.1\r\nHost: h\rX\r\n\r\n",                    // CR without LF
             "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",                      // two spaces
             "GET /\r\nHost: h\r\n\r\n",                                // no version
             " GET / HTTP/1.1\r\nHost: h\r\n\r\n",                      // empty method
             "G(T / HTTP/1.1\r\nHost: h\r\n\r\n",                       // not a token
             "GET http://x/ HTTP/1.1\r\nHost: h\r\n\r\n",               // absolute-form
             "GET * HTTP/1.1\r\nHost: h\r\n\r\n",                       // asterisk-form
             "GET /\x80 HTTP/1.1\r\nHost: h\r\n\r\n",                   // non-ASCII target
             "GET / HTTP/1.1\r\n\r\n",                                  // no Host
             "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",            // two Hosts
             "GET / HTTP/1.1\r\nHost : h\r\n\r\n",                      // space before colon
             "GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",            // obs-fold
             "GET / HTTP/1.1\r\nHost h\r\n\r\n",                        // no colon
             "GET / HTTP/1.1\r\n: v\r\nHost: h\r\n\r\n",                // empty name
             "GET / HTTP/1.1\r\nHost: h\x01\r\n\r\n",                   // control character
             "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1a\r\n\r\n", // bad length
             "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
         }) {
        EXPECT_EQ(refusal(text), 400) << text;
    }
    std::string nul = "GET / HTTP/1.1\r\nHost: h\r\nX: a";
    nul += '\0';
    nul += "b\r\n\r\n";
    EXPECT_EQ(refusal(nul), 400);
    // The same Content-Length twice is allowed (RFC 9110 section 8.6).
    EXPECT_EQ(refusal("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\ncontent-length: 1"
                      "\r\n\r\nx"),
              0);
}

TEST(MgmtHttpParser, TransferEncodingIsNotImplemented) {
    Parser p;
    EXPECT_EQ(p.feed("POST /v1/vms HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"),
              Status::error);
    EXPECT_EQ(p.parser.error().status, 501);
    EXPECT_STREQ(p.parser.error().code, "not_implemented");
}

TEST(MgmtHttpParser, FullBufferTakesOnlyWhatFits) {
    HttpLimits limits;
    limits.max_body = 16;
    Parser p(limits);
    std::string request = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    std::string many;
    while (many.size() < limits.buffer_size() + 100)
        many += request;
    size_t taken = p.append(many);
    EXPECT_EQ(taken, limits.buffer_size());
    // Consuming requests makes room for the rest.
    size_t complete = 0;
    while (p.parser.parse() == Status::complete) {
        ++complete;
        p.parser.consume();
        taken += p.append(std::string_view(many).substr(taken));
    }
    EXPECT_EQ(taken, many.size());
    EXPECT_EQ(complete, many.size() / request.size());
}

TEST(MgmtHttpParser, LeadingEmptyLinesCannotFillTheBuffer) {
    Parser p;
    std::string crlfs;
    for (int i = 0; i < 100000; ++i)
        crlfs += "\r\n";
    size_t taken = 0;
    while (taken < crlfs.size()) {
        size_t more = p.append(std::string_view(crlfs).substr(taken));
        ASSERT_GT(more, 0u);
        taken += more;
        ASSERT_EQ(p.parser.parse(), Status::need_more);
    }
    EXPECT_EQ(p.feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), Status::complete);
}

} // namespace
