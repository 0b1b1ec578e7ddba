// Fakes for the management wire tests (tests/unit/mgmt_wire_*_test.cpp and
// tests/fuzz/mgmt_wire_fuzz.cpp): a VmHost and a VhdHost that record every call's arguments and
// answer from plain members, and a transport that hands requests to serve_management_call in
// process (optionally failing or tampering with the response).
#pragma once

#include "mgmt/wire/remote_hosts.hpp"
#include "mgmt/wire/server.hpp"

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace halcyon::mgmt::wire::testing {

// The arguments of the last call, whatever the method.
struct RecordedCall {
    std::string method;
    std::string name;
    std::string path;
    uint64_t number = 0; // index, since, offset, size_bytes, lun
    uint64_t total = 0;  // write_file's total_size
    bool flag = false;
    StopMode mode = StopMode::graceful;
    size_t out_size = 0; // the span the host was given
    std::vector<uint8_t> data;
};

// Every method fails with `error` while it is set; its message is a buffer of the fake's own so
// the tests see the text cross the wire (not a pointer to the same literal).
class FailingHost {
public:
    void fail_with(ErrorCode code, std::string message) {
        error_message_ = std::move(message);
        error_code_ = code;
        failing_ = true;
    }
    void succeed() { failing_ = false; }

protected:
    [[nodiscard]] std::optional<Error> failure() const {
        if (!failing_)
            return std::nullopt;
        return Error(error_code_, error_message_.c_str());
    }

private:
    bool failing_ = false;
    ErrorCode error_code_ = ErrorCode::io;
    std::string error_message_;
};

#define HALCYON_FAKE_FAIL()                                                                        \
    do {                                                                                           \
        if (std::optional<Error> error = failure())                                                \
            return *error;                                                                         \
    } while (0)

class FakeVmHost final : public VmHost, public FailingHost {
public:
    HostInfo host;
    std::vector<VmInfo> vms;
    std::string log; // the host log stream, from offset log_base
    uint64_t log_base = 0;
    std::string console;            // every VM's console stream, from offset 0
    size_t console_room = SIZE_MAX; // console input the fake still accepts
    std::vector<uint8_t> console_input;
    static constexpr uint64_t kFileMax = 16 << 20;
    std::vector<uint8_t> file; // write_file's chunks, assembled at their offsets
    uint64_t file_received = 0;
    std::vector<RecordedCall> calls;
    VmSpec created;
    VmChanges changed;

    ErrorOr<HostInfo> host_info() override {
        record("host_info");
        HALCYON_FAKE_FAIL();
        return host;
    }
    uint32_t vm_count() override {
        record("vm_count");
        return uint32_t(vms.size());
    }
    ErrorOr<VmInfo> vm_at(uint32_t index) override {
        record("vm_at").number = index;
        HALCYON_FAKE_FAIL();
        if (index >= vms.size())
            return Error(ErrorCode::not_found, "no VM at that index");
        return vms[index];
    }
    ErrorOr<VmInfo> find_vm(std::string_view name) override {
        record("find_vm", name);
        HALCYON_FAKE_FAIL();
        for (const VmInfo& vm : vms) {
            if (vm.spec.name.view() == name)
                return vm;
        }
        return Error(ErrorCode::not_found, "no such VM");
    }
    ErrorOr<void> create_vm(const VmSpec& spec) override {
        record("create_vm", spec.name.view());
        HALCYON_FAKE_FAIL();
        created = spec;
        return {};
    }
    ErrorOr<void> set_vm(std::string_view name, const VmChanges& changes) override {
        record("set_vm", name);
        HALCYON_FAKE_FAIL();
        changed = changes;
        return {};
    }
    ErrorOr<void> remove_vm(std::string_view name) override { return simple("remove_vm", name); }
    ErrorOr<void> start_vm(std::string_view name) override { return simple("start_vm", name); }
    ErrorOr<void> stop_vm(std::string_view name, StopMode mode) override {
        record("stop_vm", name).mode = mode;
        HALCYON_FAKE_FAIL();
        return {};
    }
    ErrorOr<void> restart_vm(std::string_view name) override { return simple("restart_vm", name); }
    ErrorOr<void> suspend_vm(std::string_view name) override { return simple("suspend_vm", name); }
    ErrorOr<void> resume_vm(std::string_view name) override { return simple("resume_vm", name); }
    ErrorOr<StreamRead> read_log(uint64_t since, std::span<char> out) override {
        RecordedCall& call = record("read_log");
        call.number = since;
        call.out_size = out.size();
        HALCYON_FAKE_FAIL();
        return read_stream(log, log_base, since, out);
    }
    ErrorOr<StreamRead> read_console(std::string_view name, uint64_t since,
                                     std::span<char> out) override {
        RecordedCall& call = record("read_console", name);
        call.number = since;
        call.out_size = out.size();
        HALCYON_FAKE_FAIL();
        return read_stream(console, 0, since, out);
    }
    ErrorOr<size_t> write_console(std::string_view name, std::span<const uint8_t> input) override {
        RecordedCall& call = record("write_console", name);
        call.data.assign(input.begin(), input.end());
        HALCYON_FAKE_FAIL();
        size_t taken = std::min(input.size(), console_room);
        console_room -= taken;
        console_input.insert(console_input.end(), input.begin(), input.begin() + long(taken));
        return taken;
    }
    ErrorOr<FileStatus> write_file(std::string_view path, uint64_t offset, uint64_t total_size,
                                   std::span<const uint8_t> data) override {
        RecordedCall& call = record("write_file");
        call.path = std::string(path);
        call.number = offset;
        call.total = total_size;
        call.data.assign(data.begin(), data.end());
        HALCYON_FAKE_FAIL();
        if (offset + data.size() > total_size)
            return Error(ErrorCode::out_of_range, "the chunk ends past the file's size");
        if (total_size > kFileMax)
            return Error(ErrorCode::out_of_memory, "the fake keeps files up to 16 MiB");
        file.resize(total_size);
        std::copy(data.begin(), data.end(), file.begin() + long(offset));
        file_received += data.size();
        return FileStatus{total_size, file_received};
    }

    [[nodiscard]] const RecordedCall& last() const { return calls.back(); }

private:
    RecordedCall& record(const char* method, std::string_view name = {}) {
        calls.push_back(RecordedCall{});
        calls.back().method = method;
        calls.back().name = std::string(name);
        return calls.back();
    }
    ErrorOr<void> simple(const char* method, std::string_view name) {
        record(method, name);
        HALCYON_FAKE_FAIL();
        return {};
    }
    static StreamRead read_stream(const std::string& text, uint64_t base, uint64_t since,
                                  std::span<char> out) {
        const uint64_t end = base + text.size();
        StreamRead read;
        read.first = since < base ? base : since > end ? end : since;
        read.length = size_t(std::min<uint64_t>(end - read.first, out.size()));
        std::copy_n(text.data() + (read.first - base), read.length, out.data());
        read.next = read.first + read.length;
        return read;
    }
};

class FakeVhdHost final : public VhdHost, public FailingHost {
public:
    VhdInfo info;                             // what create/get/resize answer
    std::vector<VmHardDiskDrive> drives;      // what vm_disks lists
    std::vector<IntegrationService> services; // what integration_services lists
    VmHardDiskDrive added;                    // what add_vm_disk answers
    std::optional<uint32_t> services_count;   // overrides the count returned (misbehaviour)
    std::vector<RecordedCall> calls;
    VhdSpec created;

    ErrorOr<VhdInfo> create_vhd(const VhdSpec& spec) override {
        record("create_vhd", {}, spec.path.view());
        HALCYON_FAKE_FAIL();
        created = spec;
        return info;
    }
    ErrorOr<VhdInfo> get_vhd(std::string_view path) override {
        record("get_vhd", {}, path);
        HALCYON_FAKE_FAIL();
        return info;
    }
    ErrorOr<VhdInfo> resize_vhd(std::string_view path, uint64_t size_bytes) override {
        record("resize_vhd", {}, path).number = size_bytes;
        HALCYON_FAKE_FAIL();
        return info;
    }
    ErrorOr<uint32_t> vm_disks(std::string_view vm, std::span<VmHardDiskDrive> out) override {
        record("vm_disks", vm).out_size = out.size();
        HALCYON_FAKE_FAIL();
        for (size_t i = 0; i < drives.size() && i < out.size(); ++i)
            out[i] = drives[i];
        return uint32_t(drives.size());
    }
    ErrorOr<VmHardDiskDrive> add_vm_disk(std::string_view vm, std::string_view path,
                                         bool read_only) override {
        record("add_vm_disk", vm, path).flag = read_only;
        HALCYON_FAKE_FAIL();
        return added;
    }
    ErrorOr<void> remove_vm_disk(std::string_view vm, uint32_t lun) override {
        record("remove_vm_disk", vm).number = lun;
        HALCYON_FAKE_FAIL();
        return {};
    }
    ErrorOr<uint32_t> integration_services(std::string_view vm,
                                           std::span<IntegrationService> out) override {
        record("integration_services", vm).out_size = out.size();
        HALCYON_FAKE_FAIL();
        size_t n = std::min(services.size(), out.size());
        for (size_t i = 0; i < n; ++i)
            out[i] = services[i];
        return services_count ? *services_count : uint32_t(n);
    }

    [[nodiscard]] const RecordedCall& last() const { return calls.back(); }

private:
    RecordedCall& record(const char* method, std::string_view vm, std::string_view path = {}) {
        calls.push_back(RecordedCall{});
        calls.back().method = method;
        calls.back().name = std::string(vm);
        calls.back().path = std::string(path);
        return calls.back();
    }
};

#undef HALCYON_FAKE_FAIL

// The partition's transport, in process: serve_management_call on the fakes. Keeps a copy of
// every request (the malformed-request tests start from real ones).
class LoopbackTransport final : public ManagementTransport {
public:
    LoopbackTransport(VmHost& vms, VhdHost* vhds) : vms_(vms), vhds_(vhds) {}

    std::vector<std::vector<uint8_t>> requests;
    std::optional<Error> transport_error;
    // Runs on the response (bytes and length) before the remote host sees it.
    std::function<void(std::span<uint8_t>, size_t&)> tamper;

    ErrorOr<size_t> call(std::span<const uint8_t> request, std::span<uint8_t> response) override {
        requests.emplace_back(request.begin(), request.end());
        if (transport_error)
            return *transport_error;
        size_t length = TRY(serve_management_call(vms_, vhds_, request, response));
        if (tamper)
            tamper(response, length);
        return length;
    }

private:
    VmHost& vms_;
    VhdHost* vhds_;
};

// A channel with heap buffers of kManagementMessageMax (the partition's are static arrays).
struct TestChannel {
    explicit TestChannel(ManagementTransport& transport)
        : request(kManagementMessageMax), response(kManagementMessageMax),
          channel(transport, request, response) {}
    std::vector<uint8_t> request;
    std::vector<uint8_t> response;
    ManagementChannel channel;
};

} // namespace halcyon::mgmt::wire::testing
