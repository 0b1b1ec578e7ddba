// The storage and integration-service endpoints (New-VHD, Get-VHD, Resize-VHD,
// Get-/Add-/Remove-VMHardDiskDrive, Get-VMIntegrationService) end to end through the Server
// (authentication, routing, body validation, error mapping) against the fake VhdHost, and the
// pure helpers behind them (VHD path canonicalization, LUN parsing).
#include "mgmt/api/json_reader.hpp"
#include "mgmt/api/vhd_json.hpp"
#include "tests/interop/mgmt/fake_vhd_host.hpp"
#include "tests/interop/mgmt/server_harness.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace halcyon;
using namespace halcyon::mgmt;
using namespace halcyon::mgmt::testing;

// A response body parsed with the API's own strict reader.
struct Json {
    explicit Json(std::string body) : text(std::move(body)), tokens(512) {
        auto parsed = JsonDocument::parse(text, tokens);
        EXPECT_FALSE(parsed.is_error()) << "not JSON: " << text;
        if (!parsed.is_error())
            document.emplace(parsed.release_value());
    }
    // A member by a dotted path ("error.code", "attachments.0.vm").
    std::optional<JsonValue> at(std::string_view path) const {
        if (!document)
            return std::nullopt;
        std::optional<JsonValue> value = document->root();
        while (value && !path.empty()) {
            size_t dot = path.find('.');
            std::string_view part = path.substr(0, dot);
            if (value->is(JsonType::array))
                value = value->element(uint32_t(std::stoul(std::string(part))));
            else
                value = value->member(part);
            path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
        }
        return value;
    }
    std::string string(std::string_view path) const {
        auto value = at(path);
        if (!value || !value->is(JsonType::string))
            return "<missing " + std::string(path) + ">";
        std::vector<char> buffer(value->raw().size() + 1);
        return std::string(value->as_string(buffer).value());
    }
    uint64_t number(std::string_view path) const {
        auto value = at(path);
        return value && value->is(JsonType::number) ? value->as_uint64().value() : ~0ULL;
    }
    bool boolean(std::string_view path) const {
        auto value = at(path);
        return value && value->is(JsonType::boolean) && value->as_bool().value();
    }
    uint32_t size(std::string_view path) const {
        auto value = at(path);
        return value ? value->size() : ~0U;
    }

    std::string text;
    std::vector<JsonToken> tokens;
    std::optional<JsonDocument> document;
};

constexpr const char* kDisk0 = R"({"path":"ds:/vms/web/disk0.vhdx","size_bytes":67108864})";

class MgmtVhdApi : public ::testing::Test {
protected:
    MgmtVhdApi() { harness.server().set_vhd_host(&vhds); }

    ParsedResponse call(std::string_view method, std::string_view target,
                        std::string_view body = {}) {
        return harness.call(method, target, body);
    }
    std::string message(const ParsedResponse& response) {
        return Json(response.body).string("error.message");
    }
    void create_web() {
        ASSERT_EQ(call("POST", "/v1/vms", R"({"name":"web","kernel":"vmlinuz"})").status, 201);
    }

    ServerHarness harness;
    FakeVhdHost vhds{harness.host};
};

TEST(VhdJson, CanonicalPaths) {
    FilePath path;
    for (const char* form : {"ds:/vms/a.vhdx", "ds:vms/a.vhdx", "vms/a.vhdx", "ds://vms/a.vhdx"}) {
        ASSERT_FALSE(canonical_vhd_path(form, path).is_error()) << form;
        EXPECT_EQ(path.view(), "ds:/vms/a.vhdx") << form;
    }
    ASSERT_FALSE(canonical_vhd_path("Disk.VHDX", path).is_error());
    EXPECT_EQ(path.view(), "ds:/Disk.VHDX"); // case kept; the host compares ignoring it
    for (const char* bad : {"", "ds:", "ds:/", "a.vhd", "a.img", "ds:/.vhdx", "../a.vhdx",
                            "vms/../../a.vhdx", "a\\b.vhdx", "a\tb.vhdx"}) {
        EXPECT_TRUE(canonical_vhd_path(bad, path).is_error()) << bad;
    }
    std::string longest = std::string(107 - 5, 'x') + ".vhdx"; // "ds:/" + 107 = 111
    ASSERT_FALSE(canonical_vhd_path(longest, path).is_error());
    EXPECT_EQ(path.size(), 111u);
    EXPECT_TRUE(canonical_vhd_path("x" + longest, path).is_error());
}

