// The core's side of the wire against malformed requests (every one answered with an encoded
// error, never a crash, an out-of-bounds read or a host call) and the partition's side against
// malformed responses (every one an io error).
#include "mgmt/wire/codec.hpp"
#include "mgmt/wire/records.hpp"
#include "tests/unit/mgmt_wire_fake_hosts.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace {

using namespace halcyon;
using namespace halcyon::mgmt;
using namespace halcyon::mgmt::wire;
using namespace halcyon::mgmt::wire::testing;

using Bytes = std::vector<uint8_t>;

// A decoded answer of serve_management_call.
struct Answer {
    uint16_t opcode = 0;
    uint32_t sequence = 0;
    uint8_t status = 0xFF;
    ErrorCode code = ErrorCode::invalid_argument;
    std::string message;
};

Bytes message(Opcode opcode, const std::function<void(WireWriter&)>& fill, uint32_t seq = 5) {
    Bytes buffer(kManagementMessageMax);
    WireWriter writer = begin_message(buffer, uint16_t(opcode), seq);
    fill(writer);
    ErrorOr<size_t> length = end_message(writer, ErrorCode::invalid_argument);
    EXPECT_FALSE(length.is_error());
    buffer.resize(length.is_error() ? 0 : length.value());
    return buffer;
}

void set_payload_length(Bytes& bytes, uint32_t length) {
    for (int i = 0; i < 4; ++i)
        bytes[12 + i] = uint8_t(length >> (8 * i));
}

class MgmtWireMalformed : public ::testing::Test {
protected:
    MgmtWireMalformed() {
        fake.vms.push_back(VmInfo{});
        (void)fake.vms[0].spec.name.assign("web");
    }

    Answer serve(std::span<const uint8_t> request, size_t response_size = kManagementMessageMax) {
        Bytes response(response_size);
        ErrorOr<size_t> length = serve_management_call(fake, &fake_vhds, request, response);
        EXPECT_FALSE(length.is_error()) << length.error().message();
        Answer answer;
        if (length.is_error())
            return answer;
        MessageHeader header;
        EXPECT_FALSE(parse_header(std::span(response).first(length.value()), header).is_error());
        answer.opcode = header.opcode;
        answer.sequence = header.sequence;
        WireReader reader(std::span(response).subspan(kHeaderSize, length.value() - kHeaderSize));
        answer.status = reader.u8();
        if (answer.status == kStatusError) {
            answer.code = ErrorCode(reader.u16());
            answer.message = std::string(reader.string(kErrorMessageMax));
            EXPECT_FALSE(reader.finish().is_error());
        }
        return answer;
    }
    // Served as an error, the host untouched.
    void expect_refused(std::span<const uint8_t> request, const std::string& why = {},
                        ErrorCode code = ErrorCode::invalid_argument) {
        const size_t calls = fake.calls.size() + fake_vhds.calls.size();
        Answer answer = serve(request);
        EXPECT_EQ(answer.status, kStatusError);
        EXPECT_EQ(answer.code, code) << answer.message;
        if (!why.empty())
            EXPECT_NE(answer.message.find(why), std::string::npos) << answer.message;
        EXPECT_EQ(fake.calls.size() + fake_vhds.calls.size(), calls) << answer.message;
    }

