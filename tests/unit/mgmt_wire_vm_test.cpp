// Every VmHost call through the whole wire: RemoteVmHost -> LoopbackTransport ->
// serve_management_call -> FakeVmHost and back. Each field of each argument and result must
// survive, errors must keep their code and message, long writes are split, stream reads honour
// the caller's span.
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

VmSpec full_spec(std::string_view name) {
    VmSpec spec;
    spec.name = text<kVmNameMax>(name);
    spec.memory_bytes = 3ULL << 30;
    spec.vcpus = 7;
    spec.kernel = text<kFilePathMax>("kernels/vmlinuz-6.1");
    spec.initrd = text<kFilePathMax>("kernels/initrd.img");
    spec.command_line = text<kCommandLineMax>(std::string(kCommandLineMax - 9, 'x') + "\tquiet=1");
    spec.disk_count = kVmDisksMax;
    for (uint32_t i = 0; i < kVmDisksMax; ++i) {
        spec.disks[i].path = text<kFilePathMax>("ds:/vms/disk" + std::to_string(i) + ".vhdx");
        spec.disks[i].read_only = i % 2 == 1;
    }
    spec.vmbus = false;
    return spec;
}

VmInfo full_info(std::string_view name) {
    VmInfo info;
    info.spec = full_spec(name);
    info.state = VmState::crashed;
    info.uptime_ms = 0x0123456789ABCDEFULL;
    info.guest.heartbeat = text<31>("OkApplicationsUnknown");
    info.guest.computer_name = text<255>(std::string(255, 'c'));
    info.guest.ipv4_addresses = text<255>("10.0.0.2;192.168.1.7");
    info.guest.ipv6_addresses = text<255>("fe80::1;2001:db8::7");
    info.status = text<127>("triple fault");
    return info;
}

void expect_same(const VmSpec& a, const VmSpec& b) {
    EXPECT_EQ(a.name.view(), b.name.view());
    EXPECT_EQ(a.memory_bytes, b.memory_bytes);
    EXPECT_EQ(a.vcpus, b.vcpus);
    EXPECT_EQ(a.kernel.view(), b.kernel.view());
    EXPECT_EQ(a.initrd.view(), b.initrd.view());
    EXPECT_EQ(a.command_line.view(), b.command_line.view());
    ASSERT_EQ(a.disk_count, b.disk_count);
    for (uint32_t i = 0; i < a.disk_count; ++i) {
        EXPECT_EQ(a.disks[i].path.view(), b.disks[i].path.view());
        EXPECT_EQ(a.disks[i].read_only, b.disks[i].read_only);
    }
    EXPECT_EQ(a.vmbus, b.vmbus);
}

void expect_same(const VmInfo& a, const VmInfo& b) {
    expect_same(a.spec, b.spec);
    EXPECT_EQ(a.state, b.state);
    EXPECT_EQ(a.uptime_ms, b.uptime_ms);
    EXPECT_EQ(a.guest.heartbeat.view(), b.guest.heartbeat.view());
    EXPECT_EQ(a.guest.computer_name.view(), b.guest.computer_name.view());
    EXPECT_EQ(a.guest.ipv4_addresses.view(), b.guest.ipv4_addresses.view());
    EXPECT_EQ(a.guest.ipv6_addresses.view(), b.guest.ipv6_addresses.view());
    EXPECT_EQ(a.status.view(), b.status.view());
}

class MgmtWireVm : public ::testing::Test {
protected:
    FakeVmHost fake;
    FakeVhdHost fake_vhds;
    LoopbackTransport transport{fake, &fake_vhds};
    TestChannel channel{transport};
    RemoteVmHost remote{channel.channel};
};

TEST_F(MgmtWireVm, HostInfoSurvives) {
    fake.host.name = text<63>("rack7-host");
    fake.host.version = text<31>("0.5.0-dev");
    fake.host.logical_processors = 96;
    fake.host.memory_bytes = 1ULL << 40;
    fake.host.memory_free_bytes = (1ULL << 40) - 12345;
    fake.host.uptime_ms = 987654321;
    fake.host.virtualization = text<15>("vmx");
    ErrorOr<HostInfo> info = remote.host_info();
    ASSERT_FALSE(info.is_error()) << info.error().message();
    EXPECT_EQ(info.value().name.view(), "rack7-host");
    EXPECT_EQ(info.value().version.view(), "0.5.0-dev");
    EXPECT_EQ(info.value().logical_processors, 96u);
    EXPECT_EQ(info.value().memory_bytes, 1ULL << 40);
    EXPECT_EQ(info.value().memory_free_bytes, (1ULL << 40) - 12345);
    EXPECT_EQ(info.value().uptime_ms, 987654321u);
    EXPECT_EQ(info.value().virtualization.view(), "vmx");
}

