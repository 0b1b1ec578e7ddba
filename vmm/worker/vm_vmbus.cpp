#include "vmm/worker/vm_vmbus.hpp"

#include "mgmt/net/core_platform.hpp"
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/tsc.hpp"
#include "vmm/core/log.hpp"
#include "vmm/partition/partition.hpp"
#include "vmm/vmbus/ic/heartbeat_ic.hpp"
#include "vmm/vmbus/ic/kvp_ic.hpp"
#include "vmm/vmbus/ic/shutdown_ic.hpp"
#include "vmm/vmbus/ic/timesync_ic.hpp"
#include "vmm/vmbus/storvsp/controller.hpp"
#include "vmm/vmbus/storvsp/vhdx_block_device.hpp"
#include "vmm/vmbus/vmbus_host.hpp"
#include "vmm/worker/locked_scsi_controller.hpp"
#include "vmm/worker/vm.hpp"
#include "vmm/worker/vm_disks.hpp"

#include <new>
#include <string.h>

namespace halcyon::worker {
namespace {

// The controller's instance id: stable for a VM name, so the guest sees the same controller
// (and /dev/disk/by-path names) on every boot. FNV-1a over the name, spread over 16 bytes, with
// the RFC 4122 version (4) and variant bits a random GUID would have.
vmm::vmbus::Guid controller_instance(const char* vm_name, uint8_t controller) {
    uint64_t hash = 0xCBF29CE484222325ull ^ controller;
    for (const char* c = vm_name; *c != '\0'; ++c)
        hash = (hash ^ static_cast<uint8_t>(*c)) * 0x100000001B3ull;
    vmm::vmbus::Guid guid;
    const uint64_t second = (hash ^ 0x5DEECE66Dull) * 0x9E3779B97F4A7C15ull;
    memcpy(guid.bytes, &hash, 8);
    memcpy(guid.bytes + 8, &second, 8);
    guid.bytes[7] = static_cast<uint8_t>((guid.bytes[7] & 0x0F) | 0x40);
    guid.bytes[8] = static_cast<uint8_t>((guid.bytes[8] & 0x3F) | 0x80);
    return guid;
}

} // namespace

// Guest RAM for the VMBus host and its VSPs. An aligned 4- or 8-byte access is one load or
// store (ring indices: a torn read would make a healthy ring look corrupt); anything else is
// checked whole before a byte moves, so a range that leaves RAM touches nothing.
class VmVmbus::RamAccess final : public vmm::vmbus::GuestMemory {
public:
    explicit RamAccess(vmm::Partition& partition) : partition_(partition) {}

    ErrorOr<void> read(uint64_t gpa, std::span<uint8_t> out) override {
        // One lookup for the usual case (a ring page, a data page): the range in one chunk.
        if (const uint8_t* source = partition_.ram_pointer(gpa, out.size())) {
            if (out.size() == 4 && gpa % 4 == 0) {
                const uint32_t value =
                    __atomic_load_n(reinterpret_cast<const uint32_t*>(source), __ATOMIC_ACQUIRE);
                memcpy(out.data(), &value, 4);
            } else if (out.size() == 8 && gpa % 8 == 0) {
                const uint64_t value =
                    __atomic_load_n(reinterpret_cast<const uint64_t*>(source), __ATOMIC_ACQUIRE);
                memcpy(out.data(), &value, 8);
            } else {
                memcpy(out.data(), source, out.size());
            }
            return {};
        }
        if (!partition_.is_ram(gpa, out.size()))
            return outside();
        return partition_.read_guest(gpa, out.data(), out.size());
    }

    ErrorOr<void> write(uint64_t gpa, std::span<const uint8_t> data) override {
        if (uint8_t* target = partition_.ram_pointer(gpa, data.size())) {
            if (data.size() == 4 && gpa % 4 == 0) {
                uint32_t value;
                memcpy(&value, data.data(), 4);
                __atomic_store_n(reinterpret_cast<uint32_t*>(target), value, __ATOMIC_RELEASE);
            } else if (data.size() == 8 && gpa % 8 == 0) {
                uint64_t value;
                memcpy(&value, data.data(), 8);
                __atomic_store_n(reinterpret_cast<uint64_t*>(target), value, __ATOMIC_RELEASE);
            } else {
                memcpy(target, data.data(), data.size());
            }
            return {};
        }
        // Across chunks: checked whole first, so a range that leaves RAM touches nothing.
        if (!partition_.is_ram(gpa, data.size()))
            return outside();
        return partition_.write_guest(gpa, data.data(), data.size());
    }

private:
    static ErrorOr<void> outside() {
        return Error(ErrorCode::out_of_range, "guest address outside the VM's memory");
    }

    vmm::Partition& partition_;
};

// The VMBus host's log lines with the VM's name in front: with several VMs on one Halcyon, a
// refusal has to say whose guest it refused.
class VmVmbus::HostLog final : public vmm::vmbus::LogSink {
public:
    explicit HostLog(const char* vm_name) : vm_name_(vm_name) {}

