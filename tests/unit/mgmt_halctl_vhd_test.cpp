// halctl's storage and integration-service verbs without a server: their parameters, the
// request bodies and targets they send, and how answers are shown.
#include "mgmt/halctl/arguments.hpp"
#include "mgmt/halctl/commands.hpp"
#include "mgmt/halctl/output.hpp"
#include "mgmt/halctl/vhd_verbs.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace {

using namespace halcyon::halctl;

Invocation parse(std::vector<std::string> arguments) {
    ParseResult result = parse_arguments(arguments);
    EXPECT_TRUE(result.invocation) << result.error;
    return result.invocation.value_or(Invocation{});
}

TEST(HalctlVhd, VerbsAreListedBeforeCompletionAndHelp) {
    std::vector<std::string> names;
    for (const VerbSpec& spec : verb_specs())
        names.push_back(spec.name);
    auto position = [&](const char* name) {
        return std::find(names.begin(), names.end(), name) - names.begin();
    };
    for (const char* verb :
         {"New-VHD", "Get-VHD", "Resize-VHD", "Get-VMHardDiskDrive", "Add-VMHardDiskDrive",
          "Remove-VMHardDiskDrive", "Get-VMIntegrationService"}) {
        EXPECT_LT(position(verb), position("completion")) << verb;
        EXPECT_NE(help_text(verb).find(verb), std::string::npos);
    }
    EXPECT_EQ(names.back(), "help");
    EXPECT_NE(bash_completion_script().find("add-vmharddiskdrive) params=\"-VMName -Path "
                                            "-ReadOnly -Passthru \""),
              std::string::npos);
}

TEST(HalctlVhd, NewVhdBody) {
    std::string error;
    Invocation dynamic = parse({"new-vhd", "ds:/vms/web/disk.vhdx", "-SizeBytes", "64MB"});
    EXPECT_EQ(dynamic.verb, Verb::new_vhd);
    EXPECT_EQ(new_vhd_body(dynamic, error),
              R"({"path":"ds:/vms/web/disk.vhdx","size_bytes":67108864,"type":"dynamic"})");
    EXPECT_EQ(error, "");
    Invocation fixed =
        parse({"New-VHD", "-Path", "a.vhdx", "-Size", "1GB", "-Fixed", "-BlockSizeBytes", "1MB",
               "-LogicalSectorSizeBytes", "4096", "-PhysicalSectorSizeBytes", "4096"});
    EXPECT_EQ(new_vhd_body(fixed, error),
              R"({"path":"a.vhdx","size_bytes":1073741824,"type":"fixed",)"
              R"("block_size_bytes":1048576,"logical_sector_bytes":4096,)"
              R"("physical_sector_bytes":4096})");
    Invocation both = parse({"New-VHD", "a.vhdx", "-SizeBytes", "1GB", "-Fixed", "-Dynamic"});
    EXPECT_EQ(new_vhd_body(both, error), "");
    EXPECT_EQ(error, "-Dynamic and -Fixed exclude each other");
    error.clear();
    Invocation bad = parse({"New-VHD", "a.vhdx", "-SizeBytes", "lots"});
    EXPECT_EQ(new_vhd_body(bad, error), "");
    EXPECT_EQ(error, "-SizeBytes must be a size like 64MB or 20GB");
    EXPECT_EQ(parse_arguments({"New-VHD", "a.vhdx"}).error, "New-VHD needs -SizeBytes");
}

TEST(HalctlVhd, TargetsAndOtherBodies) {
    EXPECT_EQ(vhd_target("ds:/vms/web/disk 1.vhdx"), "/v1/vhds/vms/web/disk%201.vhdx");
    EXPECT_EQ(vhd_target("ds:vms/a.vhdx"), "/v1/vhds/vms/a.vhdx");
    EXPECT_EQ(vhd_target("vms/a.vhdx"), "/v1/vhds/vms/a.vhdx");
    std::string error;
    Invocation resize = parse({"Resize-VHD", "ds:/a.vhdx", "-SizeBytes", "96MB", "-Passthru"});
    EXPECT_EQ(resize_vhd_body(resize, error), R"({"size_bytes":100663296})");
    Invocation add = parse({"Add-VMHardDiskDrive", "web", "-Path", "ds:/b.vhdx", "-ReadOnly"});
    EXPECT_EQ(add.value("VMName"), "web");
    EXPECT_EQ(add_drive_body(add), R"({"path":"ds:/b.vhdx","read_only":true})");
    EXPECT_EQ(parse_arguments({"Add-VMHardDiskDrive", "web"}).error,
              "Add-VMHardDiskDrive needs -Path");
    Invocation remove = parse({"Remove-VMHardDiskDrive", "-VMName", "web", "-ControllerLoc", "1"});
    EXPECT_EQ(remove.value("ControllerLocation"), "1");
    Invocation services = parse({"Get-VMIntegrationService", "web", "-Name", "heartbeat"});
    EXPECT_EQ(services.value("VMName"), "web");
    EXPECT_EQ(services.value("Name"), "heartbeat");
}

TEST(HalctlVhd, Output) {
    auto vhd = JsonBody::parse(
        R"({"path":"ds:/vms/web/disk.vhdx","type":"Dynamic","size_bytes":67108864,)"
        R"("file_size_bytes":4194304,"block_size_bytes":33554432,"logical_sector_bytes":512,)"
        R"("physical_sector_bytes":4096,"blocks":2,"allocated_blocks":1,"disk_id":"x",)"
        R"("attached":true,"attachments":[{"vm":"web","lun":0,"read_only":false,)"
        R"("online":true},{"vm":"db","lun":3,"read_only":true,"online":false}]})");
    ASSERT_TRUE(vhd);
    std::string text = format_vhd(vhd->root());
    EXPECT_NE(text.find("VhdType            : Dynamic\n"), std::string::npos) << text;
    EXPECT_NE(text.find("Size               : 67108864\n"), std::string::npos) << text;
    EXPECT_NE(text.find("AllocatedBlocks    : 1 of 2\n"), std::string::npos) << text;
    EXPECT_NE(text.find("AttachedTo         : web (LUN 0, online), db (LUN 3, read-only)\n"),
              std::string::npos)
        << text;

    auto drives = JsonBody::parse(
        R"({"disks":[{"vm":"web","controller_type":"SCSI","lun":1,"path":"ds:/b.vhdx",)"
        R"("read_only":false,"online":true}]})");
    ASSERT_TRUE(drives);
    EXPECT_EQ(format_drive_table({*drives->root().member("disks")->element(0)}),
              "VMName ControllerType ControllerLocation Path       ReadOnly Online\n"
              "------ -------------- ------------------ ----       -------- ------\n"
              "web    SCSI                            1 ds:/b.vhdx False    True\n");

    auto services = JsonBody::parse(
        R"({"services":[{"vm":"web","name":"Heartbeat","enabled":true,"status":"OK",)"
        R"("version":"3.0","detail":"OkApplicationsHealthy"}]})");
    ASSERT_TRUE(services);
    {
        halcyon::mgmt::JsonValue service = *services->root().member("services")->element(0);
        EXPECT_EQ(service.raw().substr(0, 12), R"({"vm":"web",)"); // -Json -Name prints this
        EXPECT_EQ(format_integration_table({service}),
                  "VMName Name      Enabled PrimaryStatusDescription Version Detail\n"
                  "------ ----      ------- ------------------------ ------- ------\n"
                  "web    Heartbeat True    OK                       3.0     "
                  "OkApplicationsHealthy\n");
    }
}

} // namespace
