// RemoteVhdHost: each VhdHost method as one request over the ManagementChannel. Field order
// matches server_vhd.cpp and docs/management-wire.md.
#include "mgmt/wire/records.hpp"
#include "mgmt/wire/remote_hosts.hpp"

namespace halcyon::mgmt::wire {

namespace {

constexpr const char* kNameTooLong = "a VM name is at most 31 characters";
constexpr const char* kPathTooLong = "a VHD path is at most 111 characters";

} // namespace

ErrorOr<VhdInfo> RemoteVhdHost::vhd_info_call(WireWriter& request) {
    WireReader response = TRY(channel_.call(request));
    VhdInfo info;
    read_record(response, info);
    TRY(channel_.finish(response));
    return info;
}

ErrorOr<VhdInfo> RemoteVhdHost::create_vhd(const VhdSpec& spec) {
    WireWriter request = channel_.begin(Opcode::create_vhd);
    write_record(request, spec);
    return vhd_info_call(request);
}

ErrorOr<VhdInfo> RemoteVhdHost::get_vhd(std::string_view path) {
    WireWriter request = channel_.begin(Opcode::get_vhd);
    request.string(path, kFilePathMax, kPathTooLong);
    return vhd_info_call(request);
}

ErrorOr<VhdInfo> RemoteVhdHost::resize_vhd(std::string_view path, uint64_t size_bytes) {
    WireWriter request = channel_.begin(Opcode::resize_vhd);
    request.string(path, kFilePathMax, kPathTooLong);
    request.u64(size_bytes);
    return vhd_info_call(request);
}

ErrorOr<uint32_t> RemoteVhdHost::vm_disks(std::string_view vm, std::span<VmHardDiskDrive> out) {
    const uint32_t capacity = out.size() < kWireDrivesMax ? uint32_t(out.size()) : kWireDrivesMax;
    WireWriter request = channel_.begin(Opcode::vm_disks);
    request.string(vm, kVmNameMax, kNameTooLong);
    request.u32(capacity);
    WireReader response = TRY(channel_.call(request));
    const uint32_t total = response.u32();
    const uint32_t listed = response.count(capacity);
    for (uint32_t i = 0; i < listed; ++i) {
        out[i] = VmHardDiskDrive{};
        read_record(response, out[i]);
    }
    TRY(channel_.finish(response));
    if (listed > total)
        return channel_.malformed("more drives listed than the VM has");
    return total;
}

ErrorOr<VmHardDiskDrive> RemoteVhdHost::add_vm_disk(std::string_view vm, std::string_view path,
                                                    bool read_only) {
    WireWriter request = channel_.begin(Opcode::add_vm_disk);
    request.string(vm, kVmNameMax, kNameTooLong);
    request.string(path, kFilePathMax, kPathTooLong);
    request.boolean(read_only);
    WireReader response = TRY(channel_.call(request));
    VmHardDiskDrive drive;
    read_record(response, drive);
    TRY(channel_.finish(response));
    return drive;
}

ErrorOr<void> RemoteVhdHost::remove_vm_disk(std::string_view vm, uint32_t lun) {
    WireWriter request = channel_.begin(Opcode::remove_vm_disk);
    request.string(vm, kVmNameMax, kNameTooLong);
    request.u32(lun);
    WireReader response = TRY(channel_.call(request));
    return channel_.finish(response);
}

ErrorOr<uint32_t> RemoteVhdHost::integration_services(std::string_view vm,
                                                      std::span<IntegrationService> out) {
    const uint32_t capacity =
        out.size() < kWireServicesMax ? uint32_t(out.size()) : kWireServicesMax;
    WireWriter request = channel_.begin(Opcode::integration_services);
    request.string(vm, kVmNameMax, kNameTooLong);
    request.u32(capacity);
    WireReader response = TRY(channel_.call(request));
    const uint32_t count = response.count(capacity);
    for (uint32_t i = 0; i < count; ++i) {
        out[i] = IntegrationService{};
        read_record(response, out[i]);
    }
    TRY(channel_.finish(response));
    return count;
}

} // namespace halcyon::mgmt::wire
