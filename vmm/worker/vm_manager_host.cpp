#include "vmm/worker/vm_manager_host.hpp"

#include "vmm/vmbus/ic/heartbeat_ic.hpp"

#include <string.h>

namespace halcyon::worker {
namespace {

mgmt::VmState api_state(LifeState state) {
    switch (state) {
    case LifeState::off:
        return mgmt::VmState::off;
    case LifeState::starting:
        return mgmt::VmState::starting;
    case LifeState::running:
        return mgmt::VmState::running;
    case LifeState::stopping:
        return mgmt::VmState::stopping;
    case LifeState::paused:
        return mgmt::VmState::suspended;
    case LifeState::crashed:
        return mgmt::VmState::crashed;
    }
    return mgmt::VmState::crashed;
}

// halcyon.cfg's strings are NUL-terminated arrays at least one longer than the API's bounds.
template <size_t N>
void copy_text(char (&out)[N], std::string_view text) {
    const size_t length = text.size() < N - 1 ? text.size() : N - 1;
    memcpy(out, text.data(), length);
    out[length] = '\0';
}

template <size_t N>
void assign(mgmt::FixedString<N>& out, const char* text) {
    // The worker's strings fit the API's fields by construction; cut rather than fail if not.
    size_t length = 0;
    while (length < N && text[length] != '\0')
        ++length;
    (void)out.assign(std::string_view(text, length));
}

void set_disks(config::VmConfig& config, const mgmt::VmDisk* disks, uint32_t count) {
    config.disk_count = count;
    for (uint32_t i = 0; i < config::kMaxDisksPerVm; ++i) {
        config.disks[i] = config::VmDisk{};
        if (i < count) {
            copy_text(config.disks[i].path, disks[i].path.view());
            config.disks[i].read_only = disks[i].read_only;
        }
    }
}

mgmt::VmInfo api_info(const VmReport& report) {
    const config::VmConfig& config = *report.config;
    mgmt::VmInfo info;
    assign(info.spec.name, config.name);
    info.spec.memory_bytes = config.memory_bytes;
    info.spec.vcpus = config.vcpus;
    assign(info.spec.kernel, config.kernel);
    assign(info.spec.initrd, config.initrd);
    assign(info.spec.command_line, config.command_line);
    info.spec.disk_count = config.disk_count;
    for (uint32_t i = 0; i < config.disk_count && i < mgmt::kVmDisksMax; ++i) {
        assign(info.spec.disks[i].path, config.disks[i].path);
        info.spec.disks[i].read_only = config.disks[i].read_only;
    }
    info.spec.vmbus = config.vmbus;
    info.state = api_state(report.state);
    info.uptime_ms = report.uptime_ms;
    assign(info.status, report.status);
    if (report.has_heartbeat)
        assign(info.guest.heartbeat,
               vmm::vmbus::ic::heartbeat_display_name(report.heartbeat, report.application));
    assign(info.guest.computer_name, report.computer_name);
    assign(info.guest.ipv4_addresses, report.ipv4_addresses);
    assign(info.guest.ipv6_addresses, report.ipv6_addresses);
    return info;
}

mgmt::StreamRead api_read(const StreamSlice& slice) {
    return mgmt::StreamRead{slice.length, slice.first, slice.next};
}

} // namespace

ErrorOr<mgmt::HostInfo> VmManagerHost::host_info() {
    return mgmt::net::describe_host(facts_, uint64_t(frames_.free_pages()) * mm::kPageSize,
                                    boot_tsc_);
}

ErrorOr<mgmt::VmInfo> VmManagerHost::vm_at(uint32_t index) {
    const VmReport report = TRY(manager_.report_at(index));
    return api_info(report);
}

ErrorOr<mgmt::VmInfo> VmManagerHost::find_vm(std::string_view name) {
    const VmReport report = TRY(manager_.report(name));
    return api_info(report);
}

ErrorOr<void> VmManagerHost::create_vm(const mgmt::VmSpec& spec) {
    // Everything else as a [vm NAME] section without those keys has it (weights, no test
    // devices).
    config::VmConfig config;
    copy_text(config.name, spec.name.view());
    config.memory_bytes = spec.memory_bytes;
    config.vcpus = spec.vcpus;
    copy_text(config.kernel, spec.kernel.view());
    copy_text(config.initrd, spec.initrd.view());
    copy_text(config.command_line, spec.command_line.view());
    set_disks(config, spec.disks, spec.disk_count);
    config.vmbus = spec.vmbus;
    return manager_.define(config);
}

ErrorOr<void> VmManagerHost::set_vm(std::string_view name, const mgmt::VmChanges& changes) {
    config::VmConfig& config = *TRY(manager_.config_to_change(name));
    if (changes.memory_bytes)
        config.memory_bytes = *changes.memory_bytes;
    if (changes.vcpus)
        config.vcpus = *changes.vcpus;
    if (changes.kernel)
        copy_text(config.kernel, changes.kernel->view());
    if (changes.initrd)
        copy_text(config.initrd, changes.initrd->view());
    if (changes.command_line)
        copy_text(config.command_line, changes.command_line->view());
    if (changes.disks_present)
        set_disks(config, changes.disks, changes.disk_count);
    if (changes.vmbus)
        config.vmbus = *changes.vmbus;
    manager_.changed(name);
    return {};
}

ErrorOr<void> VmManagerHost::stop_vm(std::string_view name, mgmt::StopMode mode) {
    switch (mode) {
    case mgmt::StopMode::graceful:
        return manager_.stop(name, StopMode::graceful);
    case mgmt::StopMode::force:
        return manager_.stop(name, StopMode::force);
    case mgmt::StopMode::turn_off:
        return manager_.stop(name, StopMode::turn_off);
    }
    return Error(ErrorCode::invalid_argument, "unknown stop mode");
}

ErrorOr<mgmt::StreamRead> VmManagerHost::read_log(uint64_t since, std::span<char> out) {
    return api_read(manager_.read_log(since, out));
}

ErrorOr<mgmt::StreamRead> VmManagerHost::read_console(std::string_view name, uint64_t since,
                                                      std::span<char> out) {
    const StreamSlice slice = TRY(manager_.read_console(name, since, out));
    return api_read(slice);
}

ErrorOr<mgmt::FileStatus> VmManagerHost::write_file(std::string_view path, uint64_t offset,
                                                    uint64_t total_size,
                                                    std::span<const uint8_t> data) {
    const UploadProgress progress = TRY(manager_.write_file(path, offset, total_size, data));
    return mgmt::FileStatus{progress.size, progress.received};
}

} // namespace halcyon::worker
