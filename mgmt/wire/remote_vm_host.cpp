// RemoteVmHost: each VmHost method as one request (two or more for long writes) over the
// ManagementChannel. Field order matches server_vm.cpp and docs/management-wire.md.
#include "mgmt/wire/records.hpp"
#include "mgmt/wire/remote_hosts.hpp"

#include <string.h>

namespace halcyon::mgmt::wire {

namespace {

constexpr const char* kNameTooLong = "a VM name is at most 31 characters";
constexpr const char* kPathTooLong = "a file name is at most 111 characters";

} // namespace

ErrorOr<HostInfo> RemoteVmHost::host_info() {
    WireWriter request = channel_.begin(Opcode::host_info);
    WireReader response = TRY(channel_.call(request));
    HostInfo info;
    read_record(response, info);
    TRY(channel_.finish(response));
    return info;
}

uint32_t RemoteVmHost::vm_count() {
    WireWriter request = channel_.begin(Opcode::vm_count);
    ErrorOr<WireReader> response = channel_.call(request);
    if (response.is_error())
        return 0;
    uint32_t count = response.value().u32();
    if (channel_.finish(response.value()).is_error())
        return 0;
    return count;
}

ErrorOr<VmInfo> RemoteVmHost::vm_at(uint32_t index) {
    WireWriter request = channel_.begin(Opcode::vm_at);
    request.u32(index);
    WireReader response = TRY(channel_.call(request));
    VmInfo info;
    read_record(response, info);
    TRY(channel_.finish(response));
    return info;
}

ErrorOr<VmInfo> RemoteVmHost::find_vm(std::string_view name) {
    WireWriter request = channel_.begin(Opcode::find_vm);
    request.string(name, kVmNameMax, kNameTooLong);
    WireReader response = TRY(channel_.call(request));
    VmInfo info;
    read_record(response, info);
    TRY(channel_.finish(response));
    return info;
}

ErrorOr<void> RemoteVmHost::create_vm(const VmSpec& spec) {
    WireWriter request = channel_.begin(Opcode::create_vm);
    write_record(request, spec);
    WireReader response = TRY(channel_.call(request));
    return channel_.finish(response);
}

ErrorOr<void> RemoteVmHost::set_vm(std::string_view name, const VmChanges& changes) {
    WireWriter request = channel_.begin(Opcode::set_vm);
    request.string(name, kVmNameMax, kNameTooLong);
    write_record(request, changes);
    WireReader response = TRY(channel_.call(request));
    return channel_.finish(response);
}

ErrorOr<void> RemoteVmHost::name_call(Opcode opcode, std::string_view name) {
    WireWriter request = channel_.begin(opcode);
    request.string(name, kVmNameMax, kNameTooLong);
    WireReader response = TRY(channel_.call(request));
    return channel_.finish(response);
}

ErrorOr<void> RemoteVmHost::remove_vm(std::string_view name) {
    return name_call(Opcode::remove_vm, name);
}

ErrorOr<void> RemoteVmHost::start_vm(std::string_view name) {
    return name_call(Opcode::start_vm, name);
}

ErrorOr<void> RemoteVmHost::stop_vm(std::string_view name, StopMode mode) {
    WireWriter request = channel_.begin(Opcode::stop_vm);
    request.string(name, kVmNameMax, kNameTooLong);
    request.u8(uint8_t(mode));
    WireReader response = TRY(channel_.call(request));
    return channel_.finish(response);
}

ErrorOr<void> RemoteVmHost::restart_vm(std::string_view name) {
    return name_call(Opcode::restart_vm, name);
}

ErrorOr<void> RemoteVmHost::suspend_vm(std::string_view name) {
    return name_call(Opcode::suspend_vm, name);
}

ErrorOr<void> RemoteVmHost::resume_vm(std::string_view name) {
    return name_call(Opcode::resume_vm, name);
}

// The request ends with the u32 byte budget; the response is u64 first, u64 next, then the
// bytes (u32 length), copied into `out`.
ErrorOr<StreamRead> RemoteVmHost::stream_call(WireWriter& request, std::span<char> out) {
    const size_t budget = out.size() < kStreamDataMax ? out.size() : kStreamDataMax;
    request.u32(uint32_t(budget));
    WireReader response = TRY(channel_.call(request));
    StreamRead read;
    read.first = response.u64();
    read.next = response.u64();
    std::span<const uint8_t> data = response.bytes(budget);
    TRY(channel_.finish(response));
    if (read.next < read.first || read.next - read.first != data.size())
        return channel_.malformed("a stream read whose offsets do not match its length");
    if (!data.empty())
        memcpy(out.data(), data.data(), data.size());
    read.length = data.size();
    return read;
}

ErrorOr<StreamRead> RemoteVmHost::read_log(uint64_t since, std::span<char> out) {
    WireWriter request = channel_.begin(Opcode::read_log);
    request.u64(since);
    return stream_call(request, out);
}

ErrorOr<StreamRead> RemoteVmHost::read_console(std::string_view name, uint64_t since,
                                               std::span<char> out) {
    WireWriter request = channel_.begin(Opcode::read_console);
    request.string(name, kVmNameMax, kNameTooLong);
    request.u64(since);
    return stream_call(request, out);
}

ErrorOr<size_t> RemoteVmHost::write_console(std::string_view name, std::span<const uint8_t> input) {
    size_t queued = 0;
    do {
        std::span<const uint8_t> chunk = input.subspan(queued).first(
            input.size() - queued < kWireDataMax ? input.size() - queued : kWireDataMax);
        WireWriter request = channel_.begin(Opcode::write_console);
        request.string(name, kVmNameMax, kNameTooLong);
        request.bytes(chunk);
        WireReader response = TRY(channel_.call(request));
        const uint64_t accepted = response.u64();
        TRY(channel_.finish(response));
        if (accepted > chunk.size())
            return channel_.malformed("more console input queued than was sent");
        queued += size_t(accepted);
        // A full queue takes part of a chunk: the rest would not fit either.
        if (accepted < chunk.size())
            break;
    } while (queued < input.size());
    return queued;
}

ErrorOr<FileStatus> RemoteVmHost::write_file(std::string_view path, uint64_t offset,
                                             uint64_t total_size, std::span<const uint8_t> data) {
    size_t sent = 0;
    FileStatus status;
    do {
        std::span<const uint8_t> chunk = data.subspan(sent).first(
            data.size() - sent < kWireDataMax ? data.size() - sent : kWireDataMax);
        WireWriter request = channel_.begin(Opcode::write_file);
        request.string(path, kFilePathMax, kPathTooLong);
        request.u64(offset + sent);
        request.u64(total_size);
        request.bytes(chunk);
        WireReader response = TRY(channel_.call(request));
        status.size = response.u64();
        status.received = response.u64();
        TRY(channel_.finish(response));
        sent += chunk.size();
    } while (sent < data.size());
    return status;
}

} // namespace halcyon::mgmt::wire