    // One valid request per opcode, as the remote hosts write them.
    std::vector<Bytes> every_request() {
        FakeVmHost vms;
        FakeVhdHost vhds;
        LoopbackTransport transport(vms, &vhds);
        TestChannel channel(transport);
        RemoteVmHost remote(channel.channel);
        RemoteVhdHost remote_vhds(channel.channel);
        VmSpec spec;
        (void)spec.name.assign("web");
        (void)spec.kernel.assign("vmlinuz");
        spec.disk_count = 1;
        (void)spec.disks[0].path.assign("ds:/a.vhdx");
        VmChanges changes;
        changes.vcpus = 2;
        changes.kernel = FilePath{};
        (void)changes.kernel->assign("k");
        changes.disks_present = true;
        changes.vmbus = true;
        VhdSpec vhd;
        (void)vhd.path.assign("ds:/a.vhdx");
        char out[8];
        VmHardDiskDrive drives[2];
        IntegrationService services[2];
        const uint8_t data[3] = {1, 2, 3};
        (void)remote.host_info();
        (void)remote.vm_count();
        (void)remote.vm_at(0);
        (void)remote.find_vm("web");
        (void)remote.create_vm(spec);
        (void)remote.set_vm("web", changes);
        (void)remote.remove_vm("web");
        (void)remote.start_vm("web");
        (void)remote.stop_vm("web", StopMode::force);
        (void)remote.restart_vm("web");
        (void)remote.suspend_vm("web");
        (void)remote.resume_vm("web");
        (void)remote.read_log(0, out);
        (void)remote.read_console("web", 0, out);
        (void)remote.write_console("web", data);
        (void)remote.write_file("f", 0, 3, data);
        (void)remote_vhds.create_vhd(vhd);
        (void)remote_vhds.get_vhd("ds:/a.vhdx");
        (void)remote_vhds.resize_vhd("ds:/a.vhdx", 1 << 20);
        (void)remote_vhds.vm_disks("web", drives);
        (void)remote_vhds.add_vm_disk("web", "ds:/a.vhdx", true);
        (void)remote_vhds.remove_vm_disk("web", 1);
        (void)remote_vhds.integration_services("web", services);
        EXPECT_EQ(transport.requests.size(), 23u);
        return transport.requests;
    }

    FakeVmHost fake;
    FakeVhdHost fake_vhds;
};

TEST_F(MgmtWireMalformed, EveryValidRequestIsServed) {
    for (const Bytes& request : every_request()) {
        Answer answer = serve(request);
        EXPECT_EQ(answer.status, kStatusOk)
            << "opcode " << (request[6] | request[7] << 8) << ": " << answer.message;
        EXPECT_EQ(answer.opcode, (request[6] | request[7] << 8) | kResponseFlag);
        EXPECT_EQ(answer.sequence, uint32_t(request[8] | request[9] << 8));
    }
}

TEST_F(MgmtWireMalformed, TruncatedAtEveryByte) {
    for (const Bytes& request : every_request()) {
        for (size_t length = 0; length < request.size(); ++length) {
            // As cut: the header's payload length no longer matches.
            Bytes cut(request.begin(), request.begin() + long(length));
            expect_refused(cut);
            // With the payload length fixed up: the fields themselves run out.
            if (length >= kHeaderSize) {
                set_payload_length(cut, uint32_t(length - kHeaderSize));
                expect_refused(cut, "truncated");
            }
        }
    }
}

TEST_F(MgmtWireMalformed, TrailingBytesAndLengthMismatch) {
    for (const Bytes& request : every_request()) {
        Bytes longer = request;
        longer.push_back(0);
        expect_refused(longer, "payload length");
        set_payload_length(longer, uint32_t(longer.size() - kHeaderSize));
        expect_refused(longer, "bytes after the last field");
        Bytes lying = request;
        set_payload_length(lying, uint32_t(lying.size() - kHeaderSize + 1));
        expect_refused(lying, "payload length");
    }
}

TEST_F(MgmtWireMalformed, HeaderChecks) {
    Bytes request = message(Opcode::host_info, [](WireWriter&) {});
    for (uint16_t opcode : {0, 17, 31, 39, 0x8001, 0xFFFF}) {
        Bytes bad = request;
        bad[6] = uint8_t(opcode);
        bad[7] = uint8_t(opcode >> 8);
        expect_refused(bad, "unknown opcode");
    }
    Bytes magic = request;
    magic[0] ^= 1;
    expect_refused(magic, "bad magic");
    Bytes version = request;
    version[4] = 2;
    expect_refused(version, "unknown version", ErrorCode::not_supported);
    Bytes huge(kManagementMessageMax + 1);
    std::copy(request.begin(), request.end(), huge.begin());
    set_payload_length(huge, uint32_t(huge.size() - kHeaderSize));
    expect_refused(huge, "longer than");
    // The answer echoes the sequence number and flags the opcode.
    Answer answer = serve(message(
        Opcode::vm_count, [](WireWriter&) {}, 0xCAFEF00D));
    EXPECT_EQ(answer.status, kStatusOk);
    EXPECT_EQ(answer.sequence, 0xCAFEF00Du);
    EXPECT_EQ(answer.opcode, uint16_t(Opcode::vm_count) | kResponseFlag);
}

