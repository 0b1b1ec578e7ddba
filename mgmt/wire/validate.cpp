#include "mgmt/wire/validate.hpp"

#include "mgmt/api/vm_json.hpp"

namespace halcyon::mgmt::wire {

namespace {

constexpr const char* kBadPath = "invalid file name (relative, printable ASCII, at most 111 "
                                 "characters, no '..' component)";

ErrorOr<void> check_disks(uint32_t count, const VmDisk (&disks)[kVmDisksMax]) {
    if (count > kVmDisksMax)
        return Error(ErrorCode::out_of_range, "at most 8 disks");
    for (uint32_t i = 0; i < count; ++i)
        TRY(check_file_path(disks[i].path.view()));
    return {};
}

ErrorOr<void> check_memory(uint64_t bytes) {
    if (!valid_memory_bytes(bytes))
        return Error(ErrorCode::invalid_argument,
                     "memory_bytes must be 16 MiB to 1 TiB, a multiple of 2 MiB");
    return {};
}

ErrorOr<void> check_vcpus(uint32_t vcpus) {
    if (vcpus < 1 || vcpus > kVmVcpusMax)
        return Error(ErrorCode::invalid_argument, "vcpus must be 1 to 64");
    return {};
}

ErrorOr<void> check_command_line(std::string_view text) {
    if (!valid_command_line(text))
        return Error(ErrorCode::invalid_argument,
                     "a command line is at most 1023 bytes without control characters");
    return {};
}

} // namespace

ErrorOr<void> check_file_path(std::string_view path) {
    if (!valid_file_path(path))
        return Error(ErrorCode::invalid_argument, kBadPath);
    return {};
}

ErrorOr<void> check_vm_spec(const VmSpec& spec) {
    if (!valid_vm_name(spec.name.view()))
        return Error(ErrorCode::invalid_argument,
                     "a VM name is 1 to 31 characters from A-Z a-z 0-9 _ -");
    TRY(check_memory(spec.memory_bytes));
    TRY(check_vcpus(spec.vcpus));
    TRY(check_file_path(spec.kernel.view()));
    if (!spec.initrd.empty())
        TRY(check_file_path(spec.initrd.view()));
    TRY(check_command_line(spec.command_line.view()));
    return check_disks(spec.disk_count, spec.disks);
}

ErrorOr<void> check_vm_changes(const VmChanges& changes) {
    if (changes.memory_bytes)
        TRY(check_memory(*changes.memory_bytes));
    if (changes.vcpus)
        TRY(check_vcpus(*changes.vcpus));
    if (changes.kernel)
        TRY(check_file_path(changes.kernel->view()));
    if (changes.initrd && !changes.initrd->empty())
        TRY(check_file_path(changes.initrd->view()));
    if (changes.command_line)
        TRY(check_command_line(changes.command_line->view()));
    if (changes.disks_present)
        TRY(check_disks(changes.disk_count, changes.disks));
    return {};
}

ErrorOr<void> check_vhd_spec(const VhdSpec& spec) {
    TRY(check_file_path(spec.path.view()));
    if (spec.type == VhdType::differencing)
        return Error(ErrorCode::invalid_argument, "New-VHD makes fixed or dynamic disks");
    return {};
}

} // namespace halcyon::mgmt::wire
