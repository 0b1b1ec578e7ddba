// The management API's endpoints end to end through the Server (authentication, routing, JSON
// bodies, error mapping) against the fake VmHost.
#include "mgmt/api/json_reader.hpp"
#include "tests/interop/mgmt/server_harness.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace halcyon::mgmt;
using namespace halcyon::mgmt::testing;

// A response body parsed with the API's own strict reader (so every body is checked to be JSON).
struct Json {
    explicit Json(std::string body) : text(std::move(body)), tokens(512) {
        auto parsed = JsonDocument::parse(text, tokens);
        EXPECT_FALSE(parsed.is_error()) << "not JSON: " << text;
        if (!parsed.is_error())
            document.emplace(parsed.release_value());
    }
    // Member by a dotted path ("error.code").
    std::optional<JsonValue> at(std::string_view path) const {
        if (!document)
            return std::nullopt;
        std::optional<JsonValue> value = document->root();
        while (value && !path.empty()) {
            size_t dot = path.find('.');
            value = value->member(path.substr(0, dot));
            path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
        }
        return value;
    }
    std::string string(std::string_view path) const {
        auto value = at(path);
        if (!value || !value->is(JsonType::string))
            return "<missing " + std::string(path) + ">";
        std::vector<char> buffer(value->raw().size()); // decoding never grows a string
        return std::string(value->as_string(buffer).value());
    }
    uint64_t number(std::string_view path) const {
        auto value = at(path);
        return value ? value->as_uint64().value() : ~0ULL;
    }

    std::string text;
    std::vector<JsonToken> tokens;
    std::optional<JsonDocument> document;
};

constexpr const char* kWebVm =
    R"({"name":"web","memory_bytes":536870912,"vcpus":2,)"
    R"("kernel":"vmlinuz","initrd":"initrd.img",)"
    R"("command_line":"console=ttyS0 quiet",)"
    R"("disks":[{"path":"web.vhdx","read_only":false},"iso/tools.iso"]})";

class MgmtApi : public ::testing::Test {
protected:
    ParsedResponse call(std::string_view method, std::string_view target,
                        std::string_view body = {}, RequestOptions options = {}) {
        return harness.call(method, target, body, options);
    }
    std::string error_code(const ParsedResponse& response) {
        return Json(response.body).string("error.code");
    }
    void create_web() { ASSERT_EQ(call("POST", "/v1/vms", kWebVm).status, 201); }

    ServerHarness harness;
};

TEST_F(MgmtApi, UnauthenticatedRequestsAreRefusedAndCounted) {
    RequestOptions unsigned_request;
    unsigned_request.sign = false;
    ParsedResponse response = call("GET", "/v1/vms", {}, unsigned_request);
    EXPECT_EQ(response.status, 401);
    EXPECT_EQ(response.headers["www-authenticate"], "Halcyon-HMAC-SHA256");
    EXPECT_EQ(error_code(response), "unauthorized");
    EXPECT_EQ(harness.server().stats().auth_failures[uint32_t(AuthResult::missing)], 1u);
    // The refusal happens before routing: not even a 404 leaks.
    EXPECT_EQ(call("GET", "/v1/nothing", {}, unsigned_request).status, 401);

    RequestOptions old;
    old.timestamp = kTestNow - 1000;
    EXPECT_EQ(Json(call("GET", "/v1/vms", {}, old).body).string("error.message"),
              "request timestamp is more than 300 seconds from the server's clock");
    ServerHarness other_key(ServerHarness::small_config(), test_key(2));
    EXPECT_EQ(other_key.call("POST", "/v1/vms", kWebVm).status, 201);
    Json host(call("GET", "/v1/host").body);
    EXPECT_EQ(host.number("api.auth_failures.total"), 3u);
    EXPECT_EQ(host.number("api.auth_failures.missing"), 2u);
    EXPECT_EQ(host.number("api.auth_failures.stale_timestamp"), 1u);
    EXPECT_TRUE(harness.host.vms_.empty());
}

TEST_F(MgmtApi, GetHost) {
    ParsedResponse response = call("GET", "/v1/host");
    ASSERT_EQ(response.status, 200);
    EXPECT_EQ(response.headers["content-type"], "application/json");
    EXPECT_EQ(response.headers["cache-control"], "no-store");
    EXPECT_EQ(response.headers["date"], "Tue, 14 Nov 2023 22:13:20 GMT");
    Json host(response.body);
    EXPECT_EQ(host.string("name"), "fakehost");
    EXPECT_EQ(host.string("virtualization"), "svm");
    EXPECT_EQ(host.number("logical_processors"), 4u);
    EXPECT_EQ(host.number("vm_count"), 0u);
    EXPECT_EQ(host.string("api.version"), "v1");
    EXPECT_EQ(host.number("api.max_connections"), 4u);
    EXPECT_EQ(host.number("api.connections"), 1u);
}