TEST_F(MgmtWireVm, VmListingSurvives) {
    fake.vms = {full_info("alpha"), full_info("beta_2")};
    fake.vms[1].state = VmState::running;
    fake.vms[1].spec.disk_count = 0;
    fake.vms[1].spec.initrd = {};
    EXPECT_EQ(remote.vm_count(), 2u);
    for (uint32_t i = 0; i < 2; ++i) {
        ErrorOr<VmInfo> vm = remote.vm_at(i);
        ASSERT_FALSE(vm.is_error()) << vm.error().message();
        expect_same(vm.value(), fake.vms[i]);
        EXPECT_EQ(fake.last().number, i);
    }
    ErrorOr<VmInfo> past = remote.vm_at(2);
    ASSERT_TRUE(past.is_error());
    EXPECT_EQ(past.error().code(), ErrorCode::not_found);
    EXPECT_STREQ(past.error().message(), "no VM at that index");

    ErrorOr<VmInfo> found = remote.find_vm("beta_2");
    ASSERT_FALSE(found.is_error());
    expect_same(found.value(), fake.vms[1]);
    EXPECT_EQ(fake.last().name, "beta_2");
}

TEST_F(MgmtWireVm, CreateAndSetCarryEveryField) {
    VmSpec spec = full_spec("new-vm");
    ASSERT_FALSE(remote.create_vm(spec).is_error());
    expect_same(fake.created, spec);

    VmChanges changes;
    changes.memory_bytes = 64ULL << 20;
    changes.vcpus = 64;
    changes.kernel = text<kFilePathMax>("k2");
    changes.initrd = FilePath{}; // present and empty: drop the initrd
    changes.command_line = text<kCommandLineMax>("console=ttyS0");
    changes.disks_present = true;
    changes.disk_count = 2;
    changes.disks[0].path = text<kFilePathMax>("ds:/a.vhdx");
    changes.disks[1].path = text<kFilePathMax>("ds:/b.vhdx");
    changes.disks[1].read_only = true;
    changes.vmbus = false;
    ASSERT_FALSE(remote.set_vm("new-vm", changes).is_error());
    const VmChanges& got = fake.changed;
    EXPECT_EQ(fake.last().name, "new-vm");
    EXPECT_EQ(got.memory_bytes, changes.memory_bytes);
    EXPECT_EQ(got.vcpus, changes.vcpus);
    ASSERT_TRUE(got.kernel && got.initrd && got.command_line && got.vmbus);
    EXPECT_EQ(got.kernel->view(), "k2");
    EXPECT_TRUE(got.initrd->empty());
    EXPECT_EQ(got.command_line->view(), "console=ttyS0");
    EXPECT_TRUE(got.disks_present);
    ASSERT_EQ(got.disk_count, 2u);
    EXPECT_EQ(got.disks[1].path.view(), "ds:/b.vhdx");
    EXPECT_TRUE(got.disks[1].read_only);
    EXPECT_FALSE(got.disks[0].read_only);
    EXPECT_EQ(*got.vmbus, false);

    // Absent fields stay absent.
    ASSERT_FALSE(remote.set_vm("new-vm", VmChanges{}).is_error());
    EXPECT_FALSE(fake.changed.memory_bytes || fake.changed.vcpus || fake.changed.kernel ||
                 fake.changed.initrd || fake.changed.command_line || fake.changed.vmbus ||
                 fake.changed.disks_present);
}

