// The socket-less management server: many connections with their own parser state, pipelining
// and back-pressure, 100 Continue, refusals that close only the offending connection, timeouts,
// the connection limit, and its memory accounting.
#include "tests/interop/mgmt/server_harness.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace halcyon::mgmt;
using namespace halcyon::mgmt::testing;

std::span<const uint8_t> bytes(std::string_view text) {
    return std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

TEST(MgmtServer, ConnectionsKeepTheirOwnParserState) {
    ServerHarness h;
    ASSERT_EQ(h.call("POST", "/v1/vms", R"({"name":"a","kernel":"k"})").status, 201);
    ConnectionId ids[4];
    std::string requests[4];
    std::string outputs[4];
    const char* targets[4] = {"/v1/host", "/v1/vms", "/v1/vms/a", "/v1/nothing"};
    for (int i = 0; i < 4; ++i) {
        ids[i] = h.open();
        requests[i] = make_request(h.key(), "GET", targets[i]);
    }
    // Interleave the four requests one byte at a time.
    for (size_t offset = 0;; ++offset) {
        bool any = false;
        for (int i = 0; i < 4; ++i) {
            if (offset < requests[i].size()) {
                outputs[i] += h.exchange(ids[i], std::string_view(requests[i]).substr(offset, 1));
                any = true;
            }
        }
        if (!any)
            break;
    }
    int expected[4] = {200, 200, 200, 404};
    for (int i = 0; i < 4; ++i) {
        auto responses = parse_responses(outputs[i]);
        ASSERT_EQ(responses.size(), 1u) << i;
        EXPECT_EQ(responses[0].status, expected[i]) << i;
    }
    EXPECT_NE(parse_responses(outputs[2])[0].body.find("\"name\":\"a\""), std::string::npos);
}

TEST(MgmtServer, PipelinedRequestsAreAnsweredInOrderOneAtATime) {
    ServerHarness h;
    ConnectionId id = h.open();
    std::string stream = make_request(h.key(), "POST", "/v1/vms", R"({"name":"p","kernel":"k"})") +
                         make_request(h.key(), "POST", "/v1/vms/p/start") +
                         make_request(h.key(), "GET", "/v1/vms/p");
    EXPECT_EQ(h.server().receive(id, bytes(stream), h.now()), stream.size());
    // Only the first response is produced until it has been sent.
    auto first = parse_responses(
        std::string(reinterpret_cast<const char*>(h.server().pending_output(id).data()),
                    h.server().pending_output(id).size()));
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].status, 201);
    auto all = parse_responses(h.drain(id));
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[1].status, 200);
    EXPECT_NE(all[2].body.find("\"state\":\"Running\""), std::string::npos);
    EXPECT_FALSE(h.server().should_close(id));
}

TEST(MgmtServer, BackPressureWhenTheClientDoesNotRead) {
    // Hundreds of requests signed in the same second: the partition's default nonce cache.
    ServerConfig config = ServerHarness::small_config();
    config.nonce_cache_entries = ServerConfig{}.nonce_cache_entries;
    ServerHarness h(config);
    ConnectionId id = h.open();
    std::string request = make_request(h.key(), "GET", "/v1/host");
    std::string flood;
    while (flood.size() < HttpLimits{}.buffer_size() * 2)
        flood += make_request(h.key(), "GET", "/v1/host");
    size_t taken = h.server().receive(id, bytes(flood), h.now());
    EXPECT_LT(taken, flood.size()); // the transport keeps the rest (TCP flow control)
    EXPECT_GT(taken, 0u);
    // Once the client reads, the rest is accepted and every request answered.
    std::string output = h.drain(id) + h.exchange(id, std::string_view(flood).substr(taken));
    auto responses = parse_responses(output);
    EXPECT_EQ(responses.size(), flood.size() / request.size());
    for (const auto& response : responses)
        ASSERT_EQ(response.status, 200);
}

TEST(MgmtServer, ExpectContinue) {
    ServerHarness h;
    ConnectionId id = h.open();
    std::string body = "0123456789";
    RequestOptions options;
    options.content_type = "application/octet-stream";
    options.extra_headers = {"Expect: 100-continue"};
    std::string request = make_request(h.key(), "PUT", "/v1/files/k", body, options);
    std::string head = request.substr(0, request.size() - body.size());
    EXPECT_EQ(h.exchange(id, head), "HTTP/1.1 100 Continue\r\n\r\n");
    auto responses = parse_responses(h.exchange(id, body));
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].status, 200);
    EXPECT_EQ(h.host.files["k"].data.size(), 10u);
}

TEST(MgmtServer, AMalformedRequestClosesOnlyItsConnection) {
    ServerHarness h;
    ConnectionId bad = h.open();
    ConnectionId good = h.open();
    std::string half = make_request(h.key(), "GET", "/v1/vms");
    EXPECT_EQ(h.exchange(good, half.substr(0, 20)), "");
    auto refused = parse_responses(h.exchange(bad, "GET / HTTP/1.1\nHost: x\r\n\r\n"));
    ASSERT_EQ(refused.size(), 1u);
    EXPECT_EQ(refused[0].status, 400);
    EXPECT_EQ(refused[0].headers["connection"], "close");
    EXPECT_EQ(refused[0].body, "{\"error\":{\"code\":\"bad_request\",\"message\":"
                               "\"bare LF line ending (lines end with CRLF)\"}}");
    EXPECT_TRUE(h.server().should_close(bad));
    EXPECT_EQ(h.exchange(bad, "more junk"), ""); // discarded
    auto fine = parse_responses(h.exchange(good, half.substr(20)));
    ASSERT_EQ(fine.size(), 1u);
    EXPECT_EQ(fine[0].status, 200);
    EXPECT_EQ(h.server().stats().bad_requests, 1u);
}