    void line(vmm::vmbus::LogLevel level, const char* text) override {
        switch (level) {
        case vmm::vmbus::LogLevel::error:
            log::error("vm %s: %s", vm_name_, text);
            return;
        case vmm::vmbus::LogLevel::warn:
            log::warn("vm %s: %s", vm_name_, text);
            return;
        case vmm::vmbus::LogLevel::info:
            log::info("vm %s: %s", vm_name_, text);
            return;
        case vmm::vmbus::LogLevel::debug:
            log::debug("vm %s: %s", vm_name_, text);
            return;
        }
    }

private:
    const char* vm_name_;
};

// The integration services of the VM, offered on its bus like Hyper-V's.
struct VmVmbus::Services {
    Services(vmm::vmbus::VmbusHost& host, const vmm::hyperv::ReferenceClock& clock,
             uint64_t utc_at_creation, const vmm::vmbus::ic::IcServiceConfig& base)
        : endpoints(host), time(clock, utc_at_creation),
          shutdown(endpoints, with_instance<vmm::vmbus::ic::ShutdownConfig>(
                                  base, vmm::vmbus::ic::kShutdownInstance)),
          heartbeat(endpoints, with_instance<vmm::vmbus::ic::HeartbeatConfig>(
                                   base, vmm::vmbus::ic::kHeartbeatInstance)),
          timesync(endpoints, time,
                   with_instance<vmm::vmbus::ic::TimesyncConfig>(
                       base, vmm::vmbus::ic::kTimesyncInstance)),
          kvp(endpoints,
              with_instance<vmm::vmbus::ic::KvpConfig>(base, vmm::vmbus::ic::kKvpInstance)) {}

    template <typename Config>
    static Config with_instance(const vmm::vmbus::ic::IcServiceConfig& base,
                                const vmm::vmbus::Guid& instance) {
        Config config;
        config.ic = base;
        config.ic.instance = instance;
        return config;
    }

    void tick(uint64_t now) {
        shutdown.tick(now);
        heartbeat.tick(now);
        timesync.tick(now);
        kvp.tick(now);
    }