TEST(VhdJson, Luns) {
    EXPECT_EQ(parse_lun("0").value(), 0u);
    EXPECT_EQ(parse_lun("63").value(), 63u);
    EXPECT_EQ(parse_lun("64").error().code(), ErrorCode::out_of_range);
    for (const char* bad : {"", "-1", "1a", "007", " 1", "1/2"})
        EXPECT_TRUE(parse_lun(bad).is_error()) << bad;
}

TEST_F(MgmtVhdApi, WithoutAVhdHostEveryVerbIsNotSupported) {
    ServerHarness bare;
    for (auto [method, target] : {std::pair{"POST", "/v1/vhds"},
                                  {"GET", "/v1/vhds/a.vhdx"},
                                  {"PATCH", "/v1/vhds/a.vhdx"},
                                  {"GET", "/v1/vms/web/disks"},
                                  {"POST", "/v1/vms/web/disks"},
                                  {"DELETE", "/v1/vms/web/disks/0"},
                                  {"GET", "/v1/vms/web/integration-services"}}) {
        ParsedResponse response = bare.call(method, target, "{}");
        EXPECT_EQ(response.status, 501) << method << " " << target;
        EXPECT_EQ(Json(response.body).string("error.code"), "not_supported");
    }
}

TEST_F(MgmtVhdApi, NewVhdAndGetVhd) {
    ParsedResponse created =
        call("POST", "/v1/vhds",
             R"({"path":"ds:vms/web/data 1.vhdx","size_bytes":1073741824,"type":"fixed",)"
             R"("block_size_bytes":1048576,"logical_sector_bytes":4096,)"
             R"("physical_sector_bytes":4096})");
    ASSERT_EQ(created.status, 201) << created.body;
    EXPECT_EQ(created.headers["location"], "/v1/vhds/vms/web/data%201.vhdx");
    Json vhd(created.body);
    EXPECT_EQ(vhd.string("path"), "ds:/vms/web/data 1.vhdx");
    EXPECT_EQ(vhd.string("type"), "Fixed");
    EXPECT_EQ(vhd.number("size_bytes"), 1ULL << 30);
    EXPECT_EQ(vhd.number("block_size_bytes"), 1u << 20);
    EXPECT_EQ(vhd.number("logical_sector_bytes"), 4096u);
    EXPECT_EQ(vhd.number("physical_sector_bytes"), 4096u);
    EXPECT_EQ(vhd.number("blocks"), 1024u);
    EXPECT_EQ(vhd.number("allocated_blocks"), 1024u);
    EXPECT_EQ(vhd.string("disk_id"), "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0");
    EXPECT_FALSE(vhd.boolean("attached"));
    EXPECT_EQ(vhd.size("attachments"), 0u);

    // Defaults: dynamic, 512-byte logical and 4096-byte physical sectors.
    Json dynamic(call("POST", "/v1/vhds", kDisk0).body);
    EXPECT_EQ(dynamic.string("type"), "Dynamic");
    EXPECT_EQ(dynamic.number("logical_sector_bytes"), 512u);
    EXPECT_EQ(dynamic.number("physical_sector_bytes"), 4096u);
    ParsedResponse again = call("POST", "/v1/vhds", kDisk0);
    EXPECT_EQ(again.status, 409);
    EXPECT_EQ(Json(again.body).string("error.code"), "already_exists");

    // Every spelling of the path names the same file, the datastore's case rules included.
    for (const char* target :
         {"/v1/vhds/vms/web/disk0.vhdx", "/v1/vhds/ds%3A%2Fvms%2Fweb%2Fdisk0.vhdx",
          "/v1/vhds/ds:vms/web/disk0.vhdx", "/v1/vhds/VMS/Web/DISK0.vhdx"}) {
        ParsedResponse got = call("GET", target);
        EXPECT_EQ(got.status, 200) << target;
        EXPECT_EQ(Json(got.body).number("size_bytes"), 64u << 20) << target;
    }
    EXPECT_EQ(call("GET", "/v1/vhds/vms/none.vhdx").status, 404);
    ParsedResponse bad = call("GET", "/v1/vhds/vms/disk.vhd");
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(message(bad), "a VHD's name ends in .vhdx (VHDX format)");
    ParsedResponse wrong_method = call("PUT", "/v1/vhds/vms/web/disk0.vhdx", "{}");
    EXPECT_EQ(wrong_method.status, 405);
    EXPECT_EQ(wrong_method.headers["allow"], "GET, PATCH");
}