TEST(MgmtServer, OversizedBodyIsRefusedBeforeItArrives) {
    ServerHarness h;
    ConnectionId id = h.open();
    auto responses = parse_responses(
        h.exchange(id, "PUT /v1/files/x HTTP/1.1\r\nHost: h\r\nContent-Length: 70000\r\n\r\n"));
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].status, 413);
    EXPECT_NE(responses[0].body.find("payload_too_large"), std::string::npos);
    EXPECT_TRUE(h.server().should_close(id));
}

TEST(MgmtServer, ConnectionCloseAndHttp10) {
    ServerHarness h;
    ConnectionId id = h.open();
    RequestOptions close;
    close.close = true;
    auto responses =
        parse_responses(h.exchange(id, make_request(h.key(), "GET", "/v1/vms", {}, close)));
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].headers["connection"], "close");
    EXPECT_TRUE(h.server().should_close(id));
    h.server().close_connection(id);
    // A stale id does nothing, even after its slot is reused.
    ConnectionId reused = h.open();
    EXPECT_NE(reused, id);
    EXPECT_EQ(h.server().receive(id, bytes("GET"), h.now()), 3u);
    EXPECT_TRUE(h.server().pending_output(id).empty());
    EXPECT_FALSE(h.server().should_close(reused));
}

TEST(MgmtServer, SlowRequestsTimeOutWith408AndIdleConnectionsClose) {
    ServerHarness h;
    ConnectionId slow = h.open();
    ConnectionId idle = h.open();
    EXPECT_EQ(h.exchange(slow, "GET /v1/host HTTP/1.1\r\nHo"), "");
    h.monotonic_ms += 9'999;
    h.server().poll(h.now());
    EXPECT_TRUE(h.server().pending_output(slow).empty());
    h.monotonic_ms += 1;
    h.server().poll(h.now());
    auto responses = parse_responses(h.drain(slow));
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].status, 408);
    EXPECT_TRUE(h.server().should_close(slow));
    EXPECT_FALSE(h.server().should_close(idle)); // idle, but not for long
    h.monotonic_ms += 120'000;
    h.server().poll(h.now());
    EXPECT_TRUE(h.server().should_close(idle));
    EXPECT_TRUE(h.server().pending_output(idle).empty()); // closed quietly
    EXPECT_EQ(h.server().stats().timeouts, 1u);
}

TEST(MgmtServer, ConnectionLimit) {
    ServerHarness h; // four connections
    std::vector<ConnectionId> ids;
    for (int i = 0; i < 4; ++i)
        ids.push_back(h.open());
    auto refused = h.server().open_connection(h.now());
    ASSERT_TRUE(refused.is_error());
    EXPECT_EQ(refused.error().code(), halcyon::ErrorCode::busy);
    std::span<const uint8_t> busy = h.server().busy_response(h.now());
    auto responses = parse_responses(std::string(busy.begin(), busy.end()));
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].status, 503);
    EXPECT_EQ(responses[0].headers["retry-after"], "1");
    EXPECT_EQ(h.server().stats().connections_refused, 1u);
    h.server().close_connection(ids[2]);
    EXPECT_FALSE(h.server().open_connection(h.now()).is_error());
    EXPECT_EQ(h.server().stats().open_connections, 4u);
}

TEST(MgmtServer, ResponsesLargerThanTheBufferBecome500) {
    ServerConfig config = ServerHarness::small_config();
    config.response_body_size = 2048;
    ServerHarness h(config);
    std::string line(1000, 'c');
    for (int i = 0; i < 4; ++i) {
        std::string body = R"({"name":"vm)" + std::to_string(i) +
                           R"(","kernel":"k","command_line":")" + line + R"("})";
        ASSERT_EQ(h.call("POST", "/v1/vms", body).status, 201);
    }
    ParsedResponse list = h.call("GET", "/v1/vms");
    EXPECT_EQ(list.status, 500);
    EXPECT_NE(list.body.find("response larger than the server's buffer"), std::string::npos);
}

TEST(MgmtServer, MemoryAccounting) {
    ServerConfig config;
    size_t needed = Server::memory_needed(config);
    std::vector<uint8_t> memory(needed);
    Arena arena(memory);
    FakeVmHost host;
    ASSERT_FALSE(Server::create(arena, config, test_key(), host).is_error());
    EXPECT_LE(arena.used(), needed);
    // The default configuration (64 connections) in numbers, for the partition's budget.
    EXPECT_LT(needed, 10u << 20);
    std::vector<uint8_t> small(needed / 2);
    Arena too_small(small);
    auto failed = Server::create(too_small, config, test_key(), host);
    ASSERT_TRUE(failed.is_error());
    EXPECT_EQ(failed.error().code(), halcyon::ErrorCode::out_of_memory);
}

} // namespace
