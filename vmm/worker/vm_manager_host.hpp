// The management API's VmHost (mgmt/api/vm_host.hpp) over the VM manager: what halctl's verbs
// do on a host that runs VMs. It translates between the API's forms (VmSpec, VmInfo, stream
// reads) and the worker's (config::VmConfig, VmReport); the manager does the work. Called on the
// management CPU, from the server inside the manager's own housekeeping.
#pragma once

#include "mgmt/api/vm_host.hpp"
#include "mgmt/net/host_only_vm_host.hpp"
#include "mm/frame_allocator.hpp"
#include "vmm/worker/vm_manager.hpp"

namespace halcyon::worker {

class VmManagerHost final : public mgmt::VmHost {
public:
    VmManagerHost(VmManager& manager, const mgmt::net::HostFacts& facts, mm::FrameAllocator& frames,
                  uint64_t boot_tsc)
        : manager_(manager), facts_(facts), frames_(frames), boot_tsc_(boot_tsc) {}

    [[nodiscard]] ErrorOr<mgmt::HostInfo> host_info() override;
    [[nodiscard]] uint32_t vm_count() override { return manager_.count(); }
    [[nodiscard]] ErrorOr<mgmt::VmInfo> vm_at(uint32_t index) override;
    [[nodiscard]] ErrorOr<mgmt::VmInfo> find_vm(std::string_view name) override;
    [[nodiscard]] ErrorOr<void> create_vm(const mgmt::VmSpec& spec) override;
    [[nodiscard]] ErrorOr<void> set_vm(std::string_view name,
                                       const mgmt::VmChanges& changes) override;
    [[nodiscard]] ErrorOr<void> remove_vm(std::string_view name) override {
        return manager_.remove(name);
    }
    [[nodiscard]] ErrorOr<void> start_vm(std::string_view name) override {
        return manager_.start(name);
    }
    [[nodiscard]] ErrorOr<void> stop_vm(std::string_view name, mgmt::StopMode mode) override;
    [[nodiscard]] ErrorOr<void> restart_vm(std::string_view name) override {
        return manager_.restart(name);
    }
    [[nodiscard]] ErrorOr<void> suspend_vm(std::string_view name) override {
        return manager_.suspend(name);
    }
    [[nodiscard]] ErrorOr<void> resume_vm(std::string_view name) override {
        return manager_.resume(name);
    }
    [[nodiscard]] ErrorOr<mgmt::StreamRead> read_log(uint64_t since, std::span<char> out) override;
    [[nodiscard]] ErrorOr<mgmt::StreamRead> read_console(std::string_view name, uint64_t since,
                                                         std::span<char> out) override;
    [[nodiscard]] ErrorOr<size_t> write_console(std::string_view name,
                                                std::span<const uint8_t> input) override {
        return manager_.write_console(name, input);
    }
    [[nodiscard]] ErrorOr<mgmt::FileStatus> write_file(std::string_view path, uint64_t offset,
                                                       uint64_t total_size,
                                                       std::span<const uint8_t> data) override;

private:
    VmManager& manager_;
    mgmt::net::HostFacts facts_;
    mm::FrameAllocator& frames_;
    uint64_t boot_tsc_;
};

} // namespace halcyon::worker