TEST_F(MgmtVhdApi, NewVhdRefusesBadBodies) {
    struct Case {
        const char* body;
        const char* message;
    };
    const Case cases[] = {
        {R"({"size_bytes":1048576})", "field 'path': required field missing"},
        {R"({"path":"a.vhdx"})", "field 'size_bytes': required field missing"},
        {R"({"path":"a.vhdx","size_bytes":0})",
         "field 'size_bytes': the size is a positive number of bytes"},
        {R"({"path":"a.vhdx","size_bytes":1000})",
         "field 'size_bytes': the size is not a whole number of logical sectors"},
        {R"({"path":"a.vhdx","size_bytes":1048576000,"logical_sector_bytes":4096,"x":1})",
         "field 'x': unknown field"},
        {R"({"path":"a.vhdx","size_bytes":1536,"logical_sector_bytes":4096})",
         "field 'size_bytes': the size is not a whole number of logical sectors"},
        {R"({"path":"a.vhdx","size_bytes":70368744177664000})",
         "field 'size_bytes': a VHDX holds at most 64 TiB"},
        {R"({"path":"a.vhdx","size_bytes":1048576,"type":"differencing"})",
         "field 'type': type must be dynamic or fixed"},
        {R"({"path":"a.vhdx","size_bytes":1048576,"block_size_bytes":3145728})",
         "field 'block_size_bytes': the block size is a power of two from 1 MiB to 256 MiB"},
        {R"({"path":"a.vhdx","size_bytes":1048576,"block_size_bytes":536870912})",
         "field 'block_size_bytes': the block size is a power of two from 1 MiB to 256 MiB"},
        {R"({"path":"a.vhdx","size_bytes":1048576,"physical_sector_bytes":1024})",
         "field 'physical_sector_bytes': a sector size is 512 or 4096 bytes"},
        {R"({"path":"../a.vhdx","size_bytes":1048576})",
         "field 'path': invalid file name (printable ASCII, no '\\', no '..' component)"},
        {R"({"path":"a.iso","size_bytes":1048576})",
         "field 'path': a VHD's name ends in .vhdx (VHDX format)"},
        {R"({"path":7,"size_bytes":1048576})", "field 'path': expected a file name (a string)"},
        {R"([1])", "the request body must be a JSON object"},
    };
    for (const Case& c : cases) {
        ParsedResponse response = call("POST", "/v1/vhds", c.body);
        EXPECT_EQ(response.status, 400) << c.body;
        EXPECT_EQ(message(response), c.message) << c.body;
    }
}

TEST_F(MgmtVhdApi, ResizeVhd) {
    ASSERT_EQ(call("POST", "/v1/vhds", kDisk0).status, 201);
    ParsedResponse resized =
        call("PATCH", "/v1/vhds/vms/web/disk0.vhdx", R"({"size_bytes":134217728})");
    ASSERT_EQ(resized.status, 200) << resized.body;
    EXPECT_EQ(Json(resized.body).number("size_bytes"), 128u << 20);
    ASSERT_EQ(vhds.resizes.size(), 1u);
    EXPECT_EQ(vhds.resizes[0].path, "ds:/vms/web/disk0.vhdx");
    EXPECT_EQ(vhds.resizes[0].size, 128u << 20);
    EXPECT_EQ(message(call("PATCH", "/v1/vhds/vms/web/disk0.vhdx", "{}")),
              "field 'size_bytes': required field missing");
    EXPECT_EQ(message(call("PATCH", "/v1/vhds/vms/web/disk0.vhdx", R"({"size":1})")),
              "field 'size': unknown field");
    EXPECT_EQ(call("PATCH", "/v1/vhds/vms/web/disk0.vhdx", R"({"size_bytes":1000})").status, 400);
    EXPECT_EQ(call("PATCH", "/v1/vhds/vms/none.vhdx", R"({"size_bytes":1048576})").status, 404);
}

