// AP bring-up (see smp.hpp). The APs are started strictly one after another: they share the one
// trampoline page and its parameter block, and while an AP runs its set-up the BSP only spins,
// so the AP has the logger and the frame allocator to itself.
#include "vmm/arch/x86_64/smp.hpp"
#include "vmm/arch/x86_64/cpu_mailbox.hpp"

#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/lapic.hpp"
#include "vmm/arch/x86_64/percpu.hpp"
#include "vmm/arch/x86_64/smp_clock.hpp"
#include "vmm/arch/x86_64/smp_plan.hpp"
#include "vmm/arch/x86_64/trampoline_layout.hpp"
#include "vmm/arch/x86_64/tsc.hpp"
#include "vmm/core/log.hpp"
#include "vmm/virt/virt_cpu.hpp"

#include <string.h>

namespace halcyon::x86::smp {

// Where the trampoline jumps (by address, from the parameter block) on the AP's own stack.
extern "C" [[noreturn]] void ap_entry(PerCpu* cpu);

namespace {

// Intel MP specification B.4: INIT, 10 ms, STARTUP, 200 us, STARTUP.
constexpr uint64_t kInitDelayMicroseconds = 10'000;
constexpr uint64_t kStartupDelayMicroseconds = 200;

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kFourGiB = 1ull << 32;
constexpr uint64_t kEferLongModeActive = 1ull << 10; // read-only status bit
constexpr uint64_t kEferSvme = 1ull << 12;           // set per CPU by the virt layer

mm::FrameAllocator* g_frames = nullptr;
uint32_t g_online = 1;

template <typename T>
[[nodiscard]] T* direct_map(uint64_t physical) {
    return reinterpret_cast<T*>(handoff::kDirectMapBase + physical);
}

// Page tables for the AP's first steps in long mode: CR3 is loaded in 32-bit mode, so they must
// lie below 4 GiB, and they only need to identity-map the trampoline (below 1 MiB) until the
// trampoline switches to the core's tables. Three frames: PML4, PDPT, one PD with a 2 MiB page.
struct TemporaryTables {
    uint64_t physical = 0;
    static constexpr size_t kPages = 3;
};

// `pages` contiguous frames that end below 4 GiB. The frame allocator has no address limit, so
// when its pick lies higher, free frames are claimed by address from the usable regions of the
// memory map below 4 GiB instead (reserve() fails harmlessly on frames already taken).
[[nodiscard]] ErrorOr<uint64_t> allocate_below_4gib(mm::FrameAllocator& frames,
                                                    const handoff::Handoff& handoff, size_t pages) {
    const uint64_t bytes = pages * kPageSize;
    const uint64_t first_try = TRY(frames.allocate(pages));
    if (first_try + bytes <= kFourGiB)
        return first_try;
    (void)frames.free(first_try, pages);
    const auto* regions = direct_map<const handoff::MemoryRegion>(handoff.memory_map);
    for (uint32_t r = 0; r < handoff.memory_region_count; ++r) {
        if (regions[r].type != handoff::MemoryType::usable)
            continue;
        const uint64_t end = regions[r].physical_base + regions[r].page_count * kPageSize;
        for (uint64_t base = regions[r].physical_base;
             base + bytes <= end && base + bytes <= kFourGiB; base += kPageSize) {
            if (frames.is_managed(base) && !frames.is_allocated(base) &&
                !frames.reserve(base, pages).is_error())
                return base;
        }
    }
    return Error(ErrorCode::out_of_memory, "no free memory below 4 GiB for the AP start-up tables");
}

[[nodiscard]] ErrorOr<TemporaryTables> build_temporary_tables(mm::FrameAllocator& frames,
                                                              const handoff::Handoff& handoff) {
    const uint64_t base = TRY(allocate_below_4gib(frames, handoff, TemporaryTables::kPages));
    auto* pml4 = direct_map<uint64_t>(base);
    auto* pdpt = direct_map<uint64_t>(base + kPageSize);
    auto* pd = direct_map<uint64_t>(base + 2 * kPageSize);
    memset(pml4, 0, TemporaryTables::kPages * kPageSize);
    constexpr uint64_t kPresent = 1, kWritable = 2, kLargePage = 1 << 7;
    // Supervisor-only, so SMEP (copied from the BSP's CR4 later) never objects.
    pml4[0] = (base + kPageSize) | kPresent | kWritable;
    pdpt[0] = (base + 2 * kPageSize) | kPresent | kWritable;
    pd[0] = 0 | kPresent | kWritable | kLargePage;
    return TemporaryTables{base};
}

[[nodiscard]] ErrorOr<void> check_trampoline_page(const handoff::Handoff& handoff) {
    const uint64_t page = handoff.ap_trampoline;
    if (page == 0)
        return Error(ErrorCode::not_found, "the loader provided no AP trampoline page");
    // A STARTUP vector is a page number below 1 MiB (0x01-0xFF; page 0 holds the real-mode IVT).
    if ((page & (kPageSize - 1)) != 0 || page + kPageSize > (1u << 20))
        return Error(ErrorCode::invalid_argument, "AP trampoline page is not a page below 1 MiB");
    const auto code_size = static_cast<uint64_t>(ap_trampoline_end - ap_trampoline_start);
    if (code_size > kTrampolineParametersOffset)
        return Error(ErrorCode::corrupt, "AP trampoline code overlaps its parameter block");
    return {};
}

[[nodiscard]] TrampolineParameters* install_trampoline(uint64_t page, uint64_t temporary_cr3) {
    memcpy(direct_map<void>(page), ap_trampoline_start,
           static_cast<size_t>(ap_trampoline_end - ap_trampoline_start));
    auto* parameters = direct_map<TrampolineParameters>(page + kTrampolineParametersOffset);
    memset(parameters, 0, sizeof(*parameters));
    parameters->temporary_cr3 = static_cast<uint32_t>(temporary_cr3);
    parameters->final_cr3 = read_cr3();
    parameters->cr4 = read_cr4();
    parameters->cr0 = read_cr0();
    parameters->efer = rdmsr(msr::kEfer) & ~(kEferLongModeActive | kEferSvme);
    return parameters;
}

[[nodiscard]] const char* stage_name(uint32_t stage) {
    switch (stage) {
    case 0:
        return "never ran the trampoline";
    case TRAMPOLINE_STAGE_REAL_MODE:
        return "stuck in real mode";
    case TRAMPOLINE_STAGE_PROTECTED_MODE:
        return "stuck in protected mode";
    case TRAMPOLINE_STAGE_LONG_MODE:
        return "reached long mode but never reported online";
    }
    return "unknown stage";
}

enum class StartOutcome { online, failed_parked, failed_running };

// INIT-SIPI-SIPI one CPU and wait for it to come online.
[[nodiscard]] StartOutcome start_one(PerCpu& cpu, TrampolineParameters& parameters,
                                     uint8_t vector_page, uint64_t timeout_microseconds,
                                     bool online_capable_only) {
    parameters.stack_top = cpu.kernel_stack_top;
    parameters.percpu = reinterpret_cast<uint64_t>(&cpu);
    parameters.entry = reinterpret_cast<uint64_t>(&ap_entry);
    parameters.stage = 0;
    __atomic_thread_fence(__ATOMIC_SEQ_CST); // parameters visible before the IPIs

    const uint64_t start = rdtsc();
    const uint32_t apic_id = cpu.apic_id;
    auto report_ipi_failure = [&](const Error& error) {
        log::error("smp: APIC id %u: IPI failed: %s (%s), ESR=%#x", apic_id, error.message(),
                   error_code_name(error.code()), lapic::read_error_status());
        return StartOutcome::failed_parked;
    };
    if (auto r = lapic::send_init(apic_id); r.is_error())
        return report_ipi_failure(r.error());
    spin_microseconds(kInitDelayMicroseconds);
    if (auto r = lapic::send_startup(apic_id, vector_page); r.is_error())
        return report_ipi_failure(r.error());
    spin_microseconds(kStartupDelayMicroseconds);
    // The second STARTUP is for CPUs that missed the first; one that already runs ignores it.
    if (parameters.stage == 0) {
        if (auto r = lapic::send_startup(apic_id, vector_page); r.is_error())
            return report_ipi_failure(r.error());
    }

    const Deadline deadline(timeout_microseconds);
    while (!__atomic_load_n(&cpu.online, __ATOMIC_ACQUIRE)) {
        if (deadline.expired()) {
            const uint32_t stage = parameters.stage;
            if (online_capable_only && stage == 0)
                log::info("smp: APIC id %u (online-capable) did not respond: not present", apic_id);
            else
                log::error("smp: APIC id %u failed to start within %llu ms: %s", apic_id,
                           static_cast<unsigned long long>(timeout_microseconds / 1000),
                           stage_name(stage));
            if (stage >= TRAMPOLINE_STAGE_LONG_MODE)
                return StartOutcome::failed_running; // runs core code: leave its stack alone
            // Back to wait-for-SIPI, so a late start cannot run on parameters meant for the
            // next CPU.
            (void)lapic::send_init(apic_id);
            return StartOutcome::failed_parked;
        }
        pause();
    }
    log::info("smp: cpu%u (APIC id %u) online after %llu us", cpu.index, apic_id,
              static_cast<unsigned long long>(tsc::ticks_to_microseconds(rdtsc() - start)));
    return StartOutcome::online;
}

[[nodiscard]] uint32_t count_enabled(const acpi::Machine& machine) {
    uint32_t enabled = 0;
    for (uint32_t i = 0; i < machine.cpu_count && i < acpi::kMaxCpus; ++i)
        enabled += machine.cpus[i].enabled ? 1 : 0;
    return enabled;
}

void enable_virtualization(PerCpu& cpu) {
    if (auto result = virt::enable_on_this_cpu(cpu, *g_frames); result.is_error())
        log::error("virt: enabling failed: %s (%s)", result.error().message(),
                   error_code_name(result.error().code()));
}

} // namespace

extern "C" [[noreturn]] void ap_entry(PerCpu* cpu) {
    load_cpu_tables(*cpu);
    lapic::enable_this_cpu();
    const uint32_t apic_id = lapic::current_id();
    if (apic_id != cpu->apic_id)
        log::warn("smp: started as APIC id %u but reports %u", cpu->apic_id, apic_id);
    enable_virtualization(*cpu);
    __atomic_store_n(&cpu->online, true, __ATOMIC_RELEASE);
    // Until the scheduler exists the AP sleeps in hlt and runs what the BSP posts to its
    // mailbox (the VM worker's vCPUs).
    mailbox::serve_forever(*cpu);
}

ErrorOr<uint32_t> start_application_processors(const acpi::Machine& machine,
                                               const handoff::Handoff& handoff,
                                               mm::FrameAllocator& frames) {
    g_frames = &frames;
    if (tsc::frequency_hz() == 0 && machine.pm_timer_port != 0 && machine.pm_timer_port <= 0xFFFF)
        TRY(tsc::calibrate_with_pm_timer(static_cast<uint16_t>(machine.pm_timer_port),
                                         machine.pm_timer_32bit));
    if (tsc::frequency_hz() == 0)
        return Error(ErrorCode::not_supported, "TSC not calibrated: cannot time INIT/SIPI");

    TRY(lapic::initialize(machine.local_apic_address));
    lapic::enable_this_cpu();
    PerCpu& bsp = this_cpu();
    const uint32_t bsp_apic_id = lapic::current_id();
    if (bsp.apic_id != bsp_apic_id) {
        log::warn("smp: BSP PerCpu says APIC id %u, the APIC says %u; using the APIC's",
                  bsp.apic_id, bsp_apic_id);
        bsp.apic_id = bsp_apic_id;
    }
    log::info("smp: local APIC in %s mode (base %#llx), BSP APIC id %u, MADT lists %u CPUs",
              lapic::mode_name(lapic::mode()), static_cast<unsigned long long>(lapic::xapic_base()),
              bsp_apic_id, machine.cpu_count);
    enable_virtualization(bsp);
    __atomic_store_n(&bsp.online, true, __ATOMIC_RELEASE);
    g_online = 1;

    TRY(check_trampoline_page(handoff));
    const TemporaryTables tables = TRY(build_temporary_tables(frames, handoff));
    TrampolineParameters* parameters = install_trampoline(handoff.ap_trampoline, tables.physical);
    log::debug("smp: trampoline at %#llx, start-up page tables at %#llx",
               static_cast<unsigned long long>(handoff.ap_trampoline),
               static_cast<unsigned long long>(tables.physical));
    const auto vector_page = static_cast<uint8_t>(handoff.ap_trampoline >> 12);

    const uint64_t all_start = rdtsc();
    PerCpu* spare = nullptr; // block of a CPU that failed and was parked again: reused
    const std::span<const acpi::Cpu> madt_cpus(
        machine.cpus, machine.cpu_count < acpi::kMaxCpus ? machine.cpu_count : acpi::kMaxCpus);
    ApDecision decisions[acpi::kMaxCpus];
    (void)plan_ap_starts(madt_cpus, bsp_apic_id, lapic::mode() == lapic::Mode::x2apic, decisions);
    for (size_t i = 0; i < madt_cpus.size(); ++i) {
        const acpi::Cpu& entry = madt_cpus[i];
        const ApDecision decision = decisions[i];
        if (decision != ApDecision::start && decision != ApDecision::probe) {
            if (decision == ApDecision::skip_disabled)
                log::debug("smp: APIC id %u %s", entry.apic_id, decision_name(decision));
            else if (decision != ApDecision::skip_bsp)
                log::error("smp: APIC id %u not started: %s", entry.apic_id,
                           decision_name(decision));
            continue;
        }
        PerCpu* cpu = spare;
        spare = nullptr;
        if (cpu == nullptr) {
            auto allocated = allocate_percpu(allocated_cpu_count(), entry.apic_id);
            if (allocated.is_error()) {
                log::error("smp: no per-CPU block for APIC id %u: %s; not starting more CPUs",
                           entry.apic_id, allocated.error().message());
                break;
            }
            cpu = allocated.value();
        }
        cpu->apic_id = entry.apic_id;
        const bool probe_only = decision == ApDecision::probe;
        const uint64_t timeout =
            probe_only ? kOnlineCapableTimeoutMicroseconds : kApOnlineTimeoutMicroseconds;
        switch (start_one(*cpu, *parameters, vector_page, timeout, probe_only)) {
        case StartOutcome::online:
            ++g_online;
            break;
        case StartOutcome::failed_parked:
            spare = cpu;
            break;
        case StartOutcome::failed_running:
            break;
        }
    }
    if (spare != nullptr)
        log::debug("smp: per-CPU block %u stays unused", spare->index);

    // Every AP is past the trampoline (or parked by INIT): the temporary tables are garbage now.
    if (auto freed = frames.free(tables.physical, TemporaryTables::kPages); freed.is_error())
        log::warn("smp: could not free the AP start-up page tables: %s", freed.error().message());

    log::info(
        "smp: %u of %u enabled CPUs online (APs took %llu ms)", g_online, count_enabled(machine),
        static_cast<unsigned long long>(tsc::ticks_to_microseconds(rdtsc() - all_start) / 1000));
    (void)virt::check_all_cpus_agree(allocated_cpu_count());
    return g_online;
}

uint32_t online_cpu_count() {
    return g_online;
}

} // namespace halcyon::x86::smp
