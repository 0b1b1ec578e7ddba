// The VM manager: owns every VM of the host - those of halcyon.cfg and those made over the
// management API - and carries out their lifecycle (vm_manager_lifecycle.hpp) on the worker's
// VMs: builds a VM's partition and devices at Start-VM and hands its vCPUs to the CPUs' run
// loops, pauses, resets and stops them, and frees a stopped VM once no CPU holds it any more.
// It also keeps each VM's console (across restarts), the files uploaded with Copy-VMFile
// (vm_manager_files.hpp) and its own event log (Get-VMLog).
//
// Threads: everything here runs on the management CPU (the BSP): the API server is polled from
// the manager's housekeeping in that CPU's run loop. The other CPUs only run vCPUs; they reach a
// VM through its Vm object (under its lock), never through the manager. A stopped VM is freed
// only when every CPU has given its vCPUs back (Vm::vcpus_held() == 0).
//
// mgmt::VmHost is implemented over this class by vm_manager_host.hpp.
#pragma once

#include "boot/config/config.hpp"
#include "boot/handoff/handoff.hpp"
#include "lib/base/error_or.hpp"
#include "mm/frame_allocator.hpp"
#include "vmm/arch/x86_64/percpu.hpp"
#include "vmm/vmbus/ic/heartbeat_ic.hpp"
#include "vmm/worker/console_buffer.hpp"
#include "vmm/worker/cpu_runner.hpp"
#include "vmm/worker/vm_manager_event_log.hpp"
#include "vmm/worker/vm_manager_files.hpp"
#include "vmm/worker/vm_manager_lifecycle.hpp"

#include <optional>
#include <span>
#include <stdint.h>
#include <string_view>

namespace halcyon::worker {

class Vm;

// One VM as Get-VM shows it.
struct VmReport {
    const config::VmConfig* config = nullptr; // valid until the next call that changes VMs
    LifeState state = LifeState::off;
    uint64_t uptime_ms = 0;
    const char* status = ""; // why it last stopped or failed to start
    // The integration services of a live VM with the VMBus.
    bool has_heartbeat = false;
    vmm::vmbus::ic::HeartbeatStatus heartbeat = vmm::vmbus::ic::HeartbeatStatus::no_contact;
    vmm::vmbus::ic::ApplicationState application = vmm::vmbus::ic::ApplicationState::unknown;
    char computer_name[256] = {};
    char ipv4_addresses[256] = {};
    char ipv6_addresses[256] = {};
};

enum class StopMode : uint8_t { graceful, force, turn_off };

class VmManager final : public RunLoopHousekeeping {
public:
    static constexpr uint32_t kMaxVms = config::kMaxVms;

    // Makes the run loops of every usable CPU (the APs start theirs at once and keep them for
    // the life of the host). Call on the BSP once, after the APs are up.
    [[nodiscard]] static ErrorOr<VmManager*> create(const handoff::Handoff& handoff,
                                                    mm::FrameAllocator& frames, uint64_t tsc_hz);

    // Defines and starts the VMs of halcyon.cfg, in order ("vm NAME: started ..."). A VM that
    // cannot start is reported and stays defined (Crashed, with the reason).
    void start_configured(const config::BootConfig& config);
    // The BSP's loop: vCPUs, the management network and the manager's checks. With
    // `until_all_off` it returns once no VM is live (on_ready = poweroff); else never.
    void run(bool until_all_off);

    // --- management operations (mgmt::VmHost's, in the worker's terms) ---
    [[nodiscard]] uint32_t count() const { return count_; }
    [[nodiscard]] ErrorOr<VmReport> report_at(uint32_t index);
    [[nodiscard]] ErrorOr<VmReport> report(std::string_view name);
    [[nodiscard]] ErrorOr<void> define(const config::VmConfig& config);
    // The configuration of an Off (or Crashed) VM for Set-VM to change; busy otherwise.
    [[nodiscard]] ErrorOr<config::VmConfig*> config_to_change(std::string_view name);
    void changed(std::string_view name);
    [[nodiscard]] ErrorOr<void> remove(std::string_view name);
    [[nodiscard]] ErrorOr<void> start(std::string_view name);
    [[nodiscard]] ErrorOr<void> stop(std::string_view name, StopMode mode);
    [[nodiscard]] ErrorOr<void> restart(std::string_view name);
    [[nodiscard]] ErrorOr<void> suspend(std::string_view name);
    [[nodiscard]] ErrorOr<void> resume(std::string_view name);
    [[nodiscard]] ErrorOr<StreamSlice> read_console(std::string_view name, uint64_t since,
                                                    std::span<char> out);
    [[nodiscard]] ErrorOr<size_t> write_console(std::string_view name,
                                                std::span<const uint8_t> input);
    [[nodiscard]] StreamSlice read_log(uint64_t since, std::span<char> out) const {
        return events_.read(since, out);
    }
    [[nodiscard]] ErrorOr<UploadProgress> write_file(std::string_view path, uint64_t offset,
                                                     uint64_t total, std::span<const uint8_t> data);

    // The VHD verbs' way to a VM (vm_manager_vhd.hpp): its record (configuration, live VM).
    [[nodiscard]] auto record_of(std::string_view name) { return lookup(name); }

    [[nodiscard]] uint64_t housekeeping(uint64_t now) override;
    // The management CPU's run loop (the management partition's vCPU runs there: vmm/mgmt_host).
    [[nodiscard]] CpuRunner& management_runner() { return *runners_[0]; }

private:
    struct Record;
    class UploadFrames;

    VmManager(const handoff::Handoff& handoff, mm::FrameAllocator& frames, uint64_t tsc_hz);

    [[nodiscard]] Record* find(std::string_view name);
    [[nodiscard]] ErrorOr<Record*> lookup(std::string_view name);
    [[nodiscard]] uint32_t live_count() const;
    [[nodiscard]] bool needs_checks() const;
    [[nodiscard]] VmReport make_report(Record& record);
    __attribute__((format(printf, 2, 3))) void event(const char* fmt, ...);

    // vm_manager_start.cpp
    [[nodiscard]] ErrorOr<void> start_record(Record& record, bool at_boot);
    [[nodiscard]] ErrorOr<void> check_disks(const Record& record);
    void pin_files(Record& record, bool pin);
    void place_vcpus(Vm& vm, bool at_boot);
    // The periodic checks (vm_manager_start.cpp): Starting -> Running, graceful stops, freeing.
    void tick(uint64_t now);
    void check(Record& record, uint64_t now);
    void free_stopped(Record& record);
    // After a power-off from here: let the CPUs give the VM back (bounded) and free it, so the
    // answer already says Off.
    void settle(Record& record);
    [[nodiscard]] bool wait_until(Vm& vm, bool (*done)(Vm&));

    const handoff::Handoff& handoff_;
    mm::FrameAllocator& frames_;
    uint64_t tsc_hz_;
    UploadFrames* upload_memory_ = nullptr;
    UploadedFiles* uploads_ = nullptr;
    CpuRunner* runners_[x86::kMaxCpus] = {};
    uint32_t runner_count_ = 0;
    // Records never move (a live VM refers to its record's configuration and console); order_
    // lists the used ones in creation order (Get-VM's order).
    Record* records_ = nullptr; // kMaxVms slots
    uint8_t order_[kMaxVms] = {};
    uint32_t count_ = 0;
    uint32_t next_address_space_ = 1;
    uint64_t next_tick_ = 0;
    uint64_t stops_seen_ = 0; // vm_stop_count() at the last check
    bool until_all_off_ = false;
    EventLog events_;
};

} // namespace halcyon::worker
