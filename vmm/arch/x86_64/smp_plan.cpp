// MADT entry selection for AP start-up (see smp_plan.hpp).
#include "vmm/arch/x86_64/smp_plan.hpp"

namespace halcyon::x86::smp {

const char* decision_name(ApDecision decision) {
    switch (decision) {
    case ApDecision::start:
        return "start";
    case ApDecision::probe:
        return "probe (online-capable)";
    case ApDecision::skip_bsp:
        return "skipped: the BSP";
    case ApDecision::skip_disabled:
        return "skipped: disabled in the MADT";
    case ApDecision::skip_duplicate:
        return "skipped: duplicate APIC id in the MADT";
    case ApDecision::skip_needs_x2apic:
        return "skipped: APIC id above 255 needs x2APIC";
    }
    return "?";
}

uint32_t plan_ap_starts(std::span<const acpi::Cpu> cpus, uint32_t bsp_apic_id, bool x2apic_mode,
                        std::span<ApDecision> decisions) {
    uint32_t to_start = 0;
    for (size_t i = 0; i < cpus.size() && i < decisions.size(); ++i) {
        const acpi::Cpu& cpu = cpus[i];
        ApDecision decision;
        bool duplicate = false;
        for (size_t j = 0; j < i && !duplicate; ++j)
            duplicate = cpus[j].apic_id == cpu.apic_id;
        if (cpu.apic_id == bsp_apic_id)
            decision = ApDecision::skip_bsp;
        else if (!cpu.enabled && !cpu.online_capable)
            decision = ApDecision::skip_disabled;
        else if (duplicate)
            decision = ApDecision::skip_duplicate;
        // 0xFF is the xAPIC broadcast destination, so 254 is the highest addressable ID.
        else if (cpu.apic_id >= 0xFF && !x2apic_mode)
            decision = ApDecision::skip_needs_x2apic;
        else
            decision = cpu.enabled ? ApDecision::start : ApDecision::probe;
        decisions[i] = decision;
        if (decision == ApDecision::start || decision == ApDecision::probe)
            ++to_start;
    }
    return to_start;
}

} // namespace halcyon::x86::smp
