// Every VhdHost call through the whole wire: RemoteVhdHost -> LoopbackTransport ->
// serve_management_call -> FakeVhdHost and back, including list bounds and a core without
// storage.
#include "tests/unit/mgmt_wire_fake_hosts.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace halcyon;
using namespace halcyon::mgmt;
using namespace halcyon::mgmt::wire;
using namespace halcyon::mgmt::wire::testing;

template <size_t N>
FixedString<N> text(std::string_view value) {
    FixedString<N> out;
    EXPECT_TRUE(out.assign(value));
    return out;
}

VhdInfo full_vhd(uint32_t attachments) {
    VhdInfo info;
    info.path = text<kFilePathMax>("ds:/vms/web/disk0.vhdx");
    info.type = VhdType::differencing;
    info.size_bytes = 64ULL << 40;
    info.file_size_bytes = 0xFEDCBA987654321ULL;
    info.block_size_bytes = 256u << 20;
    info.logical_sector_bytes = 4096;
    info.physical_sector_bytes = 512;
    info.blocks = 1ULL << 33;
    info.allocated_blocks = (1ULL << 33) - 3;
    info.disk_id = text<36>("01234567-89ab-cdef-0123-456789abcdef");
    info.attachment_count = attachments;
    for (uint32_t i = 0; i < kVhdAttachmentsMax && i < attachments; ++i) {
        info.attachments[i].vm = text<kVmNameMax>("vm" + std::to_string(i));
        info.attachments[i].lun = 60 + i;
        info.attachments[i].read_only = i == 1;
        info.attachments[i].online = i == 2;
    }
    return info;
}

void expect_same(const VhdInfo& a, const VhdInfo& b) {
    EXPECT_EQ(a.path.view(), b.path.view());
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.size_bytes, b.size_bytes);
    EXPECT_EQ(a.file_size_bytes, b.file_size_bytes);
    EXPECT_EQ(a.block_size_bytes, b.block_size_bytes);
    EXPECT_EQ(a.logical_sector_bytes, b.logical_sector_bytes);
    EXPECT_EQ(a.physical_sector_bytes, b.physical_sector_bytes);
    EXPECT_EQ(a.blocks, b.blocks);
    EXPECT_EQ(a.allocated_blocks, b.allocated_blocks);
    EXPECT_EQ(a.disk_id.view(), b.disk_id.view());
    ASSERT_EQ(a.attachment_count, b.attachment_count);
    for (uint32_t i = 0; i < a.attachment_count && i < kVhdAttachmentsMax; ++i) {
        EXPECT_EQ(a.attachments[i].vm.view(), b.attachments[i].vm.view());
        EXPECT_EQ(a.attachments[i].lun, b.attachments[i].lun);
        EXPECT_EQ(a.attachments[i].read_only, b.attachments[i].read_only);
        EXPECT_EQ(a.attachments[i].online, b.attachments[i].online);
    }
}

class MgmtWireVhd : public ::testing::Test {
protected:
    FakeVmHost fake_vms;
    FakeVhdHost fake;
    LoopbackTransport transport{fake_vms, &fake};
    TestChannel channel{transport};
    RemoteVhdHost remote{channel.channel};
};

TEST_F(MgmtWireVhd, CreateCarriesTheSpecAndAnswersTheInfo) {
    fake.info = full_vhd(3);
    VhdSpec spec;
    spec.path = text<kFilePathMax>("ds:/new.vhdx");
    spec.size_bytes = 10ULL << 30;
    spec.type = VhdType::fixed;
    spec.block_size_bytes = 1u << 20;
    spec.logical_sector_bytes = 4096;
    spec.physical_sector_bytes = 512;
    ErrorOr<VhdInfo> info = remote.create_vhd(spec);
    ASSERT_FALSE(info.is_error()) << info.error().message();
    expect_same(info.value(), fake.info);
    EXPECT_EQ(fake.created.path.view(), "ds:/new.vhdx");
    EXPECT_EQ(fake.created.size_bytes, 10ULL << 30);
    EXPECT_EQ(fake.created.type, VhdType::fixed);
    EXPECT_EQ(fake.created.block_size_bytes, 1u << 20);
    EXPECT_EQ(fake.created.logical_sector_bytes, 4096u);
    EXPECT_EQ(fake.created.physical_sector_bytes, 512u);
}

TEST_F(MgmtWireVhd, AttachmentCountPastTheArrayTravelsAsItIs) {
    fake.info = full_vhd(9); // nine VMs name the file, four are listed
    ErrorOr<VhdInfo> info = remote.get_vhd("ds:/vms/web/disk0.vhdx");
    ASSERT_FALSE(info.is_error()) << info.error().message();
    expect_same(info.value(), fake.info);
    EXPECT_EQ(fake.last().path, "ds:/vms/web/disk0.vhdx");
    fake.info = full_vhd(0);
    auto info2 = remote.resize_vhd("ds:/a.vhdx", 123ULL << 20);
    ASSERT_FALSE(info2.is_error());
    expect_same(info2.value(), fake.info);
    EXPECT_EQ(fake.last().number, 123ULL << 20);
}

