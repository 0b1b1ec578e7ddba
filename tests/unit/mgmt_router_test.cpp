// Routing of the versioned management API: every endpoint, 404/405 with Allow, parameters with
// percent-decoding, and query parameters.
#include "mgmt/api/router.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace halcyon::mgmt;
using Kind = RouteResult::Kind;

struct Routed {
    RouteResult result;
    RouteParams params;
};

Routed route(std::string_view method, std::string_view path) {
    Routed routed;
    routed.result = route_request(method, path, routed.params);
    return routed;
}

TEST(MgmtRouter, EveryEndpoint) {
    struct Case {
        const char* method;
        const char* path;
        Endpoint endpoint;
    };
    const Case cases[] = {
        {"GET", "/v1/host", Endpoint::get_host},
        {"GET", "/v1/vms", Endpoint::list_vms},
        {"POST", "/v1/vms", Endpoint::create_vm},
        {"GET", "/v1/vms/web", Endpoint::get_vm},
        {"PATCH", "/v1/vms/web", Endpoint::set_vm},
        {"DELETE", "/v1/vms/web", Endpoint::remove_vm},
        {"POST", "/v1/vms/web/start", Endpoint::start_vm},
        {"POST", "/v1/vms/web/stop", Endpoint::stop_vm},
        {"POST", "/v1/vms/web/restart", Endpoint::restart_vm},
        {"POST", "/v1/vms/web/suspend", Endpoint::suspend_vm},
        {"POST", "/v1/vms/web/resume", Endpoint::resume_vm},
        {"GET", "/v1/vms/web/console", Endpoint::read_console},
        {"POST", "/v1/vms/web/console", Endpoint::write_console},
        {"GET", "/v1/log", Endpoint::read_log},
        {"PUT", "/v1/files/boot/vmlinuz", Endpoint::upload_file},
    };
    for (const Case& c : cases) {
        Routed routed = route(c.method, c.path);
        EXPECT_EQ(routed.result.kind, Kind::matched) << c.method << " " << c.path;
        EXPECT_EQ(routed.result.endpoint, c.endpoint) << c.method << " " << c.path;
    }
    EXPECT_EQ(route("GET", "/v1/vms/web/console").params.name, "web");
    EXPECT_EQ(route("PUT", "/v1/files/boot/vmlinuz").params.path, "boot/vmlinuz");
}

TEST(MgmtRouter, UnknownPathsAndVersions) {
    for (const char* path : {"/v1/", "/v1/nothing", "/v1/vms/", "/v1/vms/web/", "/v1/vms/web/fly",
                             "/v1/vms/web/start/now", "/v1/files/", "/v1/hosts", "/v1//vms"}) {
        EXPECT_EQ(route("GET", path).result.kind, Kind::not_found) << path;
    }
    for (const char* path : {"/", "/v2/vms", "/v1", "/vms", "/V1/vms"})
        EXPECT_EQ(route("GET", path).result.kind, Kind::unknown_version) << path;
}

TEST(MgmtRouter, MethodNotAllowedListsTheAllowedMethods) {
    Routed vm = route("PUT", "/v1/vms/web");
    EXPECT_EQ(vm.result.kind, Kind::method_not_allowed);
    EXPECT_STREQ(vm.result.allow, "GET, PATCH, DELETE");
    Routed vms = route("DELETE", "/v1/vms");
    EXPECT_STREQ(vms.result.allow, "GET, POST");
    Routed console = route("PUT", "/v1/vms/x/console");
    EXPECT_STREQ(console.result.allow, "GET, POST");
    // Methods are case-sensitive (RFC 9110 section 9.1).
    EXPECT_EQ(route("get", "/v1/host").result.kind, Kind::method_not_allowed);
}

TEST(MgmtRouter, PercentDecodesParameters) {
    EXPECT_EQ(route("GET", "/v1/vms/we%62").params.name, "web");
    EXPECT_EQ(route("GET", "/v1/vms/a%2Fb").params.name, "a/b"); // the handler refuses it
    EXPECT_EQ(route("PUT", "/v1/files/a%20b").params.path, "a b");
    EXPECT_EQ(route("GET", "/v1/vms/%").result.kind, Kind::bad_path);
    EXPECT_EQ(route("GET", "/v1/vms/%4").result.kind, Kind::bad_path);
    EXPECT_EQ(route("GET", "/v1/vms/%zz").result.kind, Kind::bad_path);
    std::string long_name = "/v1/vms/" + std::string(300, 'n');
    EXPECT_EQ(route("GET", long_name).result.kind, Kind::bad_path); // longer than the storage
}

TEST(MgmtRouter, QueryParameters) {
    EXPECT_EQ(query_parameter("since=12&mode=force", "since").value(), "12");
    EXPECT_EQ(query_parameter("since=12&mode=force", "mode").value(), "force");
    EXPECT_EQ(query_parameter("flag&x=1", "flag").value(), "");
    EXPECT_FALSE(query_parameter("sincere=1", "since").has_value());
    EXPECT_FALSE(query_parameter("", "since").has_value());
}

} // namespace
