// The VM manager's table of VMs, its reports, consoles, uploads and event log, and the BSP's
// loop. Starting, stopping and freeing VMs are in vm_manager_start.cpp.
#include "vmm/worker/vm_manager.hpp"

#include "lib/format/format.hpp"
#include "mgmt/net/service.hpp"
#include "mm/physical_window.hpp"
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/cpu_mailbox.hpp"
#include "vmm/arch/x86_64/preemption_timer.hpp"
#include "vmm/core/log.hpp"
#include "vmm/partition/object_memory.hpp"
#include "vmm/vmbus/ic/kvp_ic.hpp"
#include "vmm/worker/vm.hpp"
#include "vmm/worker/vm_manager_record.hpp"
#include "vmm/worker/vm_platform.hpp"
#include "vmm/worker/vm_vmbus.hpp"
#include "vmm/worker/vm_worker.hpp"

#include <new>
#include <stdarg.h>
#include <string.h>

namespace halcyon::worker {
namespace {

// How often the manager looks at its VMs (Starting -> Running, graceful stops, freeing).
constexpr uint64_t kTicksPerSecond = 100;

void run_cpu(void* runner) {
    static_cast<CpuRunner*>(runner)->run_forever();
}

uint64_t min(uint64_t a, uint64_t b) {
    return a < b ? a : b;
}

} // namespace

// Uploaded files in contiguous frames through the direct map (the Linux loader takes a file as
// one span).
class VmManager::UploadFrames final : public UploadMemory {
public:
    explicit UploadFrames(mm::FrameAllocator& frames) : frames_(frames) {}

