// The VmHost the management network serves when this host cannot run VMs (no SVM with nested
// paging, no VT-x with EPT: the VM worker is not started): real host facts for GET /v1/host; no
// VMs are visible (the list is empty, names are not found) and every VM operation, the host
// log, and file uploads fail with not_supported (HTTP 501) saying so. Honest by design: nothing
// here pretends a VM was created or started. Hosts that run VMs serve the VM manager's VmHost
// (vmm/worker/vm_manager_host.hpp) instead.
#pragma once

#include "boot/handoff/handoff.hpp"
#include "mgmt/api/vm_host.hpp"

#include <stdint.h>

namespace halcyon::mgmt::net {

struct HostFacts {
    uint32_t logical_processors = 0;
    uint64_t memory_bytes = 0; // usable RAM in the memory map at boot
    const char* virtualization = "none";
    uint64_t tsc_hz = 0;
};

// Free memory right now (the frame allocator's count), asked on every request.
class FreeMemorySource {
public:
    [[nodiscard]] virtual uint64_t free_bytes() = 0;

protected:
    ~FreeMemorySource() = default;
};

// GET /v1/host's answer from the facts, the free memory now and the TSC at boot (shared with the
// VmHost over the VM worker, vmm/worker/vm_manager_host.hpp).
[[nodiscard]] HostInfo describe_host(const HostFacts& facts, uint64_t free_bytes,
                                     uint64_t boot_tsc);

// Usable RAM in the loader's memory map (HostFacts::memory_bytes); core only (core_service.cpp).
[[nodiscard]] uint64_t usable_memory_bytes(const handoff::Handoff& handoff);

class HostOnlyVmHost final : public VmHost {
public:
    HostOnlyVmHost(const HostFacts& facts, FreeMemorySource& free_memory, uint64_t boot_tsc)
        : facts_(facts), free_memory_(free_memory), boot_tsc_(boot_tsc) {}

    [[nodiscard]] ErrorOr<HostInfo> host_info() override;
    [[nodiscard]] uint32_t vm_count() override { return 0; }
    [[nodiscard]] ErrorOr<VmInfo> vm_at(uint32_t index) override;
    [[nodiscard]] ErrorOr<VmInfo> find_vm(std::string_view name) override;
    [[nodiscard]] ErrorOr<void> create_vm(const VmSpec& spec) override;
    [[nodiscard]] ErrorOr<void> set_vm(std::string_view name, const VmChanges& changes) override;
    [[nodiscard]] ErrorOr<void> remove_vm(std::string_view name) override;
    [[nodiscard]] ErrorOr<void> start_vm(std::string_view name) override;
    [[nodiscard]] ErrorOr<void> stop_vm(std::string_view name, StopMode mode) override;
    [[nodiscard]] ErrorOr<void> restart_vm(std::string_view name) override;
    [[nodiscard]] ErrorOr<void> suspend_vm(std::string_view name) override;
    [[nodiscard]] ErrorOr<void> resume_vm(std::string_view name) override;
    [[nodiscard]] ErrorOr<StreamRead> read_log(uint64_t since, std::span<char> out) override;
    [[nodiscard]] ErrorOr<StreamRead> read_console(std::string_view name, uint64_t since,
                                                   std::span<char> out) override;
    [[nodiscard]] ErrorOr<size_t> write_console(std::string_view name,
                                                std::span<const uint8_t> input) override;
    [[nodiscard]] ErrorOr<FileStatus> write_file(std::string_view path, uint64_t offset,
                                                 uint64_t total_size,
                                                 std::span<const uint8_t> data) override;

private:
    HostFacts facts_;
    FreeMemorySource& free_memory_;
    uint64_t boot_tsc_;
};

} // namespace halcyon::mgmt::net
