// kernel_main: the bootstrap processor's path from the loader's hand-off to "HALCYON READY".
//
// Order matters: output first (so every later failure can be reported), then the clock (log
// timestamps), then this CPU's own GDT/IDT (so faults produce crash reports instead of triple
// faults), and only then anything that reads the hand-off or touches memory management.
#include "boot/config/config.hpp"
#include "boot/handoff/handoff.hpp"
#include "drivers/block/core_storage.hpp"
#include "mgmt/net/service.hpp"
#include "mm/heap_core.hpp"
#include "vmm/acpi/acpi.hpp"
#include "vmm/arch/x86_64/backtrace.hpp"
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/percpu.hpp"
#include "vmm/arch/x86_64/power.hpp"
#include "vmm/arch/x86_64/preemption_timer.hpp"
#include "vmm/arch/x86_64/smp.hpp"
#include "vmm/arch/x86_64/tsc.hpp"
#include "vmm/core/boot_info.hpp"
#include "vmm/core/console.hpp"
#include "vmm/core/crash_test.hpp"
#include "vmm/core/log.hpp"
#include "vmm/core/memory_setup.hpp"
#include "vmm/core/panic.hpp"
#include "vmm/core/physical_view.hpp"
#include "vmm/core/symbols.hpp"
#include "vmm/mgmt_host/core/management_partition.hpp"
#include "vmm/virt/virt_cpu.hpp"
#include "vmm/worker/datastore_mount.hpp"
#include "vmm/worker/vm_manager.hpp"
#include "vmm/worker/vm_manager_host.hpp"
#include "vmm/worker/vm_manager_vhd.hpp"

#include <new>
#include <string_view>

extern "C" void (*const __init_array_start[])();
extern "C" void (*const __init_array_end[])();

namespace halcyon {
namespace {

// Large: kept out of the 64 KiB boot stack.
config::BootConfig g_config;
config::Diagnostics g_diagnostics;
acpi::Machine g_machine;

using ull = unsigned long long;

void run_global_constructors() {
    for (auto* constructor = __init_array_start; constructor != __init_array_end; ++constructor)
        (*constructor)();
}

uint32_t bsp_apic_id() {
    // CPUID leaf 0xB gives the full x2APIC ID; leaf 1 the 8-bit xAPIC ID.
    if (x86::cpuid(0).eax >= 0xB && x86::cpuid(0xB, 0).ebx != 0)
        return x86::cpuid(0xB, 0).edx;
    return x86::cpuid(1).ebx >> 24;
}

// The one message a wrong hand-off gets: it goes straight to COM1 (the configuration is unknown).
[[noreturn]] void refuse_handoff(const Error& error) {
    console::write("HALCYON BOOT FAILED: invalid hand-off from the loader: ");
    console::write(error.message());
    console::write("\n");
    x86::halt_forever();
}

void load_configuration(const handoff::Handoff& handoff) {
    const auto text = boot_info::module_bytes(handoff, "halcyon.cfg");
    if (!text) {
        log::warn("no halcyon.cfg module from the loader: using the default configuration");
        return;
    }
    const std::string_view view(reinterpret_cast<const char*>(text->data()), text->size());
    if (!config::parse(view, g_config, g_diagnostics)) {
        // The loader already refused bad files; a failure here means loader and core disagree.
        if (g_diagnostics.count > 0) {
            panicf("halcyon.cfg:%u: %s", g_diagnostics.entries[0].line,
                   g_diagnostics.entries[0].message);
        }
        panic("halcyon.cfg: rejected by the core's parser");
    }
}

void load_symbols(const handoff::Handoff& handoff) {
    const auto elf = boot_info::module_bytes(handoff, "halcyon.elf");
    if (!elf) {
        log::warn("no halcyon.elf module: crash reports will show addresses only");
        return;
    }
    auto result = symbols::init(*elf);
    if (result.is_error())
        log::warn("halcyon.elf module unusable for symbols: %s", result.error().message());
}

void discover_acpi(const handoff::Handoff& handoff) {
    if (handoff.acpi_rsdp == 0)
        panic("the firmware reported no ACPI RSDP: cannot find CPUs or power off");
    // Runs under the loader's page tables, which map all physical memory up to this limit.
    const uint64_t highest = boot_info::highest_address(handoff);
    const DirectMapView view(highest > (4ULL << 30) ? highest : (4ULL << 30));
    auto result = acpi::discover(handoff.acpi_rsdp, view, g_machine);
    if (result.is_error())
        panicf("ACPI discovery failed: %s", result.error().message());
    log::info("ACPI %s (rev %u): %u CPUs, %u I/O APICs, LAPIC %#llx, PM timer %#x, S5 %s",
              g_machine.oem_id, g_machine.revision, g_machine.cpu_count, g_machine.io_apic_count,
              static_cast<ull>(g_machine.local_apic_address), g_machine.pm_timer_port,
              g_machine.s5_valid ? "yes" : "no");
}

} // namespace
} // namespace halcyon