    ErrorOr<std::span<uint8_t>> allocate(uint64_t bytes) override {
        const uint64_t physical = TRY(frames_.allocate(pages(bytes)));
        return std::span<uint8_t>(mm::PhysicalWindow::direct_map().to_virtual<uint8_t>(physical),
                                  bytes);
    }
    void release(std::span<uint8_t> memory) override {
        const uint64_t physical =
            reinterpret_cast<uint64_t>(memory.data()) - handoff::kDirectMapBase;
        if (frames_.free(physical, pages(memory.size())).is_error())
            log::error("vm manager: an uploaded file's memory at %#llx could not be freed",
                       static_cast<unsigned long long>(physical));
    }

private:
    static size_t pages(uint64_t bytes) {
        return static_cast<size_t>((bytes + mm::kPageSize - 1) / mm::kPageSize);
    }
    mm::FrameAllocator& frames_;
};

VmManager::VmManager(const handoff::Handoff& handoff, mm::FrameAllocator& frames, uint64_t tsc_hz)
    : handoff_(handoff), frames_(frames), tsc_hz_(tsc_hz) {}

ErrorOr<VmManager*> VmManager::create(const handoff::Handoff& handoff, mm::FrameAllocator& frames,
                                      uint64_t tsc_hz) {
    auto* manager = new (std::nothrow) VmManager(handoff, frames, tsc_hz);
    void* records = vmm::allocate_object(sizeof(Record) * kMaxVms, alignof(Record));
    if (manager == nullptr || records == nullptr) {
        delete manager;
        vmm::free_object(records);
        return Error(ErrorCode::out_of_memory, "no memory for the VM manager");
    }
    // Element by element: an array placement-new may want room for a cookie.
    manager->records_ = static_cast<Record*>(records);
    for (uint32_t i = 0; i < kMaxVms; ++i)
        new (&manager->records_[i]) Record();
    manager->upload_memory_ = new (std::nothrow) UploadFrames(frames);
    if (manager->upload_memory_ == nullptr)
        return Error(ErrorCode::out_of_memory, "no memory for the VM manager");
    manager->uploads_ = new (std::nothrow) UploadedFiles(*manager->upload_memory_);
    if (manager->uploads_ == nullptr)
        return Error(ErrorCode::out_of_memory, "no memory for the VM manager's files");

    // The kick (preemption_timer::kick) that tells a CPU about new vCPUs needs its interrupt
    // handler, which the timer registers on its first use: an unhandled vector is never
    // acknowledged (EOI), and would block every kick and timer interrupt of that CPU from then
    // on. Arm once here, before any CPU can be kicked.
    if (auto armed = x86::preemption_timer::arm(x86::rdtsc()); armed.is_error())
        log::warn("VM worker: no preemption timer (%s)", armed.error().message());
    uint32_t cpus[x86::kMaxCpus];
    const uint32_t cpu_count = usable_cpus(cpus);
    for (uint32_t c = 0; c < cpu_count; ++c) {
        void* memory = vmm::allocate_object(sizeof(CpuRunner), alignof(CpuRunner));
        if (memory == nullptr) {
            log::error("VM worker: no memory for cpu%u's run queue", cpus[c]);
            continue;
        }
        auto* runner = new (memory) CpuRunner(cpus[c], tsc_hz);
        // The APs run their loops from now on; the BSP's runs in run().
        if (c > 0) {
            if (auto posted = x86::mailbox::post(cpus[c], run_cpu, runner); posted.is_error()) {
                log::warn("VM worker: cpu%u unavailable (%s)", cpus[c], posted.error().message());
                delete runner;
                continue;
            }
        }
        manager->runners_[manager->runner_count_++] = runner;
    }
    if (manager->runner_count_ == 0 || manager->runners_[0]->cpu_index() != cpus[0])
        return Error(ErrorCode::out_of_memory, "no run queue for the management CPU");
    manager->runners_[0]->set_housekeeping(manager);
    return manager;
}

void VmManager::start_configured(const config::BootConfig& config) {
    for (uint32_t i = 0; i < config.vm_count; ++i) {
        const config::VmConfig& vm_config = config.vms[i];
        if (auto defined = define(vm_config); defined.is_error()) {
            log::error("vm %s: cannot start: %s", vm_config.name, defined.error().message());
            continue;
        }
        Record& record = *find(vm_config.name);
        if (auto started = start_record(record, /*at_boot=*/true); started.is_error()) {
            log::error("vm %s: cannot start: %s", vm_config.name, started.error().message());
            record.state = LifeState::crashed;
        }
    }
    if (config.vm_count > 0 && live_count() == 0)
        log::info("all VMs stopped");
}

void VmManager::run(bool until_all_off) {
    CpuRunner& runner = *runners_[0];
    until_all_off_ = until_all_off;
    while (!until_all_off || live_count() > 0)
        runner.step();
}

uint64_t VmManager::housekeeping(uint64_t now) {
    // CPU 0 also carries the management network (polled; see mgmt/net/service.hpp): the API
    // calls the manager from inside this poll.
    mgmt::net::Service* net = mgmt::net::active();
    if (net != nullptr)
        net->poll(now);
    // The checks run when a VM stopped (its CPU kicked this one) and, while a VM is between
    // states, every tick; a steady VM costs nothing here.
    const uint64_t stops = vm_stop_count();
    if (stops != stops_seen_ || (now >= next_tick_ && needs_checks())) {
        stops_seen_ = stops;
        tick(now);
        next_tick_ = now + tsc_hz_ / kTicksPerSecond;
    }
    if (until_all_off_ && live_count() == 0)
        return now; // the loop ends now (on_ready = poweroff)
    const uint64_t checks = needs_checks() ? next_tick_ : sched::kNoEvent;
    // Otherwise nothing needs this CPU until a kick (a VM that stops kicks it: Vm::owner_cpu).
    return net != nullptr ? min(checks, now + net->poll_interval_tsc()) : checks;
}

// Whether a VM is between states that only the periodic checks move on: Starting (until its
// vCPUs are taken up), Stopping (a graceful stop's fallback, or the CPUs letting go).
bool VmManager::needs_checks() const {
    for (uint32_t i = 0; i < count_; ++i) {
        const LifeState state = records_[order_[i]].state;
        if (state == LifeState::starting || state == LifeState::stopping)
            return true;
    }
    return false;
}

VmManager::Record* VmManager::find(std::string_view name) {
    for (uint32_t i = 0; i < count_; ++i) {
        Record& record = records_[order_[i]];
        if (std::string_view(record.config.name) == name)
            return &record;
    }
    return nullptr;
}

ErrorOr<VmManager::Record*> VmManager::lookup(std::string_view name) {
    Record* record = find(name);
    if (record == nullptr)
        return Error(ErrorCode::not_found, "no VM with this name");
    return record;
}

uint32_t VmManager::live_count() const {
    uint32_t live = 0;
    for (uint32_t i = 0; i < count_; ++i)
        live += is_live(records_[order_[i]].state) ? 1 : 0;
    return live;
}

void VmManager::event(const char* fmt, ...) {
    char line[160];
    va_list args;
    va_start(args, fmt);
    const size_t length = format::vformat(line, sizeof(line), fmt, args);
    va_end(args);
    const size_t used = length < sizeof(line) ? length : sizeof(line) - 1;
    events_.append(std::string_view(line, used));
    log::info("vm manager: %.*s", static_cast<int>(used), line);
}

VmReport VmManager::make_report(Record& record) {
    VmReport report;
    report.config = &record.config;
    report.state = record.state;
    report.status = record.status;
    Vm* vm = record.vm;
    if (vm == nullptr)
        return report;
    report.uptime_ms = (x86::rdtsc() - record.started_tsc) / (tsc_hz_ / 1000);
    if (vm->vmbus == nullptr)
        return report;
    const vmm::vmbus::ic::HeartbeatInfo heartbeat = vm->vmbus->heartbeat_service().info();
    report.has_heartbeat = true;
    report.heartbeat = heartbeat.status;
    report.application = heartbeat.application;
    const vmm::vmbus::ic::KvpIc& kvp = vm->vmbus->kvp_service();
    auto copy = [](ErrorOr<uint32_t> length, char(&out)[256]) {
        const uint32_t used = length.is_error() ? 0 : length.value();
        out[used < sizeof(out) ? used : sizeof(out) - 1] = '\0';
    };
    copy(kvp.hostname(std::span(report.computer_name, sizeof(report.computer_name) - 1)),
         report.computer_name);
    copy(kvp.ipv4_addresses(std::span(report.ipv4_addresses, sizeof(report.ipv4_addresses) - 1)),
         report.ipv4_addresses);
    copy(kvp.ipv6_addresses(std::span(report.ipv6_addresses, sizeof(report.ipv6_addresses) - 1)),
         report.ipv6_addresses);
    return report;
}

ErrorOr<VmReport> VmManager::report_at(uint32_t index) {
    if (index >= count_)
        return Error(ErrorCode::not_found, "no such VM");
    return make_report(records_[order_[index]]);
}

ErrorOr<VmReport> VmManager::report(std::string_view name) {
    Record* record = TRY(lookup(name));
    return make_report(*record);
}

ErrorOr<void> VmManager::define(const config::VmConfig& config) {
    if (find(config.name) != nullptr)
        return Error(ErrorCode::already_exists, "a VM with this name exists");
    if (count_ == kMaxVms)
        return Error(ErrorCode::out_of_memory, "the host has no room for more VMs (at most 16)");
    uint32_t slot = 0;
    while (records_[slot].used)
        ++slot;
    Record& record = records_[slot];
    record.~Record();
    new (&record) Record();
    record.used = true;
    record.config = config;
    order_[count_++] = static_cast<uint8_t>(slot);
    event("created VM %s", config.name);
    return {};
}

ErrorOr<config::VmConfig*> VmManager::config_to_change(std::string_view name) {
    Record* record = TRY(lookup(name));
    (void)TRY(lifecycle_transition(record->state, LifeOp::change));
    return &record->config;
}

void VmManager::changed(std::string_view name) {
    if (Record* record = find(name))
        event("changed VM %s", record->config.name);
}

ErrorOr<void> VmManager::remove(std::string_view name) {
    Record* record = TRY(lookup(name));
    (void)TRY(lifecycle_transition(record->state, LifeOp::remove));
    event("removed VM %s", record->config.name);
    const uint32_t slot = static_cast<uint32_t>(record - records_);
    record->used = false;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < count_; ++i) {
        if (order_[i] != slot)
            order_[kept++] = order_[i];
    }
    count_ = kept;
    return {};
}