TEST_F(MgmtWireVm, StateChangesReachTheHost) {
    ASSERT_FALSE(remote.start_vm("a").is_error());
    EXPECT_EQ(fake.last().method, "start_vm");
    ASSERT_FALSE(remote.restart_vm("b").is_error());
    EXPECT_EQ(fake.last().method, "restart_vm");
    ASSERT_FALSE(remote.suspend_vm("c").is_error());
    EXPECT_EQ(fake.last().method, "suspend_vm");
    ASSERT_FALSE(remote.resume_vm("d").is_error());
    EXPECT_EQ(fake.last().method, "resume_vm");
    ASSERT_FALSE(remote.remove_vm("e").is_error());
    EXPECT_EQ(fake.last().method, "remove_vm");
    EXPECT_EQ(fake.last().name, "e");
    for (StopMode mode : {StopMode::graceful, StopMode::force, StopMode::turn_off}) {
        ASSERT_FALSE(remote.stop_vm("f", mode).is_error());
        EXPECT_EQ(fake.last().method, "stop_vm");
        EXPECT_EQ(fake.last().mode, mode);
    }
}

TEST_F(MgmtWireVm, ErrorsKeepCodeAndMessage) {
    const ErrorCode codes[] = {ErrorCode::invalid_argument,
                               ErrorCode::out_of_range,
                               ErrorCode::out_of_memory,
                               ErrorCode::not_found,
                               ErrorCode::not_supported,
                               ErrorCode::corrupt,
                               ErrorCode::io,
                               ErrorCode::busy,
                               ErrorCode::timeout,
                               ErrorCode::permission,
                               ErrorCode::already_exists};
    for (ErrorCode code : codes) {
        std::string message = std::string("the VM is ") + error_code_name(code);
        fake.fail_with(code, message);
        ErrorOr<void> result = remote.start_vm("web");
        ASSERT_TRUE(result.is_error());
        EXPECT_EQ(result.error().code(), code);
        EXPECT_EQ(std::string(result.error().message()), message);
    }
    // A message longer than the wire carries is cut, not dropped.
    fake.fail_with(ErrorCode::busy, std::string(2000, 'm'));
    ErrorOr<VmInfo> result = remote.find_vm("web");
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(std::string(result.error().message()), std::string(kErrorMessageMax, 'm'));
    // vm_count has no error: a failed call counts as none.
    fake.succeed();
    fake.vms = {full_info("x")};
    transport.transport_error = Error(ErrorCode::timeout, "hypercall refused");
    EXPECT_EQ(remote.vm_count(), 0u);
}

TEST_F(MgmtWireVm, TransportFailureIsIo) {
    transport.transport_error = Error(ErrorCode::permission, "access denied (status 6)");
    ErrorOr<HostInfo> info = remote.host_info();
    ASSERT_TRUE(info.is_error());
    EXPECT_EQ(info.error().code(), ErrorCode::io);
    EXPECT_EQ(std::string(info.error().message()),
              "the management call to the core failed: access denied (status 6)");
    EXPECT_TRUE(fake.calls.empty());
}

TEST_F(MgmtWireVm, TooLongArgumentsAreRefusedBeforeSending) {
    ErrorOr<void> result = remote.start_vm(std::string(kVmNameMax + 1, 'a'));
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::invalid_argument);
    ErrorOr<FileStatus> file = remote.write_file(std::string(kFilePathMax + 1, 'p'), 0, 1, {});
    ASSERT_TRUE(file.is_error());
    EXPECT_EQ(file.error().code(), ErrorCode::invalid_argument);
    EXPECT_TRUE(transport.requests.empty());
}

TEST_F(MgmtWireVm, LogReadsHonourTheSpan) {
    for (int i = 0; i < 5000; ++i)
        fake.log += "line " + std::to_string(i) + "\n";
    fake.log_base = 1000; // older bytes dropped out of the ring
    char small[10];
    ErrorOr<StreamRead> read = remote.read_log(0, small);
    ASSERT_FALSE(read.is_error()) << read.error().message();
    EXPECT_EQ(read.value().first, 1000u);
    EXPECT_EQ(read.value().next, 1010u);
    EXPECT_EQ(read.value().length, 10u);
    EXPECT_EQ(std::string(small, 10), fake.log.substr(0, 10));
    EXPECT_EQ(fake.last().out_size, 10u);

    std::vector<char> big(fake.log.size() + 100);
    auto read2 = remote.read_log(1500, big);
    ASSERT_FALSE(read2.is_error());
    EXPECT_EQ(read2.value().first, 1500u);
    EXPECT_EQ(read2.value().length, fake.log.size() - 500);
    EXPECT_EQ(read2.value().next, 1000 + fake.log.size());
    EXPECT_EQ(std::string(big.data(), read2.value().length), fake.log.substr(500));

    // Past the end: nothing, first = next = the end.
    auto read3 = remote.read_log(1ULL << 40, big);
    ASSERT_FALSE(read3.is_error());
    EXPECT_EQ(read3.value().length, 0u);
    EXPECT_EQ(read3.value().first, 1000 + fake.log.size());
    EXPECT_EQ(read3.value().next, read3.value().first);
}