TEST_F(MgmtApi, CreateGetAndList) {
    ParsedResponse created = call("POST", "/v1/vms", kWebVm);
    ASSERT_EQ(created.status, 201) << created.body;
    EXPECT_EQ(created.headers["location"], "/v1/vms/web");
    Json vm(created.body);
    EXPECT_EQ(vm.string("name"), "web");
    EXPECT_EQ(vm.string("state"), "Off");
    EXPECT_EQ(vm.number("memory_bytes"), 512u << 20);
    EXPECT_EQ(vm.number("vcpus"), 2u);
    EXPECT_EQ(vm.string("command_line"), "console=ttyS0 quiet");
    auto disks = vm.at("disks");
    ASSERT_TRUE(disks && disks->size() == 2);
    EXPECT_TRUE(disks->element(1)->member("path")->string_equals("iso/tools.iso"));

    EXPECT_EQ(Json(call("GET", "/v1/vms/web").body).string("kernel"), "vmlinuz");
    ASSERT_EQ(call("POST", "/v1/vms", R"({"name":"db","kernel":"k"})").status, 201);
    Json list(call("GET", "/v1/vms").body);
    ASSERT_TRUE(list.at("vms"));
    EXPECT_EQ(list.at("vms")->size(), 2u);
    EXPECT_TRUE(list.at("vms")->element(1)->member("name")->string_equals("db"));
    // Defaults from the spec.
    EXPECT_EQ(Json(call("GET", "/v1/vms/db").body).number("memory_bytes"), 256u << 20);
}

TEST_F(MgmtApi, CreateRefusesBadBodies) {
    create_web();
    EXPECT_EQ(error_code(call("POST", "/v1/vms", kWebVm)), "already_exists");
    struct Case {
        const char* body;
        const char* message;
    };
    const Case cases[] = {
        {R"({"kernel":"k"})", "field 'name': required field missing"},
        {R"({"name":"x"})", "field 'kernel': required field missing"},
        {R"({"name":"bad name","kernel":"k"})",
         "field 'name': a VM name is 1 to 31 characters from A-Z a-z 0-9 _ -"},
        {R"({"name":"x","kernel":"k","colour":"red"})", "field 'colour': unknown field"},
        {R"({"name":"x","kernel":"k","vcpus":0})", "field 'vcpus': vcpus must be 1 to 64"},
        {R"({"name":"x","kernel":"k","vcpus":"2"})", "field 'vcpus': expected a number"},
        {R"({"name":"x","kernel":"k","memory_bytes":1000})",
         "field 'memory_bytes': memory must be 16 MiB to 1 TiB and a multiple of 2 MiB"},
        {R"({"name":"x","kernel":"../etc/passwd"})",
         "field 'kernel': invalid file name (relative, printable ASCII, at most 111 characters, "
         "no '..' component)"},
        {R"({"name":"x","kernel":"k","disks":[1]})",
         "field 'disks': a disk is a file name or {\"path\": ..., \"read_only\": ...}"},
        {R"({"name":"x","kernel":"k","command_line":"a\u0007b"})",
         "field 'command_line': command line: at most 1023 bytes, no control characters but "
         "tab"},
        {R"(["name"])", "the request body must be a JSON object"},
        {R"({"name":"x","kernel":"k",})",
         "invalid JSON at byte 25: expected a member name (a string)"},
    };
    for (const Case& c : cases) {
        ParsedResponse response = call("POST", "/v1/vms", c.body);
        EXPECT_EQ(response.status, 400) << c.body;
        EXPECT_EQ(Json(response.body).string("error.message"), c.message) << c.body;
    }
    RequestOptions text;
    text.content_type = "text/plain";
    ParsedResponse wrong_type = call("POST", "/v1/vms", R"({"name":"x","kernel":"k"})", text);
    EXPECT_EQ(wrong_type.status, 415);
    text.content_type = "application/json; charset=utf-8";
    EXPECT_EQ(call("POST", "/v1/vms", R"({"name":"x","kernel":"k"})", text).status, 201);
}