ErrorOr<StreamSlice> VmManager::read_console(std::string_view name, uint64_t since,
                                             std::span<char> out) {
    Record* record = TRY(lookup(name));
    // A live VM's COM1 writes the console under the VM's lock (on any CPU).
    Vm* vm = record->vm;
    if (vm != nullptr)
        vm->lock.lock();
    const ConsoleBuffer& console = record->console;
    const StreamSlice slice =
        read_stream(console.total_written(), console.size(), since, out,
                    [&console](uint64_t offset, std::span<char> to) {
                        // copy() gives the newest bytes: take those from `offset` on.
                        uint8_t newest[ConsoleBuffer::kCapacity];
                        const size_t count = console.copy(
                            newest, static_cast<size_t>(console.total_written() - offset));
                        memcpy(to.data(), newest, to.size() < count ? to.size() : count);
                    });
    if (vm != nullptr)
        vm->lock.unlock();
    return slice;
}

ErrorOr<size_t> VmManager::write_console(std::string_view name, std::span<const uint8_t> input) {
    Record* record = TRY(lookup(name));
    if (record->vm == nullptr)
        return Error(ErrorCode::busy, "the VM is not running");
    Vm& vm = *record->vm;
    mm::SpinLockGuard guard(vm.lock);
    if (vm.state == VmState::stopped || vm.platform == nullptr)
        return Error(ErrorCode::busy, "the VM is not running");
    if (vm.state == VmState::resetting) // its COM1 is being made anew (CpuRunner::rebuild)
        return Error(ErrorCode::busy, "the VM is restarting: try again in a moment");
    size_t accepted = 0;
    while (accepted < input.size() && vm.platform->console_input(input[accepted]))
        ++accepted;
    return accepted;
}

ErrorOr<UploadProgress> VmManager::write_file(std::string_view path, uint64_t offset,
                                              uint64_t total, std::span<const uint8_t> data) {
    const UploadProgress progress = TRY(uploads_->write(path, offset, total, data));
    if (progress.received == progress.size && offset + data.size() == total)
        event("received file %.*s (%llu bytes)", static_cast<int>(path.size()), path.data(),
              static_cast<unsigned long long>(progress.size));
    return progress;
}

} // namespace halcyon::worker