extern "C" [[noreturn]] void kernel_main(uint64_t handoff_physical, uint64_t entry_tsc) {
    using namespace halcyon;
    run_global_constructors();
    console::init_early();

    auto calibration = x86::tsc::calibrate(entry_tsc);

    // This CPU's tables before anything can fault.
    auto bsp_result = x86::allocate_percpu(0, bsp_apic_id());
    if (bsp_result.is_error())
        refuse_handoff(bsp_result.error()); // cannot happen for index 0; say so loudly if it does
    x86::PerCpu& bsp = *bsp_result.value();
    x86::load_cpu_tables(bsp);

    auto handoff_result = boot_info::validate(handoff_physical);
    if (handoff_result.is_error())
        refuse_handoff(handoff_result.error());
    const handoff::Handoff& handoff = *handoff_result.value();
    bsp.kernel_stack_base = handoff::kDirectMapBase + handoff.boot_stack_base;
    bsp.kernel_stack_top = bsp.kernel_stack_base + handoff.boot_stack_size;
    x86::set_boot_stack({bsp.kernel_stack_base, bsp.kernel_stack_top});

    load_configuration(handoff);
    log::set_level(g_config.log_level);
    if (auto serial = console::configure(g_config.serial); serial.is_error()) {
        // Back to COM1 so this message (and everything after) is seen somewhere.
        console::init_early();
        log::warn("serial port %#x from halcyon.cfg unusable (%s): staying on COM1",
                  g_config.serial.io_port, serial.error().message());
    }

    log::info("Halcyon hypervisor core starting");
    if (calibration.is_error())
        log::warn("TSC calibration failed (%s): timestamps stay 0 until ACPI",
                  calibration.error().message());
    else
        log::info("TSC: %llu.%03llu MHz (%s)",
                  static_cast<ull>(x86::tsc::frequency_hz() / 1'000'000),
                  static_cast<ull>(x86::tsc::frequency_hz() / 1'000 % 1'000),
                  x86::tsc::source_name(x86::tsc::source()));
    boot_info::log_summary(handoff);
    load_symbols(handoff);

    discover_acpi(handoff);
    if (x86::tsc::frequency_hz() == 0) {
        auto pm = x86::tsc::calibrate_with_pm_timer(static_cast<uint16_t>(g_machine.pm_timer_port),
                                                    g_machine.pm_timer_32bit);
        if (pm.is_error())
            panicf("no way to measure time: PIT and ACPI PM timer both failed (%s)",
                   pm.error().message());
    }

    auto frames_result = memory_setup::init_frames(handoff);
    if (frames_result.is_error())
        panicf("frame allocator: %s", frames_result.error().message());
    mm::FrameAllocator& frames = *frames_result.value();
    log::info("frame allocator: %zu MiB free of %zu MiB managed", frames.free_pages() / 256,
              frames.total_pages() / 256);

    auto address_space = memory_setup::switch_to_core_address_space(handoff, &g_machine, frames);
    if (address_space.is_error())
        panicf("core page tables: %s", address_space.error().message());
    mm::init_core_heap(frames, mm::PhysicalWindow::direct_map());

    // start_application_processors() also enables virtualization on the BSP (and each AP).
    uint32_t cpus = 1;
    auto smp_result = x86::smp::start_application_processors(g_machine, handoff, frames);
    if (smp_result.is_error())
        log::error("application processors not started: %s", smp_result.error().message());
    else
        cpus = smp_result.value();
    if (virt::cpu_state(0) == nullptr) {
        // SMP bring-up failed before it reached the BSP's virtualization: do it here.
        if (auto result = virt::enable_on_this_cpu(bsp, frames); result.is_error())
            log::error("virtualization on the BSP: %s", result.error().message());
        __atomic_store_n(&bsp.online, true, __ATOMIC_RELEASE);
    }
    const virt::CpuVirtualization* bsp_virt = virt::cpu_state(0);
    const virt::VirtFeatures features =
        bsp_virt != nullptr ? bsp_virt->features : virt::VirtFeatures{};

    crash_test_trigger(g_config.crash_test);

    log::plain_line("HALCYON READY cpus=%u virt=%s npt=%d", cpus, virt::kind_name(features.kind),
                    features.npt_or_ept ? 1 : 0);

    // The disks (issue #7): every virtio-blk, NVMe and AHCI disk is started and reported, and
    // with storage_selftest = yes the scratch-disk self-test runs. A disk that fails is
    // reported and skipped; nothing here stops the boot.
    (void)drivers::block::start_core_storage(
        frames,
        drivers::block::CoreStorageOptions{x86::tsc::frequency_hz(), g_config.storage_selftest});
    // The datastore (exFAT on one of those disks, halcyon.cfg's `datastore`): VM disks and
    // kernels named "ds:PATH" live there (docs/datastore.md).
    worker::mount_datastore(g_config);

    // The VM manager (issues #6, #7): the VMs of halcyon.cfg and those made over the management
    // API, with a run loop on every CPU for the life of the host (vmm/worker/vm_manager.hpp).
    // VMs need AMD SVM with nested paging or Intel VT-x with EPT.
    const bool can_run_vms = features.kind != virt::Kind::none && features.npt_or_ept;
    if (g_config.vm_count > 0 && !can_run_vms)
        log::error("cannot run VMs: they need AMD SVM with nested paging or Intel VT-x with "
                   "EPT (have %s, npt=%d)",
                   virt::kind_name(features.kind), features.npt_or_ept ? 1 : 0);
    const bool keep_running = g_config.on_ready == config::OnReady::run;
    worker::VmManager* manager = nullptr;
    if (can_run_vms && (keep_running || g_config.vm_count > 0)) {
        if (auto made = worker::VmManager::create(handoff, frames, x86::tsc::frequency_hz());
            made.is_error())
            log::error("VM manager: %s", made.error().message());
        else
            manager = made.value();
    }

    // The management network (issue #6): in the management partition (`[management] partition
    // = yes`, docs/management-partition.md), the first partition, which runs on this CPU's loop
    // and reaches the VM manager through its vendor hypercall; or in the core, polled from this
    // CPU by the VM manager's loop between vCPU turns, or by the idle loop below on a host that
    // cannot run VMs. Without a NIC the core goes on without it.
    if (keep_running) {
        mgmt::net::StartOptions net_options{x86::tsc::frequency_hz(), cpus,
                                            virt::kind_name(features.kind)};
        if (manager != nullptr) {
            const mgmt::net::HostFacts facts{cpus, mgmt::net::usable_memory_bytes(handoff),
                                             virt::kind_name(features.kind),
                                             x86::tsc::frequency_hz()};
            net_options.vm_host = new (std::nothrow)
                worker::VmManagerHost(*manager, facts, frames, x86::tsc::entry_tsc());
            net_options.vhd_host = worker::make_vhd_host(*manager);
        }
        bool in_partition = false;
        if (g_config.management.partition && (manager == nullptr || net_options.vm_host == nullptr))
            log::warn("management partition: needs VMs (virtualization with nested paging): "
                      "the management network runs in the core");
        else if (g_config.management.partition) {
            const mgmt_host::ManagementStart start{g_config,
                                                   handoff,
                                                   frames,
                                                   manager->management_runner(),
                                                   *net_options.vm_host,
                                                   net_options.vhd_host,
                                                   mgmt::net::usable_memory_bytes(handoff),
                                                   cpus,
                                                   virt::kind_name(features.kind)};
            auto started = mgmt_host::start_management_partition(start);
            if (started.is_error())
                log::error("management partition not started (%s): the management network "
                           "runs in the core",
                           started.error().message());
            in_partition = !started.is_error();
        }
        if (!in_partition) {
            if (auto net = mgmt::net::start(g_config, handoff, frames, net_options); net.is_error())
                log::warn("management network not started: %s", net.error().message());
        }
    }

    // The configured VMs start; with on_ready = poweroff the loop returns when all have stopped,
    // otherwise it serves VMs (and the network) from now on.
    if (manager != nullptr) {
        manager->start_configured(g_config);
        manager->run(/*until_all_off=*/!keep_running);
    }

    if (g_config.on_ready == config::OnReady::poweroff) {
        log::info("on_ready = poweroff: powering off");
        x86::power::acpi_power_off(g_machine);
    }
    // on_ready = run on a host that cannot run VMs (with VMs the manager's loop never returns).
    // Nothing takes interrupts yet (no timer, no devices are wired), so the BSP idles with them
    // disabled; hlt still wakes for NMIs and SMIs, hence the loop. With the management network
    // up it polls the NIC on a timer instead (its interrupts are not routed yet).
    log::info("idle");
    if (mgmt::net::Service* net = mgmt::net::active()) {
        for (;;) {
            net->poll(x86::rdtsc());
            // Sleep until the next poll: the one-shot timer wakes the CPU (the NIC's own
            // interrupts are not routed yet).
            (void)x86::preemption_timer::arm(x86::rdtsc() + net->poll_interval_tsc());
            asm volatile("sti; hlt; cli" ::: "memory");
        }
    }
    for (;;)
        x86::halt();
}
