// halcyon-mgmt.elf: the management partition's program (docs/management-network.md). The core
// boots it first, with its RAM identity-mapped and the management NIC assigned to it; it brings
// up the management network (mgmt/net: NIC driver, lwIP, the API server) and forwards the VM
// verbs to the core's VM manager through HvCallHalcyonManagement (core_link.cpp). Polled, one
// vCPU: poll the service, sleep on the local APIC timer until the next poll, repeat.
#include "boot/config/config.hpp"
#include "mgmt/net/platform.hpp"
#include "mgmt/net/service.hpp"
#include "mgmt/partition/abi/boot_info.hpp"
#include "mgmt/partition/core_link.hpp"
#include "mgmt/partition/idle.hpp"
#include "mgmt/partition/partition_memory.hpp"
#include "mgmt/partition/runtime/cpu_tables.hpp"
#include "mgmt/partition/runtime/crash.hpp"
#include "mgmt/partition/runtime/log_setup.hpp"
#include "vmm/core/log.hpp"
#include "vmm/core/panic.hpp"

#include <new>
#include <string_view>

extern "C" void (*__init_array_start[])();
extern "C" void (*__init_array_end[])();

namespace halcyon::mgmt::partition {
namespace {

// crash_test = page_fault: how long the API serves before the fault, and where it faults: the
// first address past the identity map's 512 GiB, which no page table of the partition maps.
constexpr uint64_t kCrashTestDelaySeconds = 5;
constexpr uint64_t kUnmappedAddress = 512ull << 30;

config::BootConfig g_config;
config::Diagnostics g_diagnostics;

void run_constructors() {
    for (auto** constructor = __init_array_start; constructor != __init_array_end; ++constructor)
        (*constructor)();
}

bool valid(const MgmtBootInfo& info) {
    return info.magic == kBootInfoMagic && info.version == kBootInfoVersion &&
           info.size >= sizeof(MgmtBootInfo) && info.tsc_hz >= 1'000'000 &&
           info.free_base >= info.region_base &&
           info.free_base <= info.region_base + info.region_size;
}

// halcyon.cfg as the core passed it (the loader checked it; the core parsed it already).
bool parse_config(const MgmtBootInfo& info) {
    const std::string_view text(reinterpret_cast<const char*>(info.config_text),
                                info.config_length);
    if (config::parse(text, g_config, g_diagnostics))
        return true;
    for (uint32_t i = 0; i < g_diagnostics.count; ++i)
        log::error("halcyon.cfg:%u: %s", g_diagnostics.entries[i].line,
                   g_diagnostics.entries[i].message);
    return false;
}

// Nothing to serve: stay halted with interrupts on (nothing is armed to wake us) - an idle
// partition, not a dead one, so the core neither reports a crash nor restarts it.
[[noreturn]] void stop(const char* why) {
    log::warn("management network not started: %s", why);
    for (;;)
        asm volatile("sti; hlt");
}

[[noreturn]] void crash_test_fault() {
    log::warn("crash_test = page_fault: touching unmapped address %#llx",
              static_cast<unsigned long long>(kUnmappedAddress));
    *reinterpret_cast<volatile uint64_t*>(kUnmappedAddress) = 0;
    panic("crash_test: the page fault did not happen");
}

[[noreturn]] void serve(net::Service& service, const MgmtBootInfo& info, Idle& idle) {
    const bool crash_test = info.crash_test == kCrashTestPageFault && info.restarts == 0;
    uint64_t crash_at = 0;
    for (;;) {
        const uint64_t now = net::read_tsc();
        service.poll(now);
        if (crash_test && service.announced()) {
            if (crash_at == 0)
                crash_at = now + kCrashTestDelaySeconds * info.tsc_hz;
            else if (now >= crash_at)
                crash_test_fault();
        }
        idle.until(now + service.poll_interval_tsc());
    }
}

} // namespace

[[noreturn]] void partition_main(uint64_t boot_info_physical) {
    load_cpu_tables();
    run_constructors();
    const auto& info = *reinterpret_cast<const MgmtBootInfo*>(boot_info_physical);
    if (!valid(info))
        panic("MgmtBootInfo is missing or malformed (magic, version, size, TSC or region)");
    set_log_clock(info.tsc_hz, info.core_entry_tsc);
    set_crash_memory(info.region_base, info.region_size);
    const uint64_t region_end = info.region_base + info.region_size;
    log::info("management partition: %llu MiB at %#llx, %llu KiB free, restart %llu",
              static_cast<unsigned long long>(info.region_size >> 20),
              static_cast<unsigned long long>(info.region_base),
              static_cast<unsigned long long>((region_end - info.free_base) >> 10),
              static_cast<unsigned long long>(info.restarts));
    if (!parse_config(info))
        stop("halcyon.cfg does not parse in the partition");
    log::set_level(g_config.log_level);

    static PartitionMemory memory(info.free_base, region_end);
    static const AddressTranslator address(info.region_base, info.region_size);
    static net::TscDelay delay(info.tsc_hz);
    static Idle idle;
    if (!idle.init(info.tsc_hz))
        log::warn("no local APIC: idling by spinning on the TSC");

    // The core writes a NUL-terminated name; copied with a terminator whatever it wrote.
    static char virtualization[sizeof(info.virtualization) + 1] = {};
    for (size_t i = 0; i < sizeof(info.virtualization) && info.virtualization[i] != '\0'; ++i)
        virtualization[i] = info.virtualization[i];
    net::StartOptions options;
    options.tsc_hz = info.tsc_hz;
    options.logical_processors = info.logical_processors;
    options.virtualization = virtualization;
    // The VM verbs go to the core; without the hypercall the API still serves the host-only
    // VmHost (host facts from MgmtBootInfo, every VM operation 501), so the network is usable.
    if (auto link = connect_to_core(memory, address); link.is_error()) {
        log::warn("VM verbs not available: %s", link.error().message());
    } else {
        options.vm_host = link.value().vm_host;
        options.vhd_host = link.value().vhd_host;
    }

    if (!info.nic_present)
        stop("no management NIC was assigned to the partition");
    const pci::Address nic{info.nic_bus, info.nic_device, info.nic_function};
    const net::Platform platform{
        memory, memory, delay, memory, info.host_memory_bytes, info.core_entry_tsc, nic};
    auto service = net::start(g_config.management, platform, options);
    if (service.is_error())
        stop(service.error().message());
    log::info("management partition: %llu KiB in use after start",
              static_cast<unsigned long long>(memory.used_bytes(info.free_base) >> 10));
    serve(*service.value(), info, idle);
}

} // namespace halcyon::mgmt::partition

extern "C" [[noreturn]] void mgmt_main(uint64_t boot_info_physical) {
    halcyon::mgmt::partition::partition_main(boot_info_physical);
}