TEST_F(MgmtApi, Lifecycle) {
    create_web();
    EXPECT_EQ(error_code(call("POST", "/v1/vms/nope/start")), "not_found");
    EXPECT_EQ(call("POST", "/v1/vms/nope/start").status, 404);
    EXPECT_EQ(Json(call("POST", "/v1/vms/web/start").body).string("state"), "Running");
    ParsedResponse again = call("POST", "/v1/vms/web/start");
    EXPECT_EQ(again.status, 409);
    EXPECT_EQ(error_code(again), "conflict");
    EXPECT_EQ(Json(again.body).string("error.message"), "the VM is not off");
    EXPECT_EQ(Json(call("POST", "/v1/vms/web/suspend").body).string("state"), "Paused");
    EXPECT_EQ(Json(call("POST", "/v1/vms/web/resume").body).string("state"), "Running");
    EXPECT_EQ(Json(call("POST", "/v1/vms/web/restart").body).string("state"), "Running");
    EXPECT_EQ(call("DELETE", "/v1/vms/web").status, 409); // running
    EXPECT_EQ(call("POST", "/v1/vms/web/stop", R"({"mode":"sideways"})").status, 400);
    EXPECT_EQ(call("POST", "/v1/vms/web/start", R"({"mode":"force"})").status, 400);
    EXPECT_EQ(Json(call("POST", "/v1/vms/web/stop", R"({"mode":"turnoff"})").body).string("state"),
              "Off");
    EXPECT_EQ(harness.host.last_stop_mode, StopMode::turn_off);
    ASSERT_EQ(call("POST", "/v1/vms/web/start").status, 200);
    ASSERT_EQ(call("POST", "/v1/vms/web/stop").status, 200); // graceful by default
    EXPECT_EQ(harness.host.last_stop_mode, StopMode::graceful);
    ParsedResponse removed = call("DELETE", "/v1/vms/web");
    EXPECT_EQ(removed.status, 200);
    EXPECT_EQ(removed.body, R"({"name":"web","removed":true})");
    EXPECT_EQ(call("GET", "/v1/vms/web").status, 404);
}

TEST_F(MgmtApi, SetVm) {
    create_web();
    Json changed(call("PATCH", "/v1/vms/web", R"({"vcpus":4,"disks":[],"initrd":""})").body);
    EXPECT_EQ(changed.number("vcpus"), 4u);
    EXPECT_EQ(changed.at("disks")->size(), 0u);
    EXPECT_EQ(changed.string("initrd"), "");
    EXPECT_EQ(changed.string("kernel"), "vmlinuz"); // untouched
    EXPECT_EQ(call("PATCH", "/v1/vms/web", R"({"name":"web","memory_bytes":1073741824})").status,
              200);
    EXPECT_EQ(call("PATCH", "/v1/vms/web", R"({"name":"other"})").status, 400);
    ASSERT_EQ(call("POST", "/v1/vms/web/start").status, 200);
    EXPECT_EQ(error_code(call("PATCH", "/v1/vms/web", R"({"vcpus":1})")), "conflict");
    EXPECT_EQ(call("PATCH", "/v1/vms/web", R"({"command_line":"quiet"})").status, 200);
}

TEST_F(MgmtApi, InvalidNamesInThePath) {
    EXPECT_EQ(call("GET", "/v1/vms/a%2Fb").status, 400);
    EXPECT_EQ(call("GET", "/v1/vms/" + std::string(32, 'x')).status, 400);
    EXPECT_EQ(call("GET", "/v1/vms/%zz").status, 400);
}

TEST_F(MgmtApi, NotFoundAndMethodNotAllowed) {
    ParsedResponse missing = call("GET", "/v1/nothing");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(error_code(missing), "not_found");
    EXPECT_EQ(Json(call("GET", "/v2/vms").body).string("error.message"),
              "no such endpoint (this server speaks /v1/)");
    ParsedResponse wrong = call("PUT", "/v1/vms/web");
    EXPECT_EQ(wrong.status, 405);
    EXPECT_EQ(wrong.headers["allow"], "GET, PATCH, DELETE");
}

TEST_F(MgmtApi, Console) {
    create_web();
    EXPECT_EQ(call("GET", "/v1/vms/web/console").body, ""); // off: nothing yet
    EXPECT_EQ(call("POST", "/v1/vms/web/console", "x").status, 409);
    ASSERT_EQ(call("POST", "/v1/vms/web/start").status, 200);
    ParsedResponse first = call("GET", "/v1/vms/web/console?since=0");
    EXPECT_EQ(first.headers["content-type"], "application/octet-stream");
    EXPECT_EQ(first.body, "Booting web\r\n# ");
    EXPECT_EQ(first.headers["halcyon-console-first"], "0");
    std::string next = first.headers["halcyon-console-next"];
    EXPECT_EQ(next, std::to_string(first.body.size()));
    RequestOptions raw;
    raw.content_type = "application/octet-stream";
    Json accepted(call("POST", "/v1/vms/web/console", "echo hi\r", raw).body);
    EXPECT_EQ(accepted.number("accepted"), 8u);
    ParsedResponse more = call("GET", "/v1/vms/web/console?since=" + next);
    EXPECT_EQ(more.body, "echo hi\r\nhi\r\n# ");
    EXPECT_EQ(call("GET", "/v1/vms/web/console?since=abc").status, 400);
}

