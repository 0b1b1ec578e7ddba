// One VM as the worker keeps it: its partition, its device models (VmPlatform), its console,
// and where each of its vCPUs is scheduled. Shared by the physical CPUs that run its vCPUs.
//
// Locking: `lock` guards the device models and the run state below; the partition guards its
// own state (vCPUs run unlocked). Partition callbacks (PartitionObserver) take no lock except
// end_of_interrupt, which takes `lock` to reach the IOAPIC; the partition never calls them while
// holding a lock of its own.
#pragma once

#include "boot/config/config.hpp"
#include "boot/handoff/handoff.hpp"
#include "mm/frame_allocator.hpp"
#include "mm/spinlock.hpp"
#include "sched/cpu_scheduler.hpp"
#include "vmm/partition/partition.hpp"
#include "vmm/worker/console_buffer.hpp"

#include <stdint.h>

namespace halcyon::worker {

class CpuRunner;
class VmPlatform;
class VmVmbus;

inline constexpr uint32_t kNotInGuest = ~0u;

enum class VmState : uint8_t {
    running,
    resetting, // a guest-requested reboot: vCPUs park, the last one rebuilds the VM
    stopped,
};

struct VcpuPlacement {
    CpuRunner* runner = nullptr;
    uint32_t cpu = 0; // index of the physical CPU whose run queue holds the vCPU
    sched::EntityId entity;
};

class Vm final : public vmm::PartitionObserver {
public:
    Vm(const config::VmConfig& config, uint32_t address_space_id, const handoff::Handoff& handoff,
       mm::FrameAllocator& frames)
        : config(config), address_space_id(address_space_id), handoff(handoff), frames(frames) {}
    ~Vm();

    // Creates the partition, vCPUs and devices and loads the guest (vm_loader.cpp).
    [[nodiscard]] ErrorOr<void> build();
    // After a guest reboot: fresh memory contents, devices, vCPU state; same partition.
    [[nodiscard]] ErrorOr<void> rebuild();

    // PartitionObserver (any CPU).
    void vcpu_has_work(uint32_t index) override;
    void end_of_interrupt(uint8_t vector) override;
    void synic_end_of_message(uint32_t index) override;

    // With `lock` held: the VM (or one vCPU) stops for good.
    void stop(const char* why, uint32_t raw_code = 0);
    void stop_vcpu(uint32_t index, const char* why);
    // With `lock` held: a guest reboot starts (every vCPU parks, the last one rebuilds).
    void request_reset();
    // Makes every vCPU's owner look at it again (after a state change of the whole VM).
    void wake_all();

    const config::VmConfig& config;
    const uint32_t address_space_id;
    const handoff::Handoff& handoff;
    mm::FrameAllocator& frames;
    vmm::Partition* partition = nullptr;
    VmPlatform* platform = nullptr;
    VmVmbus* vmbus = nullptr; // `vmbus = yes`: the VMBus host and its VSPs
    mm::SpinLock lock;
    ConsoleBuffer console;
    VmState state = VmState::running;
    bool vcpu_running[vmm::kMaxVcpusPerPartition] = {};
    uint32_t running_vcpus = 0;
    uint32_t parked_vcpus = 0; // while resetting
    uint32_t resets = 0;
    uint64_t intercepts = 0;
    VcpuPlacement placement[vmm::kMaxVcpusPerPartition];
    // The physical CPU in whose guest mode the vCPU is right now (kNotInGuest otherwise), so an
    // interrupt for it can kick that CPU out of the guest.
    uint32_t in_guest_on[vmm::kMaxVcpusPerPartition];

private:
    [[nodiscard]] ErrorOr<void> load();
};

} // namespace halcyon::worker