TEST_F(MgmtWireVm, StreamReadsAreCappedToWhatAMessageHolds) {
    fake.console = std::string(200 * 1024, 'z');
    fake.console[kStreamDataMax - 1] = 'L';
    std::vector<char> out(fake.console.size());
    ErrorOr<StreamRead> read = remote.read_console("web", 0, out);
    ASSERT_FALSE(read.is_error()) << read.error().message();
    EXPECT_EQ(read.value().length, kStreamDataMax);
    EXPECT_EQ(read.value().next, kStreamDataMax);
    EXPECT_EQ(out[kStreamDataMax - 1], 'L');
    EXPECT_EQ(fake.last().name, "web");
    EXPECT_EQ(fake.last().out_size, kStreamDataMax);
    // Continue where it stopped.
    auto read2 = remote.read_console("web", read.value().next, out);
    ASSERT_FALSE(read2.is_error());
    EXPECT_EQ(read2.value().first, kStreamDataMax);
    EXPECT_EQ(read2.value().length, fake.console.size() - kStreamDataMax);
}

TEST_F(MgmtWireVm, ConsoleInputIsSplitAndPartialQueuesStop) {
    std::vector<uint8_t> input(150 * 1024);
    for (size_t i = 0; i < input.size(); ++i)
        input[i] = uint8_t(i * 7);
    ErrorOr<size_t> queued = remote.write_console("web", input);
    ASSERT_FALSE(queued.is_error());
    EXPECT_EQ(queued.value(), input.size());
    EXPECT_EQ(fake.console_input, input);
    EXPECT_EQ(transport.requests.size(), 3u); // 64 KiB + 64 KiB + 22 KiB

    // The queue fills in the second chunk: the third is not sent.
    fake.console_input.clear();
    fake.console_room = kWireDataMax + 100;
    transport.requests.clear();
    auto queued2 = remote.write_console("web", input);
    ASSERT_FALSE(queued2.is_error());
    EXPECT_EQ(queued2.value(), kWireDataMax + 100);
    EXPECT_EQ(transport.requests.size(), 2u);
    EXPECT_TRUE(std::equal(fake.console_input.begin(), fake.console_input.end(), input.begin()));
}

TEST_F(MgmtWireVm, FileChunksArriveAtTheirOffsets) {
    std::vector<uint8_t> data(200 * 1024);
    for (size_t i = 0; i < data.size(); ++i)
        data[i] = uint8_t(i ^ (i >> 8));
    const uint64_t total = 1000 + data.size();
    ErrorOr<FileStatus> status = remote.write_file("kernels/bzImage", 1000, total, data);
    ASSERT_FALSE(status.is_error()) << status.error().message();
    EXPECT_EQ(status.value().size, total);
    EXPECT_EQ(status.value().received, data.size());
    ASSERT_EQ(fake.file.size(), total);
    EXPECT_TRUE(std::equal(data.begin(), data.end(), fake.file.begin() + 1000));
    ASSERT_EQ(fake.calls.size(), 4u); // 64 + 64 + 64 + 8 KiB
    for (size_t i = 0; i < fake.calls.size(); ++i) {
        EXPECT_EQ(fake.calls[i].path, "kernels/bzImage");
        EXPECT_EQ(fake.calls[i].number, 1000 + i * kWireDataMax);
        EXPECT_EQ(fake.calls[i].total, total);
    }
    // An empty write still reaches the host (it may start a file over).
    auto status2 = remote.write_file("kernels/empty", 0, 0, {});
    ASSERT_FALSE(status2.is_error());
    EXPECT_EQ(fake.last().path, "kernels/empty");
    // Errors of a chunk stop the upload and come back as they are.
    fake.fail_with(ErrorCode::out_of_memory, "the datastore is full");
    auto status3 = remote.write_file("kernels/x", 0, data.size(), data);
    ASSERT_TRUE(status3.is_error());
    EXPECT_EQ(status3.error().code(), ErrorCode::out_of_memory);
    EXPECT_STREQ(status3.error().message(), "the datastore is full");
}

} // namespace