    vmm::vmbus::ic::VmbusEndpoints<vmm::vmbus::VmbusHost> endpoints;
    vmm::vmbus::ic::PartitionTimeSource time;
    vmm::vmbus::ic::ShutdownIc shutdown;
    vmm::vmbus::ic::HeartbeatIc heartbeat;
    vmm::vmbus::ic::TimesyncIc timesync;
    vmm::vmbus::ic::KvpIc kvp;
};

ErrorOr<VmVmbus*> VmVmbus::create(Vm& vm) {
    auto* vmbus = new (std::nothrow) VmVmbus(vm);
    if (vmbus == nullptr)
        return Error(ErrorCode::out_of_memory, "no memory for the VM's VMBus");
    if (auto built = vmbus->build(); built.is_error()) {
        delete vmbus;
        return built.release_error();
    }
    return vmbus;
}

ErrorOr<void> VmVmbus::build() {
    vmm::Partition& partition = *vm_.partition;
    memory_ = new (std::nothrow) RamAccess(partition);
    if (memory_ == nullptr)
        return Error(ErrorCode::out_of_memory, "no memory for the VMBus host");
    host_log_ = new (std::nothrow) HostLog(vm_.config.name);
    if (host_log_ == nullptr)
        return Error(ErrorCode::out_of_memory, "no memory for the VMBus host");
    vmm::vmbus::VmbusHostConfig host_config;
    host_config.vcpu_count = vm_.config.vcpus;
    host_ = new (std::nothrow) vmm::vmbus::VmbusHost(*memory_, partition, *host_log_, host_config);
    if (host_ == nullptr)
        return Error(ErrorCode::out_of_memory, "no memory for the VMBus host");

    // The SCSI controller when the VM has disks, with one sub-channel per further vCPU
    // (multi-queue, as Hyper-V).
    if (vm_.config.disk_count > 0)
        TRY(add_scsi_controller());
    TRY(add_integration_services());
    tick_interval_ = x86::tsc::frequency_hz() / 1000 * kTickMs;
    next_tick_ = x86::rdtsc() + tick_interval_;
    for (const vmm::vmbus::PortBinding& binding : host_->ports())
        TRY(partition.set_synic_port(binding.connection_id, binding.port));
    log::info("vm %s: VMBus host ready (protocol up to 5.3), %u disk%s on synthetic SCSI",
              vm_.config.name, lun_count_, lun_count_ == 1 ? "" : "s");
    return {};
}

ErrorOr<void> VmVmbus::add_scsi_controller() {
    vmm::storvsp::ControllerConfig scsi_config;
    scsi_config.instance = controller_instance(vm_.config.name, 0);
    scsi_config.max_subchannels = static_cast<uint16_t>(vm_.config.vcpus - 1);
    scsi_ = new (std::nothrow) LockedScsiController(*host_, scsi_config);
    if (scsi_ == nullptr)
        return Error(ErrorCode::out_of_memory, "no memory for the SCSI controller");
    disks_ = TRY(VmDisks::open(vm_.config, vm_.handoff, vm_.frames));
    for (uint32_t i = 0; i < disks_->count(); ++i) {
        luns_[i] =
            new (std::nothrow) vmm::storvsp::VhdxBlockDevice(disks_->disk(i), disks_->read_only(i));
        if (luns_[i] == nullptr)
            return Error(ErrorCode::out_of_memory, "no memory for a disk");
        lun_count_ = i + 1;
        TRY(scsi_->with_controller([&](vmm::storvsp::Controller& controller) {
            return controller.attach(static_cast<uint8_t>(i), *luns_[i]);
        }));
    }
    return host_->add_device(*scsi_);
}

ErrorOr<void> VmVmbus::add_integration_services() {
    const int64_t unix_seconds = mgmt::net::read_rtc_unix_seconds();
    if (unix_seconds <= 0)
        log::warn("vm %s: the host clock reads as invalid: time sync sends no samples",
                  vm_.config.name);
    const uint64_t now = x86::rdtsc();
    const vmm::hyperv::ReferenceClock& clock = vm_.partition->reference_clock();
    // UTC when the reference clock read zero: now minus the reference time elapsed so far.
    const uint64_t utc_now = unix_seconds > 0
                                 ? vmm::vmbus::ic::PartitionTimeSource::utc_from_unix_seconds(
                                       static_cast<uint64_t>(unix_seconds))
                                 : 0;
    const uint64_t elapsed = clock.time_at(now);
    vmm::vmbus::ic::IcServiceConfig base;
    base.tsc_hz = x86::tsc::frequency_hz();
    services_ =
        new (std::nothrow) Services(*host_, clock, utc_now > elapsed ? utc_now - elapsed : 0, base);
    if (services_ == nullptr)
        return Error(ErrorCode::out_of_memory, "no memory for the integration services");
    TRY(host_->add_device(services_->shutdown));
    TRY(host_->add_device(services_->timesync));
    TRY(host_->add_device(services_->heartbeat));
    TRY(host_->add_device(services_->kvp));
    static constexpr char kKey[] = "VirtualMachineName";
    (void)services_->kvp.set(vmm::vmbus::ic::KvpPool::auto_external, kKey, vm_.config.name, now);
    return {};
}

void VmVmbus::tick(uint64_t now) {
    if (now < next_tick_)
        return;
    next_tick_ = now + tick_interval_;
    host_->poll();
    services_->tick(now);
    deliver_scsi_notifications();
    report_trims();
}

// What the guest's trims (UNMAP, WRITE SAME with UNMAP) did to its disks since the last tick:
// one line per disk that was trimmed, so a trim's effect on the VHDX shows without a line per
// command (a guest can trim in a loop).
void VmVmbus::report_trims() {
    for (uint32_t i = 0; i < lun_count_; ++i) {
        if (luns_[i] == nullptr)
            continue; // hot-removed
        const vmm::storvsp::VhdxBlockDevice::TrimReport report = luns_[i]->take_trim_report();
        if (report.trims == 0)
            continue;
        log::info("vm %s: disk %u (%s): %llu trim%s: payload blocks allocated %llu -> %llu of %llu",
                  vm_.config.name, i, disks_->name(i),
                  static_cast<unsigned long long>(report.trims), report.trims == 1 ? "" : "s",
                  static_cast<unsigned long long>(report.before),
                  static_cast<unsigned long long>(report.after),
                  static_cast<unsigned long long>(luns_[i]->payload_blocks()));
    }
}

VmVmbus::~VmVmbus() {
    if (host_ != nullptr && vm_.partition != nullptr) {
        for (const vmm::vmbus::PortBinding& binding : host_->ports())
            (void)vm_.partition->set_synic_port(binding.connection_id, nullptr);
    }
    // The VM is gone: what its disks hold now (the last trims first, if the tick missed them).
    report_trims();
    for (uint32_t i = 0; i < lun_count_; ++i) {
        if (luns_[i] == nullptr)
            continue; // hot-removed
        log::info("vm %s: disk %u (%s): %llu of %llu payload blocks allocated", vm_.config.name, i,
                  disks_->name(i), static_cast<unsigned long long>(luns_[i]->allocated_blocks()),
                  static_cast<unsigned long long>(luns_[i]->payload_blocks()));
    }
    delete host_;
    delete services_;
    delete scsi_;
    for (uint32_t i = 0; i < lun_count_; ++i)
        delete luns_[i];
    delete disks_;
    delete memory_;
    delete host_log_;
}

void VmVmbus::poll() {
    host_->poll();
}

vmm::vmbus::ic::ShutdownIc& VmVmbus::shutdown_service() {
    return services_->shutdown;
}

const vmm::vmbus::ic::HeartbeatIc& VmVmbus::heartbeat_service() const {
    return services_->heartbeat;
}

const vmm::vmbus::ic::KvpIc& VmVmbus::kvp_service() const {
    return services_->kvp;
}

const vmm::vmbus::ic::TimesyncIc& VmVmbus::timesync_service() const {
    return services_->timesync;
}

void VmVmbus::reset() {
    host_->reset();
}

} // namespace halcyon::worker
