// The VM object's JSON form (mgmt/api/vm_json.hpp) with the integration services' view of the
// guest: heartbeat (null without the service), computer name, the KVP address lists split into
// one string per address, the VMBus flag and the status; and the "vmbus" member New-VM and
// Set-VM accept.
#include "mgmt/api/json_reader.hpp"
#include "mgmt/api/json_writer.hpp"
#include "mgmt/api/vm_json.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace halcyon;
using namespace halcyon::mgmt;

std::string to_json(const VmInfo& vm) {
    std::vector<char> buffer(8192);
    JsonWriter writer(buffer);
    write_vm_json(writer, vm);
    EXPECT_FALSE(writer.overflowed());
    return std::string(writer.text());
}

VmInfo web() {
    VmInfo vm;
    EXPECT_TRUE(vm.spec.name.assign("web"));
    EXPECT_TRUE(vm.spec.kernel.assign("vmlinuz"));
    vm.spec.memory_bytes = 256ULL << 20;
    return vm;
}

TEST(VmJson, OffVmHasNullHeartbeatAndNoAddresses) {
    VmInfo vm = web();
    vm.spec.vmbus = false;
    EXPECT_TRUE(vm.status.assign("the guest powered off"));
    EXPECT_EQ(to_json(vm),
              R"({"name":"web","state":"Off","memory_bytes":268435456,"vcpus":1,)"
              R"("kernel":"vmlinuz","initrd":"","command_line":"","disks":[],"vmbus":false,)"
              R"("uptime_ms":0,"heartbeat":null,"computer_name":"","ip_addresses":[],)"
              R"("status":"the guest powered off"})");
}

TEST(VmJson, RunningGuestWithIntegrationServices) {
    VmInfo vm = web();
    vm.state = VmState::running;
    vm.uptime_ms = 65000;
    EXPECT_TRUE(vm.guest.heartbeat.assign("OkApplicationsUnknown"));
    EXPECT_TRUE(vm.guest.computer_name.assign("web.example.org"));
    // hv_kvp_daemon joins addresses with ';' (a trailing one and spaces happen).
    EXPECT_TRUE(vm.guest.ipv4_addresses.assign("192.0.2.10;198.51.100.7;"));
    EXPECT_TRUE(vm.guest.ipv6_addresses.assign(" 2001:db8::10 ; fe80::1"));
    const std::string json = to_json(vm);
    EXPECT_NE(json.find(R"("vmbus":true,"uptime_ms":65000,"heartbeat":"OkApplicationsUnknown",)"
                        R"("computer_name":"web.example.org",)"
                        R"("ip_addresses":["192.0.2.10","198.51.100.7","2001:db8::10","fe80::1"],)"
                        R"("status":""})"),
              std::string::npos)
        << json;
}

ErrorOr<void> parse_spec(std::string_view body, VmSpec& spec, FieldError& field) {
    // `body` is a literal: FieldError::field points into it.
    static std::vector<JsonToken> tokens(64);
    auto document = JsonDocument::parse(body, tokens);
    if (document.is_error())
        return document.release_error();
    return parse_vm_spec(document.value().root(), spec, field);
}

TEST(VmJson, VmbusMemberIsOptionalAndTyped) {
    VmSpec spec;
    FieldError field;
    ASSERT_FALSE(parse_spec(R"({"name":"a","kernel":"k"})", spec, field).is_error());
    EXPECT_TRUE(spec.vmbus); // every Hyper-V VM has the synthetic bus
    ASSERT_FALSE(parse_spec(R"({"name":"a","kernel":"k","vmbus":false})", spec, field).is_error());
    EXPECT_FALSE(spec.vmbus);
    EXPECT_TRUE(parse_spec(R"({"name":"a","kernel":"k","vmbus":"no"})", spec, field).is_error());
    EXPECT_EQ(field.field, "vmbus");
    // The read-only members of the VM object are not accepted back.
    EXPECT_TRUE(
        parse_spec(R"({"name":"a","kernel":"k","heartbeat":null})", spec, field).is_error());
}

TEST(VmJson, SetVmChangesVmbus) {
    std::vector<JsonToken> tokens(16);
    const std::string body = R"({"vmbus":false})";
    auto document = JsonDocument::parse(body, tokens);
    ASSERT_FALSE(document.is_error());
    VmChanges changes;
    FieldError field;
    ASSERT_FALSE(parse_vm_changes(document.value().root(), "web", changes, field).is_error());
    ASSERT_TRUE(changes.vmbus.has_value());
    EXPECT_FALSE(*changes.vmbus);
    EXPECT_FALSE(changes.memory_bytes.has_value());
}

} // namespace