TEST_F(MgmtWireMalformed, BoolsEnumsStringsAndCounts) {
    auto name = [](WireWriter& w) { w.string(std::string_view("web"), 31, ""); };
    // Bools are 0 or 1.
    expect_refused(message(Opcode::add_vm_disk,
                           [&](WireWriter& w) {
                               name(w);
                               w.string(std::string_view("ds:/a.vhdx"), 111, "");
                               w.u8(2);
                           }),
                   "bool");
    Bytes changes = message(Opcode::set_vm, [&](WireWriter& w) {
        name(w);
        write_record(w, VmChanges{});
    });
    changes[kHeaderSize + 5] = 0x80; // the memory_bytes presence byte
    expect_refused(changes, "bool");
    // Enums in range.
    expect_refused(message(Opcode::stop_vm,
                           [&](WireWriter& w) {
                               name(w);
                               w.u8(3);
                           }),
                   "enumeration");
    VhdSpec vhd;
    (void)vhd.path.assign("ds:/a.vhdx");
    Bytes vhd_request = message(Opcode::create_vhd, [&](WireWriter& w) { write_record(w, vhd); });
    vhd_request[kHeaderSize + 2 + 10 + 8] = 3; // the type byte
    expect_refused(vhd_request, "enumeration");
    // Strings within their bound and without NUL.
    expect_refused(
        message(Opcode::find_vm, [&](WireWriter& w) { w.string(std::string(32, 'a'), 32, ""); }),
        "longer than its bound");
    expect_refused(message(Opcode::start_vm,
                           [&](WireWriter& w) { w.string(std::string("we\0b", 4), 31, ""); }),
                   "NUL");
    expect_refused(message(Opcode::write_file,
                           [&](WireWriter& w) {
                               w.string(std::string(112, 'p'), 112, "");
                               w.u64(0);
                               w.u64(0);
                               w.u32(0);
                           }),
                   "longer than its bound");
    // Counts within their arrays.
    VmSpec spec;
    (void)spec.name.assign("web");
    (void)spec.kernel.assign("k");
    spec.disk_count = kVmDisksMax + 1;
    expect_refused(message(Opcode::create_vm, [&](WireWriter& w) { write_record(w, spec); }),
                   "count exceeds");
    expect_refused(message(Opcode::vm_disks,
                           [&](WireWriter& w) {
                               name(w);
                               w.u32(kWireDrivesMax + 1);
                           }),
                   "count exceeds");
    expect_refused(message(Opcode::integration_services,
                           [&](WireWriter& w) {
                               name(w);
                               w.u32(0xFFFFFFFF);
                           }),
                   "count exceeds");
    // Data blocks and stream budgets within theirs.
    Bytes big(kWireDataMax + 1);
    expect_refused(message(Opcode::write_console,
                           [&](WireWriter& w) {
                               name(w);
                               w.bytes(big);
                           }),
                   "data block");
    expect_refused(message(Opcode::read_log,
                           [&](WireWriter& w) {
                               w.u64(0);
                               w.u32(uint32_t(kStreamDataMax + 1));
                           }),
                   "too many bytes");
    Bytes lying = message(Opcode::write_console, [&](WireWriter& w) {
        name(w);
        w.u32(0xFFFFFFF0); // a length far past the message
    });
    expect_refused(lying, "data block");
}