TEST_F(MgmtVhdApi, HardDiskDrives) {
    create_web();
    ASSERT_EQ(call("POST", "/v1/vhds", kDisk0).status, 201);
    ParsedResponse added =
        call("POST", "/v1/vms/web/disks", R"({"path":"vms/web/disk0.vhdx","read_only":true})");
    ASSERT_EQ(added.status, 201) << added.body;
    Json drive(added.body);
    EXPECT_EQ(drive.string("vm"), "web");
    EXPECT_EQ(drive.string("controller_type"), "SCSI");
    EXPECT_EQ(drive.number("lun"), 0u);
    EXPECT_EQ(drive.string("path"), "ds:/vms/web/disk0.vhdx");
    EXPECT_TRUE(drive.boolean("read_only"));
    EXPECT_FALSE(drive.boolean("online"));

    Json vhd(call("GET", "/v1/vhds/vms/web/disk0.vhdx").body);
    EXPECT_TRUE(vhd.boolean("attached"));
    EXPECT_EQ(vhd.string("attachments.0.vm"), "web");
    EXPECT_TRUE(vhd.boolean("attachments.0.read_only"));

    ASSERT_EQ(call("POST", "/v1/vms/web/start").status, 200);
    Json list(call("GET", "/v1/vms/web/disks").body);
    ASSERT_EQ(list.size("disks"), 1u);
    EXPECT_TRUE(list.boolean("disks.0.online"));
    EXPECT_EQ(list.string("disks.0.path"), "ds:/vms/web/disk0.vhdx");

    EXPECT_EQ(call("POST", "/v1/vms/web/disks", R"({"path":"ds:/none.vhdx"})").status, 404);
    EXPECT_EQ(message(call("POST", "/v1/vms/web/disks", R"({"read_only":false})")),
              "field 'path': required field missing");
    EXPECT_EQ(message(call("POST", "/v1/vms/web/disks", R"({"path":"a.vhdx","lun":3})")),
              "field 'lun': unknown field");
    EXPECT_EQ(call("POST", "/v1/vms/nope/disks", kDisk0).status, 400); // size_bytes: unknown
    EXPECT_EQ(call("GET", "/v1/vms/nope/disks").status, 404);
    EXPECT_EQ(call("GET", "/v1/vms/bad%20name/disks").status, 400);

    EXPECT_EQ(call("DELETE", "/v1/vms/web/disks/1").status, 404);
    ParsedResponse range = call("DELETE", "/v1/vms/web/disks/64");
    EXPECT_EQ(range.status, 400);
    EXPECT_EQ(Json(range.body).string("error.code"), "out_of_range");
    EXPECT_EQ(call("DELETE", "/v1/vms/web/disks/x").status, 400);
    EXPECT_EQ(call("DELETE", "/v1/vms/web/disks/0/1").status, 400);
    ParsedResponse removed = call("DELETE", "/v1/vms/web/disks/0");
    ASSERT_EQ(removed.status, 200);
    EXPECT_EQ(removed.body, R"({"vm":"web","lun":0,"removed":true})");
    EXPECT_EQ(Json(call("GET", "/v1/vms/web/disks").body).size("disks"), 0u);
    EXPECT_FALSE(Json(call("GET", "/v1/vhds/vms/web/disk0.vhdx").body).boolean("attached"));
}

TEST_F(MgmtVhdApi, IntegrationServices) {
    create_web();
    Json off(call("GET", "/v1/vms/web/integration-services").body);
    ASSERT_EQ(off.size("services"), 4u);
    EXPECT_EQ(off.string("services.0.name"), "Heartbeat");
    EXPECT_EQ(off.string("services.0.vm"), "web");
    EXPECT_TRUE(off.boolean("services.0.enabled"));
    EXPECT_EQ(off.string("services.0.status"), "");
    EXPECT_TRUE(off.at("services.0.version")->is(JsonType::null));
    ASSERT_EQ(call("POST", "/v1/vms/web/start").status, 200);
    Json running(call("GET", "/v1/vms/web/integration-services").body);
    EXPECT_EQ(running.string("services.2.name"), "Shutdown");
    EXPECT_EQ(running.string("services.2.status"), "OK");
    EXPECT_EQ(running.string("services.2.version"), "3.0");
    EXPECT_EQ(running.string("services.2.detail"), "ready");
    EXPECT_EQ(call("GET", "/v1/vms/nope/integration-services").status, 404);
    EXPECT_EQ(call("POST", "/v1/vms/web/integration-services").status, 405);
}

TEST(VhdJson, IntegrationServiceVersions) {
    std::vector<char> buffer(512);
    JsonWriter writer(buffer);
    IntegrationService service;
    (void)service.name.assign("Time Synchronization");
    service.status = IntegrationStatus::lost_communication;
    service.version_major = 4;
    service.version_minor = 10;
    write_integration_service_json(writer, "web", service);
    EXPECT_EQ(writer.text(), R"({"vm":"web","name":"Time Synchronization","enabled":true,)"
                             R"("status":"Lost Communication","version":"4.10","detail":""})");
    EXPECT_STREQ(integration_status_name(IntegrationStatus::protocol_mismatch),
                 "Protocol Mismatch");
    EXPECT_STREQ(integration_status_name(IntegrationStatus::no_contact), "No Contact");
}

} // namespace
