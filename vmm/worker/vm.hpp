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
#include "vmm/worker/vm_manager_files.hpp"
#include "vmm/worker/vm_manager_lifecycle.hpp"

#include <stdint.h>

namespace halcyon::worker {

class CpuRunner;
class VmPlatform;
class VmVmbus;
class VmBootstrap;

inline constexpr uint32_t kNotInGuest = ~0u;

enum class VmState : uint8_t {
    running,
    paused,    // Suspend-VM: vCPUs are not scheduled, memory and devices are kept
    resetting, // a guest-requested reboot or Restart-VM: vCPUs park, the last one rebuilds the VM
    stopped,
};

// Written once by the CPU that adopts the vCPU, read by any CPU (Vm::vcpu_has_work): `runner`
// is published last (release) and read first (acquire); null until then.
struct VcpuPlacement {
    CpuRunner* runner = nullptr;
    uint32_t cpu = 0; // index of the physical CPU whose run queue holds the vCPU
    sched::EntityId entity;
};

// How many times a VM has stopped since boot (any CPU): the manager's cheap test for "look at
// the VMs now" after its CPU was kicked by a stop.
[[nodiscard]] uint64_t vm_stop_count();

class Vm final : public vmm::PartitionObserver {
public:
    // `console` and `files` belong to the caller (the VM manager) and outlive the VM: the console
    // keeps its output across restarts; `files` (may be null) is searched for the kernel and
    // initrd before the boot modules and the datastore (vm_files.hpp).
    // `bootstrap` (may be null; outlives the VM) makes the VM's memory and image instead of
    // config.kernel (vm_bootstrap.hpp: the management partition).
    Vm(const config::VmConfig& config, uint32_t address_space_id, const handoff::Handoff& handoff,
       mm::FrameAllocator& frames, ConsoleBuffer& console, VmFileSource* files = nullptr,
       VmBootstrap* bootstrap = nullptr)
        : config(config), address_space_id(address_space_id), handoff(handoff), frames(frames),
          console(console), bootstrap(bootstrap), files_(files) {}
    ~Vm();

    // Creates the partition, vCPUs and devices and loads the guest (vm_loader.cpp).
    [[nodiscard]] ErrorOr<void> build();
    // After a guest reboot: fresh memory contents, devices, vCPU state; same partition.
    [[nodiscard]] ErrorOr<void> rebuild();

    // PartitionObserver (any CPU).
    void vcpu_has_work(uint32_t index) override;
    void end_of_interrupt(uint8_t vector) override;
    void synic_end_of_message(uint32_t index) override;

    // With `lock` held: the VM (or one vCPU) stops for good. `why` must be a static string.
    void stop(const char* why, StopCause cause = StopCause::failure, uint32_t raw_code = 0);
    void stop_vcpu(uint32_t index, const char* why, StopCause cause);
    // With `lock` held: a reboot starts (every vCPU parks, the last one rebuilds): the guest's
    // own, or Restart-VM's (`by_guest` false; also from a paused VM).
    void request_reset(bool by_guest = true);
    // With `lock` held: Suspend-VM / Resume-VM. Paused vCPUs leave the guest at their next exit
    // (they are kicked) and are not scheduled until resumed.
    void pause();
    void resume();
    // Makes every vCPU's owner look at it again (after a state change of the whole VM).
    void wake_all();

    // A file the VM names (kernel, initrd): the manager's sources first, then vm_file_bytes().
    [[nodiscard]] ErrorOr<std::span<const uint8_t>> file_bytes(const char* path);

    // The CPUs' hold on the VM: vCPUs handed to a CPU runner and not yet given back. The VM may
    // be destroyed only when it is stopped and this is 0 (no CPU looks at it any more).
    [[nodiscard]] uint32_t vcpus_held() const {
        return __atomic_load_n(&held_vcpus, __ATOMIC_ACQUIRE);
    }
    [[nodiscard]] uint32_t vcpus_adopted() const {
        return __atomic_load_n(&adopted_vcpus, __ATOMIC_ACQUIRE);
    }

    const config::VmConfig& config;
    const uint32_t address_space_id;
    const handoff::Handoff& handoff;
    mm::FrameAllocator& frames;
    vmm::Partition* partition = nullptr;
    VmPlatform* platform = nullptr;
    VmVmbus* vmbus = nullptr; // `vmbus = yes`: the VMBus host and its VSPs
    mm::SpinLock lock;
    ConsoleBuffer& console;
    VmBootstrap* const bootstrap;
    VmState state = VmState::running;
    // Why the VM stopped (valid once state == stopped): the cause and its message.
    StopCause stop_cause = StopCause::failure;
    const char* stop_reason = "";
    uint32_t held_vcpus = 0;    // see vcpus_held(); atomic
    uint32_t adopted_vcpus = 0; // vCPUs a CPU runner has put in its run queue so far; atomic
    bool vcpu_running[vmm::kMaxVcpusPerPartition] = {};
    uint32_t running_vcpus = 0;
    uint32_t parked_vcpus = 0; // while resetting
    uint32_t resets = 0;
    uint64_t intercepts = 0;
    VcpuPlacement placement[vmm::kMaxVcpusPerPartition];
    // The physical CPU in whose guest mode the vCPU is right now (kNotInGuest otherwise), so an
    // interrupt for it can kick that CPU out of the guest.
    uint32_t in_guest_on[vmm::kMaxVcpusPerPartition];
    // The CPU that owns the VM (the manager's): kicked when the VM stops, so it frees the VM
    // without polling for it. kNotInGuest: nobody.
    uint32_t owner_cpu = kNotInGuest;

private:
    [[nodiscard]] ErrorOr<void> load();
    [[nodiscard]] ErrorOr<void> build_bootstrapped();
    [[nodiscard]] ErrorOr<void> mark_running();

    struct FileCache {
        std::span<const uint8_t> bytes;
        bool found = false;
    };

    VmFileSource* files_;
    FileCache kernel_file_;
    FileCache initrd_file_;
};

} // namespace halcyon::worker