TEST_F(MgmtWireMalformed, SpecsOutsideTheApiRulesNeverReachTheHost) {
    VmSpec good;
    (void)good.name.assign("web");
    (void)good.kernel.assign("vmlinuz");
    Answer ok = serve(message(Opcode::create_vm, [&](WireWriter& w) { write_record(w, good); }));
    EXPECT_EQ(ok.status, kStatusOk) << ok.message;

    auto refused_spec = [&](const std::function<void(VmSpec&)>& spoil, const char* why) {
        VmSpec spec = good;
        spoil(spec);
        expect_refused(message(Opcode::create_vm, [&](WireWriter& w) { write_record(w, spec); }),
                       why);
    };
    refused_spec([](VmSpec& s) { s.vcpus = 0; }, "vcpus");
    refused_spec([](VmSpec& s) { s.vcpus = kVmVcpusMax + 1; }, "vcpus");
    refused_spec([](VmSpec& s) { s.memory_bytes = (256ULL << 20) + 1; }, "memory");
    refused_spec([](VmSpec& s) { s.memory_bytes = 0; }, "memory");
    refused_spec([](VmSpec& s) { (void)s.name.assign("a b"); }, "VM name");
    refused_spec([](VmSpec& s) { (void)s.name.assign(""); }, "VM name");
    refused_spec([](VmSpec& s) { (void)s.kernel.assign("../../core"); }, "file name");
    refused_spec([](VmSpec& s) { s.kernel = {}; }, "file name");
    refused_spec([](VmSpec& s) { (void)s.initrd.assign("/abs"); }, "file name");
    refused_spec([](VmSpec& s) { (void)s.command_line.assign("a\nb"); }, "command line");
    refused_spec(
        [](VmSpec& s) {
            s.disk_count = 1;
            (void)s.disks[0].path.assign("x\\y");
        },
        "file name");

    VmChanges changes;
    changes.memory_bytes = 1;
    expect_refused(message(Opcode::set_vm,
                           [&](WireWriter& w) {
                               w.string(std::string_view("web"), 31, "");
                               write_record(w, changes);
                           }),
                   "memory");
    expect_refused(message(Opcode::write_file,
                           [&](WireWriter& w) {
                               w.string(std::string_view("a/../../b"), 111, "");
                               w.u64(0);
                               w.u64(1);
                               w.u32(0);
                           }),
                   "file name");
    expect_refused(message(Opcode::write_file,
                           [&](WireWriter& w) {
                               w.string(std::string_view("a"), 111, "");
                               w.u64(UINT64_MAX);
                               w.u64(1);
                               w.bytes(Bytes(2));
                           }),
                   "largest file offset", ErrorCode::out_of_range);
    VhdSpec vhd;
    (void)vhd.path.assign("ds:/a.vhdx");
    vhd.type = VhdType::differencing;
    expect_refused(message(Opcode::create_vhd, [&](WireWriter& w) { write_record(w, vhd); }),
                   "fixed or dynamic");
}

TEST_F(MgmtWireMalformed, ResponseBufferBounds) {
    Bytes request = message(Opcode::vm_at, [](WireWriter& w) { w.u32(0); });
    Bytes tiny(kResponseMin - 1);
    EXPECT_TRUE(serve_management_call(fake, &fake_vhds, request, tiny).is_error());
    // Big enough for an error, too small for a VmInfo: an io error answer.
    (void)fake.vms[0].spec.command_line.assign(std::string(1000, 'c'));
    Answer answer = serve(request, kResponseMin);
    EXPECT_EQ(answer.status, kStatusError);
    EXPECT_EQ(answer.code, ErrorCode::io);
    EXPECT_NE(answer.message.find("does not fit"), std::string::npos);
    // A stream read is cut to the response buffer, not refused.
    fake.log = std::string(10000, 'l');
    Answer read = serve(message(Opcode::read_log,
                                [](WireWriter& w) {
                                    w.u64(0);
                                    w.u32(uint32_t(kStreamDataMax));
                                }),
                        kResponseMin);
    EXPECT_EQ(read.status, kStatusOk);
    EXPECT_EQ(fake.last().out_size, kResponseMin - kHeaderSize - 1 - 20);
}

