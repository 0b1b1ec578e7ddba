// The VmHost opcodes of serve_management_call: decode, check, call, encode. Field order matches
// remote_vm_host.cpp and docs/management-wire.md. Each handler is its own frame (noinline) so
// the stack holds one handler's records at a time, not the sum of all.
#include "mgmt/wire/records.hpp"
#include "mgmt/wire/server_call.hpp"
#include "mgmt/wire/validate.hpp"

#include <string.h>

namespace halcyon::mgmt::wire {

namespace {

[[gnu::noinline]] ErrorOr<void> serve_host_info(ServerCall& call) {
    TRY(call.in.finish());
    const HostInfo info = TRY(call.vms.host_info());
    write_record(call.out, info);
    return {};
}

[[gnu::noinline]] ErrorOr<void> serve_vm_count(ServerCall& call) {
    TRY(call.in.finish());
    call.out.u32(call.vms.vm_count());
    return {};
}

[[gnu::noinline]] ErrorOr<void> serve_vm_at(ServerCall& call) {
    const uint32_t index = call.in.u32();
    TRY(call.in.finish());
    ErrorOr<VmInfo> info = call.vms.vm_at(index);
    if (info.is_error())
        return info.release_error();
    write_record(call.out, info.value());
    return {};
}

[[gnu::noinline]] ErrorOr<void> serve_find_vm(ServerCall& call) {
    const VmName name = read_argument<kVmNameMax>(call.in);
    TRY(call.in.finish());
    ErrorOr<VmInfo> info = call.vms.find_vm(name.view());
    if (info.is_error())
        return info.release_error();
    write_record(call.out, info.value());
    return {};
}

[[gnu::noinline]] ErrorOr<void> serve_create_vm(ServerCall& call) {
    VmSpec spec;
    read_record(call.in, spec);
    TRY(call.in.finish());
    TRY(check_vm_spec(spec));
    return call.vms.create_vm(spec);
}

[[gnu::noinline]] ErrorOr<void> serve_set_vm(ServerCall& call) {
    const VmName name = read_argument<kVmNameMax>(call.in);
    VmChanges changes;
    read_record(call.in, changes);
    TRY(call.in.finish());
    TRY(check_vm_changes(changes));
    return call.vms.set_vm(name.view(), changes);
}

// remove, start, restart, suspend and resume: a name, nothing back.
[[gnu::noinline]] ErrorOr<void> serve_name_call(Opcode opcode, ServerCall& call) {
    const VmName name = read_argument<kVmNameMax>(call.in);
    TRY(call.in.finish());
    switch (opcode) {
    case Opcode::remove_vm:
        return call.vms.remove_vm(name.view());
    case Opcode::start_vm:
        return call.vms.start_vm(name.view());
    case Opcode::restart_vm:
        return call.vms.restart_vm(name.view());
    case Opcode::suspend_vm:
        return call.vms.suspend_vm(name.view());
    case Opcode::resume_vm:
        return call.vms.resume_vm(name.view());
    default:
        return Error(ErrorCode::invalid_argument, "malformed management message: unknown opcode");
    }
}

[[gnu::noinline]] ErrorOr<void> serve_stop_vm(ServerCall& call) {
    const VmName name = read_argument<kVmNameMax>(call.in);
    const StopMode mode = call.in.enumeration(StopMode::turn_off);
    TRY(call.in.finish());
    return call.vms.stop_vm(name.view(), mode);
}

// read_log and read_console: the host writes straight into the response, after the fixed fields
// (u64 first, u64 next, u32 length), at most the budget the request names and what fits.
[[gnu::noinline]] ErrorOr<void> serve_stream_read(Opcode opcode, ServerCall& call) {
    VmName name;
    if (opcode == Opcode::read_console)
        call.in.string(name);
    const uint64_t since = call.in.u64();
    const uint32_t budget = call.in.u32();
    TRY(call.in.finish());
    if (budget > kStreamDataMax)
        return Error(ErrorCode::invalid_argument,
                     "malformed management message: a stream read asks for too many bytes");

    const size_t fixed_at = call.out.size();
    std::span<uint8_t> fixed = call.out.reserve(8 + 8 + 4);
    const size_t room = call.out.room() < budget ? call.out.room() : budget;
    std::span<uint8_t> data = call.out.reserve(room);
    if (call.out.failed())
        return {}; // reported by the caller: the result does not fit
    std::span<char> text(reinterpret_cast<char*>(data.data()), data.size());
    ErrorOr<StreamRead> read = opcode == Opcode::read_console
                                   ? call.vms.read_console(name.view(), since, text)
                                   : call.vms.read_log(since, text);
    if (read.is_error())
        return read.release_error();
    if (read.value().length > data.size())
        return Error(ErrorCode::io, "the host returned more bytes than were asked for");

    WireWriter fields(fixed);
    fields.u64(read.value().first);
    fields.u64(read.value().next);
    fields.u32(uint32_t(read.value().length));
    call.out.truncate(fixed_at + fixed.size() + read.value().length);
    return {};
}

[[gnu::noinline]] ErrorOr<void> serve_write_console(ServerCall& call) {
    const VmName name = read_argument<kVmNameMax>(call.in);
    std::span<const uint8_t> input = call.in.bytes(kWireDataMax);
    TRY(call.in.finish());
    const size_t queued = TRY(call.vms.write_console(name.view(), input));
    if (queued > input.size())
        return Error(ErrorCode::io, "the host queued more console input than it was given");
    call.out.u64(queued);
    return {};
}

[[gnu::noinline]] ErrorOr<void> serve_write_file(ServerCall& call) {
    const FilePath path = read_argument<kFilePathMax>(call.in);
    const uint64_t offset = call.in.u64();
    const uint64_t total_size = call.in.u64();
    std::span<const uint8_t> data = call.in.bytes(kWireDataMax);
    TRY(call.in.finish());
    TRY(check_file_path(path.view()));
    if (offset > UINT64_MAX - data.size())
        return Error(ErrorCode::out_of_range, "the chunk ends past the largest file offset");
    const FileStatus status = TRY(call.vms.write_file(path.view(), offset, total_size, data));
    call.out.u64(status.size);
    call.out.u64(status.received);
    return {};
}

} // namespace

ErrorOr<void> serve_vm_call(Opcode opcode, ServerCall& call) {
    switch (opcode) {
    case Opcode::host_info:
        return serve_host_info(call);
    case Opcode::vm_count:
        return serve_vm_count(call);
    case Opcode::vm_at:
        return serve_vm_at(call);
    case Opcode::find_vm:
        return serve_find_vm(call);
    case Opcode::create_vm:
        return serve_create_vm(call);
    case Opcode::set_vm:
        return serve_set_vm(call);
    case Opcode::remove_vm:
    case Opcode::start_vm:
    case Opcode::restart_vm:
    case Opcode::suspend_vm:
    case Opcode::resume_vm:
        return serve_name_call(opcode, call);
    case Opcode::stop_vm:
        return serve_stop_vm(call);
    case Opcode::read_log:
    case Opcode::read_console:
        return serve_stream_read(opcode, call);
    case Opcode::write_console:
        return serve_write_console(call);
    case Opcode::write_file:
        return serve_write_file(call);
    default:
        return Error(ErrorCode::invalid_argument, "malformed management message: unknown opcode");
    }
}

} // namespace halcyon::mgmt::wire