TEST_F(MgmtWireVhd, DriveListsRespectTheCallersSpan) {
    for (uint32_t i = 0; i < 5; ++i) {
        VmHardDiskDrive drive;
        drive.lun = i * 3;
        drive.path = text<kFilePathMax>("ds:/d" + std::to_string(i) + ".vhdx");
        drive.read_only = i == 4;
        drive.online = i % 2 == 0;
        fake.drives.push_back(drive);
    }
    VmHardDiskDrive out[kVmDisksMax];
    ErrorOr<uint32_t> total = remote.vm_disks("web", out);
    ASSERT_FALSE(total.is_error()) << total.error().message();
    EXPECT_EQ(total.value(), 5u);
    EXPECT_EQ(fake.last().name, "web");
    EXPECT_EQ(fake.last().out_size, kVmDisksMax);
    for (uint32_t i = 0; i < 5; ++i) {
        EXPECT_EQ(out[i].lun, fake.drives[i].lun);
        EXPECT_EQ(out[i].path.view(), fake.drives[i].path.view());
        EXPECT_EQ(out[i].read_only, fake.drives[i].read_only);
        EXPECT_EQ(out[i].online, fake.drives[i].online);
    }
    // A short span: the total still says how many there are; only two are written.
    VmHardDiskDrive two[3];
    two[2].lun = 999;
    auto total2 = remote.vm_disks("web", std::span(two, 2));
    ASSERT_FALSE(total2.is_error());
    EXPECT_EQ(total2.value(), 5u);
    EXPECT_EQ(two[1].lun, 3u);
    EXPECT_EQ(two[2].lun, 999u);
    // A huge span asks for kWireDrivesMax at most.
    std::vector<VmHardDiskDrive> many(100);
    auto total3 = remote.vm_disks("web", many);
    ASSERT_FALSE(total3.is_error());
    EXPECT_EQ(fake.last().out_size, kWireDrivesMax);
}

TEST_F(MgmtWireVhd, AddAndRemoveDisks) {
    fake.added.lun = 7;
    fake.added.path = text<kFilePathMax>("ds:/x.vhdx");
    fake.added.read_only = true;
    fake.added.online = true;
    ErrorOr<VmHardDiskDrive> drive = remote.add_vm_disk("web", "ds:/x.vhdx", true);
    ASSERT_FALSE(drive.is_error()) << drive.error().message();
    EXPECT_EQ(drive.value().lun, 7u);
    EXPECT_EQ(drive.value().path.view(), "ds:/x.vhdx");
    EXPECT_TRUE(drive.value().read_only);
    EXPECT_TRUE(drive.value().online);
    EXPECT_EQ(fake.last().name, "web");
    EXPECT_EQ(fake.last().path, "ds:/x.vhdx");
    EXPECT_TRUE(fake.last().flag);
    ASSERT_FALSE(remote.add_vm_disk("web", "ds:/y.vhdx", false).is_error());
    EXPECT_FALSE(fake.last().flag);

    ASSERT_FALSE(remote.remove_vm_disk("web", 63).is_error());
    EXPECT_EQ(fake.last().method, "remove_vm_disk");
    EXPECT_EQ(fake.last().number, 63u);
    fake.fail_with(ErrorCode::not_found, "web has no disk at LUN 63");
    ErrorOr<void> removed = remote.remove_vm_disk("web", 63);
    ASSERT_TRUE(removed.is_error());
    EXPECT_EQ(removed.error().code(), ErrorCode::not_found);
    EXPECT_STREQ(removed.error().message(), "web has no disk at LUN 63");
}

TEST_F(MgmtWireVhd, IntegrationServicesSurvive) {
    const IntegrationStatus statuses[] = {
        IntegrationStatus::vm_off, IntegrationStatus::ok, IntegrationStatus::no_contact,
        IntegrationStatus::lost_communication, IntegrationStatus::protocol_mismatch};
    for (uint32_t i = 0; i < 5; ++i) {
        IntegrationService service;
        service.name = text<47>("Service " + std::to_string(i));
        service.enabled = i != 3;
        service.status = statuses[i];
        service.version_major = uint16_t(i + 1);
        service.version_minor = uint16_t(65535 - i);
        service.detail = text<31>("detail" + std::to_string(i));
        fake.services.push_back(service);
    }
    IntegrationService out[kIntegrationServicesMax];
    ErrorOr<uint32_t> count = remote.integration_services("web", out);
    ASSERT_FALSE(count.is_error()) << count.error().message();
    ASSERT_EQ(count.value(), 5u);
    for (uint32_t i = 0; i < 5; ++i) {
        EXPECT_EQ(out[i].name.view(), fake.services[i].name.view());
        EXPECT_EQ(out[i].enabled, fake.services[i].enabled);
        EXPECT_EQ(out[i].status, fake.services[i].status);
        EXPECT_EQ(out[i].version_major, fake.services[i].version_major);
        EXPECT_EQ(out[i].version_minor, fake.services[i].version_minor);
        EXPECT_EQ(out[i].detail.view(), fake.services[i].detail.view());
    }
    // A host claiming more than it was given room for is refused by the core.
    fake.services_count = 40;
    auto count2 = remote.integration_services("web", out);
    ASSERT_TRUE(count2.is_error());
    EXPECT_EQ(count2.error().code(), ErrorCode::io);
}

TEST(MgmtWireNoStorage, VhdCallsAreNotSupported) {
    FakeVmHost vms;
    LoopbackTransport transport(vms, nullptr);
    TestChannel channel(transport);
    RemoteVhdHost remote(channel.channel);
    ErrorOr<VhdInfo> info = remote.get_vhd("ds:/a.vhdx");
    ASSERT_TRUE(info.is_error());
    EXPECT_EQ(info.error().code(), ErrorCode::not_supported);
    EXPECT_STREQ(info.error().message(),
                 "this host serves no storage or integration-service verbs");
    // The VM verbs still work on the same channel.
    RemoteVmHost remote_vms(channel.channel);
    EXPECT_FALSE(remote_vms.start_vm("web").is_error());
}

} // namespace
