#include "mgmt/net/host_only_vm_host.hpp"

#include "mgmt/net/platform.hpp"

namespace halcyon::mgmt::net {
namespace {

Error not_wired() {
    return Error(ErrorCode::not_supported,
                 "VM management over the network is not wired to the VM worker yet");
}

} // namespace

HostInfo describe_host(const HostFacts& facts, uint64_t free_bytes, uint64_t boot_tsc) {
    HostInfo info;
    (void)info.name.assign("halcyon");
    (void)info.version.assign("0.2");
    info.logical_processors = facts.logical_processors;
    info.memory_bytes = facts.memory_bytes;
    info.memory_free_bytes = free_bytes;
    const uint64_t tsc_per_ms = facts.tsc_hz / 1000;
    info.uptime_ms = tsc_per_ms == 0 ? 0 : (read_tsc() - boot_tsc) / tsc_per_ms;
    (void)info.virtualization.assign(facts.virtualization);
    return info;
}

ErrorOr<HostInfo> HostOnlyVmHost::host_info() {
    return describe_host(facts_, free_memory_.free_bytes(), boot_tsc_);
}

ErrorOr<VmInfo> HostOnlyVmHost::vm_at(uint32_t) {
    return Error(ErrorCode::not_found, "no such VM");
}
ErrorOr<VmInfo> HostOnlyVmHost::find_vm(std::string_view) {
    return Error(ErrorCode::not_found, "no such VM");
}
ErrorOr<void> HostOnlyVmHost::create_vm(const VmSpec&) {
    return not_wired();
}
ErrorOr<void> HostOnlyVmHost::set_vm(std::string_view, const VmChanges&) {
    return not_wired();
}
ErrorOr<void> HostOnlyVmHost::remove_vm(std::string_view) {
    return not_wired();
}
ErrorOr<void> HostOnlyVmHost::start_vm(std::string_view) {
    return not_wired();
}
ErrorOr<void> HostOnlyVmHost::stop_vm(std::string_view, StopMode) {
    return not_wired();
}
ErrorOr<void> HostOnlyVmHost::restart_vm(std::string_view) {
    return not_wired();
}
ErrorOr<void> HostOnlyVmHost::suspend_vm(std::string_view) {
    return not_wired();
}
ErrorOr<void> HostOnlyVmHost::resume_vm(std::string_view) {
    return not_wired();
}
ErrorOr<StreamRead> HostOnlyVmHost::read_log(uint64_t, std::span<char>) {
    return Error(ErrorCode::not_supported, "the host log is not served over the network yet");
}
ErrorOr<StreamRead> HostOnlyVmHost::read_console(std::string_view, uint64_t, std::span<char>) {
    return Error(ErrorCode::not_found, "no such VM");
}
ErrorOr<size_t> HostOnlyVmHost::write_console(std::string_view, std::span<const uint8_t>) {
    return Error(ErrorCode::not_found, "no such VM");
}
ErrorOr<FileStatus> HostOnlyVmHost::write_file(std::string_view, uint64_t, uint64_t,
                                               std::span<const uint8_t>) {
    return Error(ErrorCode::not_supported, "file uploads are not wired to a datastore yet");
}

} // namespace halcyon::mgmt::net
