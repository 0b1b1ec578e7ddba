#include "vmm/mgmt_host/core/management_partition.hpp"

#include "mgmt/partition/abi/boot_info.hpp"
#include "mgmt/wire/message.hpp"
#include "mgmt/wire/server.hpp"
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/tsc.hpp"
#include "vmm/core/boot_info.hpp"
#include "vmm/core/log.hpp"
#include "vmm/mgmt_host/core/host_rtc.hpp"
#include "vmm/mgmt_host/core/nic_assignment.hpp"
#include "vmm/mgmt_host/pci_filter.hpp"
#include "vmm/mgmt_host/region_layout.hpp"
#include "vmm/mgmt_host/restart_budget.hpp"
#include "vmm/root/dispatch/root_partition.hpp"
#include "vmm/root/management_codec.hpp"
#include "vmm/worker/console_buffer.hpp"
#include "vmm/worker/linux/long_mode.hpp"
#include "vmm/worker/vm.hpp"
#include "vmm/worker/vm_bootstrap.hpp"

#include <new>
#include <string.h>

extern "C" const uint8_t halcyon_mgmt_image_start[];
extern "C" const uint8_t halcyon_mgmt_image_end[];

namespace halcyon::mgmt_host {
namespace {

static_assert(mgmt::wire::kManagementMessageMax == vmm::root::kManagementMessageMax,
              "the core's hypercall buffers and the wire format must agree");

using ull = unsigned long long;

// Address-space id of the management partition (the VM manager's VMs count up from 1, a root's
// children from 0x100).
constexpr uint32_t kAddressSpaceId = 0xFF;
constexpr const char* kName = "mgmt";

class ManagementPartition final : public worker::VmBootstrap,
                                  public worker::ConsoleLineSink,
                                  public vmm::root::ManagementService {
public:
    ManagementPartition(const ManagementStart& start, std::span<const uint8_t> image,
                        std::string_view config_text, const AssignedNic* nic)
        : handoff_(start.handoff), frames_(start.frames), vms_(start.vms), vhds_(start.vhds),
          image_(image), config_text_(config_text), nic_present_(nic != nullptr),
          nic_(nic != nullptr ? *nic : AssignedNic{}),
          filter_(config_access_, nic_.address, nic_present_), budget_(x86::tsc::frequency_hz()) {
        memory_ = start.config.management.partition_memory;
        crash_test_ = start.config.management.crash_test == config::ManagementCrashTest::page_fault
                          ? mgmt::partition::kCrashTestPageFault
                          : mgmt::partition::kCrashTestNone;
        facts_.tsc_hz = x86::tsc::frequency_hz();
        facts_.core_entry_tsc = x86::tsc::entry_tsc();
        facts_.host_memory_bytes = start.host_memory_bytes;
        facts_.logical_processors = start.logical_processors;
        facts_.virtualization = start.virtualization;
        facts_.nic_present = nic_present_;
        facts_.nic_bus = nic_.address.bus;
        facts_.nic_device = nic_.address.device;
        facts_.nic_function = nic_.address.function;
        for (uint32_t i = 0; i < nic_.bar_count; ++i)
            facts_.device_ranges[i] = RegionFacts::Range{nic_.bars[i].base, nic_.bars[i].size};
        facts_.device_range_count = nic_.bar_count;
        memcpy(vm_config_.name, kName, strlen(kName) + 1);
        vm_config_.memory_bytes = memory_;
        vm_config_.vcpus = 1;
        vm_config_.privileged = true;
    }

    ErrorOr<void> boot(worker::CpuRunner& runner) {
        vm_ = new (std::nothrow)
            worker::Vm(vm_config_, kAddressSpaceId, handoff_, frames_, console_, nullptr, this);
        if (vm_ == nullptr)
            return Error(ErrorCode::out_of_memory, "no memory for the management partition");
        TRY(vm_->build());
        TRY(vmm::root::set_management_service(*vm_->partition, this));
        return runner.offer(*vm_, 0);
    }

    // --- VmBootstrap ---
    ErrorOr<void> add_memory(vmm::Partition& partition) override {
        base_ = TRY(partition.add_identity_memory(memory_));
        for (uint32_t i = 0; i < nic_.bar_count; ++i) {
            TRY(partition.map_device_memory(nic_.bars[i].base, nic_.bars[i].size));
            log::info("mgmt partition: NIC registers %#llx-%#llx mapped uncached",
                      static_cast<ull>(nic_.bars[i].base),
                      static_cast<ull>(nic_.bars[i].base + nic_.bars[i].size - 1));
        }
        return {};
    }

    ErrorOr<void> load(vmm::Partition& partition) override {
        facts_.restarts = budget_.restarts();
        facts_.crash_test = crash_test_;
        auto* region = reinterpret_cast<uint8_t*>(handoff::kDirectMapBase + base_);
        const RegionEntry entry = TRY(
            build_region(std::span<uint8_t>(region, memory_), base_, image_, config_text_, facts_));
        worker::LongModeLayout layout;
        layout.cr3 = entry.cr3;
        layout.gdt_base = entry.gdt_base;
        layout.gdt_limit = kGdtLimit;
        layout.code_selector = kCodeSelector;
        layout.data_selector = kDataSelector;
        layout.extra_cr4 = worker::kCr4Osfxsr | worker::kCr4Osxmmexcpt;
        layout.extra_efer = worker::kEferNxe | kEferSce;
        partition.set_system_registers(0, worker::long_mode_system_registers(layout));
        vmm::GeneralRegisters& regs = partition.registers(0);
        regs = vmm::GeneralRegisters{};
        regs.rip = entry.rip;
        regs.rsp = entry.rsp;
        regs.rdi = entry.rdi;
        regs.rflags = 0x2;
        filter_.reset();
        char nic[24] = "none";
        if (nic_present_)
            format_nic(nic, sizeof(nic));
        log::info("mgmt partition: %llu MiB at %#llx, NIC %s, image %llu KiB, entered%s",
                  static_cast<ull>(memory_ >> 20), static_cast<ull>(base_), nic,
                  static_cast<ull>(entry.image_span >> 10),
                  budget_.restarts() > 0 ? " (restarted)" : "");
        return {};
    }

    bool port_read(uint16_t port, uint8_t size, uint32_t& value) override {
        if (HostRtc::claims(port) && size == 1) {
            value = rtc_.read(port);
            return true;
        }
        if (!filter_.claims(port, size))
            return false;
        value = filter_.read(port, size);
        return true;
    }

    bool port_write(uint16_t port, uint8_t size, uint32_t value) override {
        if (HostRtc::claims(port) && size == 1) {
            rtc_.write(port, static_cast<uint8_t>(value));
            return true;
        }
        if (!filter_.claims(port, size))
            return false;
        filter_.write(port, size, value);
        return true;
    }

    worker::ConsoleLineSink* console_lines() override { return this; }

    bool stopping(worker::Vm& vm, const char* why, uint32_t raw_code) override {
        if (vm.state != worker::VmState::running && vm.state != worker::VmState::paused) {
            // The rebuild itself failed: nothing left to restart from.
            log::plain_line("HALCYON MGMT DISABLED: the partition cannot be rebuilt: %s", why);
            return false;
        }
        report_crash(vm, why, raw_code);
        if (!budget_.allow(x86::rdtsc())) {
            log::plain_line("HALCYON MGMT DISABLED: crashed %u times", budget_.crashes());
            if (nic_present_)
                quiesce_nic(config_access_, nic_.address);
            return false;
        }
        // Its NIC must not write into the memory the rebuild clears and reloads.
        if (nic_present_)
            quiesce_nic(config_access_, nic_.address);
        vm.request_reset(/*by_guest=*/false);
        return true;
    }

    // --- ConsoleLineSink: the partition's lines verbatim (tests match "^HALCYON MGMT ...") ---
    void line(const char*, const char* text) override { log::plain_line("%s", text); }

    // --- ManagementService ---
    ErrorOr<size_t> serve(std::span<const uint8_t> request, std::span<uint8_t> response) override {
        return mgmt::wire::serve_management_call(vms_, vhds_, request, response);
    }

private:
    static constexpr uint64_t kEferSce = 1ull << 0;

    void format_nic(char* out, size_t size) const {
        static constexpr char kHex[] = "0123456789abcdef";
        if (size < 8)
            return;
        const uint8_t b = nic_.address.bus, d = nic_.address.device;
        const char text[8] = {kHex[b >> 4],
                              kHex[b & 15],
                              ':',
                              kHex[d >> 4],
                              kHex[d & 15],
                              '.',
                              static_cast<char>('0' + nic_.address.function),
                              '\0'};
        memcpy(out, text, sizeof(text));
    }

    void report_crash(worker::Vm& vm, const char* why, uint32_t raw_code) {
        vmm::Partition& partition = *vm.partition;
        const vmm::GeneralRegisters& r = partition.registers(0);
        const vmm::SystemRegisters s = partition.system_registers(0);
        log::plain_line("HALCYON MGMT CRASHED: %s rip=%#llx (restart %u)", why,
                        static_cast<ull>(r.rip), budget_.restarts() + 1);
        if (raw_code != 0)
            log::plain_line("mgmt crash: exit code %#x", raw_code);
        log::plain_line("mgmt crash: rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx",
                        static_cast<ull>(r.rax), static_cast<ull>(r.rbx), static_cast<ull>(r.rcx),
                        static_cast<ull>(r.rdx));
        log::plain_line("mgmt crash: rsi=%016llx rdi=%016llx rbp=%016llx rsp=%016llx",
                        static_cast<ull>(r.rsi), static_cast<ull>(r.rdi), static_cast<ull>(r.rbp),
                        static_cast<ull>(r.rsp));
        log::plain_line("mgmt crash: r8=%016llx r9=%016llx r10=%016llx r11=%016llx",
                        static_cast<ull>(r.r8), static_cast<ull>(r.r9), static_cast<ull>(r.r10),
                        static_cast<ull>(r.r11));
        log::plain_line("mgmt crash: r12=%016llx r13=%016llx r14=%016llx r15=%016llx",
                        static_cast<ull>(r.r12), static_cast<ull>(r.r13), static_cast<ull>(r.r14),
                        static_cast<ull>(r.r15));
        log::plain_line("mgmt crash: rflags=%llx cr0=%llx cr2=%llx cr3=%llx cr4=%llx efer=%llx",
                        static_cast<ull>(r.rflags), static_cast<ull>(s.cr0),
                        static_cast<ull>(s.cr2), static_cast<ull>(s.cr3), static_cast<ull>(s.cr4),
                        static_cast<ull>(s.efer));
    }

    const handoff::Handoff& handoff_;
    mm::FrameAllocator& frames_;
    mgmt::VmHost& vms_;
    mgmt::VhdHost* vhds_;
    std::span<const uint8_t> image_;
    std::string_view config_text_;
    bool nic_present_;
    AssignedNic nic_;
    PortConfigAccess config_access_;
    PciPortFilter filter_;
    HostRtc rtc_;
    RestartBudget budget_;
    RegionFacts facts_;
    uint64_t memory_ = 0;
    uint64_t base_ = 0;
    uint32_t crash_test_ = 0;
    config::VmConfig vm_config_;
    worker::ConsoleBuffer console_;
    worker::Vm* vm_ = nullptr;
};

} // namespace

ErrorOr<void> start_management_partition(const ManagementStart& start) {
    const std::span<const uint8_t> image(
        halcyon_mgmt_image_start,
        static_cast<size_t>(halcyon_mgmt_image_end - halcyon_mgmt_image_start));
    if (image.empty())
        return Error(ErrorCode::not_found, "no management image was built into the core");
    if (auto checked = check_image(image); checked.is_error()) {
        log::error("mgmt partition: the embedded halcyon-mgmt.elf is unusable: %s",
                   checked.error().message());
        return checked.release_error();
    }
    std::string_view config_text;
    if (auto text = boot_info::module_bytes(start.handoff, "halcyon.cfg"))
        config_text = std::string_view(reinterpret_cast<const char*>(text->data()), text->size());

    auto nic = choose_nic(start.config.management);
    if (nic.is_error())
        log::warn("mgmt partition: no management NIC (%s): it runs without a network",
                  nic.error().message());
    auto* partition = new (std::nothrow)
        ManagementPartition(start, image, config_text, nic.is_error() ? nullptr : &nic.value());
    if (partition == nullptr)
        return Error(ErrorCode::out_of_memory, "no memory for the management partition");
    // On failure the object stays (a half-built VM may refer to it); the host runs without it.
    return partition->boot(start.runner);
}

} // namespace halcyon::mgmt_host
