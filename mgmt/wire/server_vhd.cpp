// The VhdHost opcodes of serve_management_call: decode, check, call, encode. Field order matches
// remote_vhd_host.cpp and docs/management-wire.md.
#include "mgmt/wire/records.hpp"
#include "mgmt/wire/server_call.hpp"
#include "mgmt/wire/validate.hpp"

namespace halcyon::mgmt::wire {

namespace {

ErrorOr<void> write_vhd_info(ServerCall& call, ErrorOr<VhdInfo>& info) {
    if (info.is_error())
        return info.release_error();
    write_record(call.out, info.value());
    return {};
}

[[gnu::noinline]] ErrorOr<void> serve_create_vhd(ServerCall& call) {
    VhdSpec spec;
    read_record(call.in, spec);
    TRY(call.in.finish());
    TRY(check_vhd_spec(spec));
    ErrorOr<VhdInfo> info = call.vhds->create_vhd(spec);
    return write_vhd_info(call, info);
}

[[gnu::noinline]] ErrorOr<void> serve_get_vhd(ServerCall& call) {
    const FilePath path = read_argument<kFilePathMax>(call.in);
    TRY(call.in.finish());
    TRY(check_file_path(path.view()));
    ErrorOr<VhdInfo> info = call.vhds->get_vhd(path.view());
    return write_vhd_info(call, info);
}

[[gnu::noinline]] ErrorOr<void> serve_resize_vhd(ServerCall& call) {
    const FilePath path = read_argument<kFilePathMax>(call.in);
    const uint64_t size_bytes = call.in.u64();
    TRY(call.in.finish());
    TRY(check_file_path(path.view()));
    ErrorOr<VhdInfo> info = call.vhds->resize_vhd(path.view(), size_bytes);
    return write_vhd_info(call, info);
}

[[gnu::noinline]] ErrorOr<void> serve_vm_disks(ServerCall& call) {
    const VmName vm = read_argument<kVmNameMax>(call.in);
    const uint32_t capacity = call.in.count(kWireDrivesMax);
    TRY(call.in.finish());
    VmHardDiskDrive drives[kWireDrivesMax];
    const uint32_t total = TRY(call.vhds->vm_disks(vm.view(), std::span(drives, capacity)));
    const uint32_t listed = total < capacity ? total : capacity;
    call.out.u32(total);
    call.out.u32(listed);
    for (uint32_t i = 0; i < listed; ++i)
        write_record(call.out, drives[i]);
    return {};
}

[[gnu::noinline]] ErrorOr<void> serve_add_vm_disk(ServerCall& call) {
    const VmName vm = read_argument<kVmNameMax>(call.in);
    const FilePath path = read_argument<kFilePathMax>(call.in);
    const bool read_only = call.in.boolean();
    TRY(call.in.finish());
    TRY(check_file_path(path.view()));
    const VmHardDiskDrive drive = TRY(call.vhds->add_vm_disk(vm.view(), path.view(), read_only));
    write_record(call.out, drive);
    return {};
}

[[gnu::noinline]] ErrorOr<void> serve_remove_vm_disk(ServerCall& call) {
    const VmName vm = read_argument<kVmNameMax>(call.in);
    const uint32_t lun = call.in.u32();
    TRY(call.in.finish());
    return call.vhds->remove_vm_disk(vm.view(), lun);
}

[[gnu::noinline]] ErrorOr<void> serve_integration_services(ServerCall& call) {
    const VmName vm = read_argument<kVmNameMax>(call.in);
    const uint32_t capacity = call.in.count(kWireServicesMax);
    TRY(call.in.finish());
    IntegrationService services[kWireServicesMax];
    const uint32_t count =
        TRY(call.vhds->integration_services(vm.view(), std::span(services, capacity)));
    if (count > capacity)
        return Error(ErrorCode::io, "the host listed more integration services than asked for");
    call.out.u32(count);
    for (uint32_t i = 0; i < count; ++i)
        write_record(call.out, services[i]);
    return {};
}

} // namespace

ErrorOr<void> serve_vhd_call(Opcode opcode, ServerCall& call) {
    switch (opcode) {
    case Opcode::create_vhd:
        return serve_create_vhd(call);
    case Opcode::get_vhd:
        return serve_get_vhd(call);
    case Opcode::resize_vhd:
        return serve_resize_vhd(call);
    case Opcode::vm_disks:
        return serve_vm_disks(call);
    case Opcode::add_vm_disk:
        return serve_add_vm_disk(call);
    case Opcode::remove_vm_disk:
        return serve_remove_vm_disk(call);
    case Opcode::integration_services:
        return serve_integration_services(call);
    default:
        return Error(ErrorCode::invalid_argument, "malformed management message: unknown opcode");
    }
}

} // namespace halcyon::mgmt::wire