TEST_F(MgmtApi, Log) {
    create_web();
    Json log(call("GET", "/v1/log").body);
    EXPECT_EQ(log.string("text"), "created VM web\n");
    EXPECT_EQ(log.number("first"), 0u);
    EXPECT_EQ(log.number("next"), 15u);
    EXPECT_EQ(Json(call("GET", "/v1/log?since=15").body).string("text"), "");
    // Bytes dropped from the ring: the reply starts later than asked and says where.
    harness.host.log_text += std::string("\x01\x02 binary \xFF line\n");
    harness.host.drop_log_prefix(8);
    Json later(call("GET", "/v1/log?since=0").body);
    EXPECT_EQ(later.number("first"), 8u);
    EXPECT_EQ(later.string("text"), "VM web\n\x01\x02 binary \xEF\xBF\xBD line\n");
}

TEST_F(MgmtApi, LogChunksAlwaysFitEscaped) {
    // The worst case for escaping: control bytes that become six characters each.
    harness.host.log_text = std::string(200000, '\x01');
    uint64_t since = 0;
    size_t total = 0;
    while (since < harness.host.log_text.size()) {
        ParsedResponse response = call("GET", "/v1/log?since=" + std::to_string(since));
        ASSERT_EQ(response.status, 200) << response.body.substr(0, 200);
        Json chunk(response.body);
        ASSERT_GT(chunk.number("next"), since);
        total += chunk.string("text").size();
        since = chunk.number("next");
    }
    EXPECT_EQ(total, 200000u);
}

TEST_F(MgmtApi, UploadFiles) {
    RequestOptions raw;
    raw.content_type = "application/octet-stream";
    Json whole(call("PUT", "/v1/files/boot/vmlinuz", "KERNEL", raw).body);
    EXPECT_EQ(whole.string("path"), "boot/vmlinuz");
    EXPECT_EQ(whole.number("size"), 6u);
    EXPECT_EQ(whole.number("received"), 6u);
    auto& file = harness.host.files["boot/vmlinuz"];
    EXPECT_EQ(std::string(file.data.begin(), file.data.end()), "KERNEL");

    raw.extra_headers = {"Content-Range: bytes 0-3/10"};
    EXPECT_EQ(Json(call("PUT", "/v1/files/initrd", "0123", raw).body).number("received"), 4u);
    raw.extra_headers = {"Content-Range: bytes 4-9/10"};
    EXPECT_EQ(Json(call("PUT", "/v1/files/initrd", "456789", raw).body).number("received"), 10u);
    auto& initrd = harness.host.files["initrd"];
    EXPECT_EQ(std::string(initrd.data.begin(), initrd.data.end()), "0123456789");

    for (const char* range : {"bytes 0-3/10", "bytes 4-2/10", "bytes 0-9/5", "items 0-4/10",
                              "bytes 0-4/", "bytes -4/10"}) {
        raw.extra_headers = {std::string("Content-Range: ") + range};
        EXPECT_EQ(call("PUT", "/v1/files/initrd", "01234", raw).status, 400) << range;
    }
    raw.extra_headers = {"Content-Range: bytes 0-4/999999999999"};
    EXPECT_EQ(error_code(call("PUT", "/v1/files/big", "01234", raw)), "insufficient_storage");
    raw.extra_headers = {};
    EXPECT_EQ(call("PUT", "/v1/files/a/../../etc", "x", raw).status, 400);
    EXPECT_EQ(call("PUT", "/v1/files/%2Fetc%2Fpasswd", "x", raw).status, 400);
}

TEST_F(MgmtApi, EveryErrorBodyIsTheDocumentedShape) {
    RequestOptions unsigned_request;
    unsigned_request.sign = false;
    std::vector<ParsedResponse> errors = {call("GET", "/v1/vms", {}, unsigned_request),
                                          call("GET", "/v1/nothing"), call("DELETE", "/v1/vms"),
                                          call("POST", "/v1/vms", "{"), call("GET", "/v1/vms/x")};
    for (const ParsedResponse& response : errors) {
        Json body(response.body);
        EXPECT_TRUE(body.at("error.code") && body.at("error.code")->is(JsonType::string));
        EXPECT_TRUE(body.at("error.message") && body.at("error.message")->is(JsonType::string));
        EXPECT_EQ(body.document->root().size(), 1u);
        EXPECT_EQ(body.at("error")->size(), 2u);
    }
}

} // namespace