// The partition's side: a response that does not decode is an io error naming the problem.
class MgmtWireBadResponse : public ::testing::Test {
protected:
    ErrorOr<VmInfo> find() { return remote.find_vm("web"); }
    void expect_malformed(const std::function<void(std::span<uint8_t>, size_t&)>& tamper,
                          const std::string& why) {
        transport.tamper = tamper;
        ErrorOr<VmInfo> result = find();
        ASSERT_TRUE(result.is_error());
        EXPECT_EQ(result.error().code(), ErrorCode::io);
        std::string message = result.error().message();
        EXPECT_EQ(message.rfind("malformed response from the core: ", 0), 0u) << message;
        EXPECT_NE(message.find(why), std::string::npos) << message;
    }

    MgmtWireBadResponse() {
        fake.vms.push_back(VmInfo{});
        (void)fake.vms[0].spec.name.assign("web");
    }

    FakeVmHost fake;
    LoopbackTransport transport{fake, nullptr};
    TestChannel channel{transport};
    RemoteVmHost remote{channel.channel};
};

TEST_F(MgmtWireBadResponse, EveryCorruptionIsCaught) {
    ASSERT_FALSE(find().is_error());
    expect_malformed([](std::span<uint8_t> r, size_t&) { r[kHeaderSize] = 7; }, "status");
    expect_malformed([](std::span<uint8_t> r, size_t&) { r[8] ^= 1; }, "sequence");
    expect_malformed([](std::span<uint8_t> r, size_t&) { r[6] ^= 1; }, "another operation");
    expect_malformed([](std::span<uint8_t> r, size_t&) { r[0] ^= 1; }, "magic");
    expect_malformed([](std::span<uint8_t>, size_t& n) { --n; }, "payload length");
    expect_malformed([](std::span<uint8_t>, size_t& n) { n = kManagementMessageMax + 1; },
                     "longer than");
    expect_malformed(
        [](std::span<uint8_t> r, size_t& n) {
            r[n++] = 0;
            r[12] += 1;
        },
        "bytes after the last field");
    // The VmSpec name's length prefix says 32: past VmName's bound.
    expect_malformed([](std::span<uint8_t> r, size_t&) { r[kHeaderSize + 1] = 32; },
                     "longer than its bound");
    // The state byte after the spec: VmState has six values.
    expect_malformed(
        [](std::span<uint8_t> r, size_t& n) {
            // name "web" (2+3), memory 8, vcpus 4, three empty strings 6, disk count 4, vmbus 1
            r[kHeaderSize + 1 + 5 + 8 + 4 + 6 + 4 + 1] = 6;
        },
        "enumeration");
    // An error answer with an unknown code.
    fake.fail_with(ErrorCode::busy, "busy");
    expect_malformed([](std::span<uint8_t> r, size_t&) { r[kHeaderSize + 1] = 99; },
                     "unknown error code");
    // Untampered, errors come through again.
    transport.tamper = nullptr;
    ErrorOr<VmInfo> busy = find();
    ASSERT_TRUE(busy.is_error());
    EXPECT_EQ(busy.error().code(), ErrorCode::busy);
}

TEST_F(MgmtWireBadResponse, InconsistentStreamReadsAreCaught) {
    fake.log = "hello";
    transport.tamper = [](std::span<uint8_t> r, size_t&) {
        r[kHeaderSize + 1 + 8] += 1; // next one past first + length
    };
    char out[16];
    ErrorOr<StreamRead> read = remote.read_log(0, out);
    ASSERT_TRUE(read.is_error());
    EXPECT_EQ(read.error().code(), ErrorCode::io);
}

TEST(MgmtWireChannel, SmallBuffersAreRefused) {
    FakeVmHost fake;
    LoopbackTransport transport(fake, nullptr);
    Bytes request(kManagementMessageMax), response(1024);
    ManagementChannel channel(transport, request, response);
    RemoteVmHost remote(channel);
    ErrorOr<void> result = remote.start_vm("web");
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::invalid_argument);
    EXPECT_TRUE(transport.requests.empty());
}

} // namespace
