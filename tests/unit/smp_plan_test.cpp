// Which MADT CPUs the BSP starts (vmm/arch/x86_64/smp_plan.hpp).
#include "vmm/arch/x86_64/smp_plan.hpp"

#include <gtest/gtest.h>

using namespace halcyon;
using x86::smp::ApDecision;

namespace {

acpi::Cpu cpu(uint32_t apic_id, bool enabled = true, bool online_capable = false) {
    return acpi::Cpu{apic_id, apic_id, enabled, online_capable, apic_id > 0xFE};
}

} // namespace

TEST(SmpPlan, StartsEveryEnabledCpuButTheBsp) {
    const acpi::Cpu cpus[] = {cpu(0), cpu(1), cpu(2), cpu(3)};
    ApDecision decisions[4];
    EXPECT_EQ(x86::smp::plan_ap_starts(cpus, 0, false, decisions), 3u);
    EXPECT_EQ(decisions[0], ApDecision::skip_bsp);
    EXPECT_EQ(decisions[1], ApDecision::start);
    EXPECT_EQ(decisions[2], ApDecision::start);
    EXPECT_EQ(decisions[3], ApDecision::start);
}

TEST(SmpPlan, BspNeedNotBeFirstInTheMadt) {
    const acpi::Cpu cpus[] = {cpu(0), cpu(2), cpu(4)};
    ApDecision decisions[3];
    EXPECT_EQ(x86::smp::plan_ap_starts(cpus, 2, false, decisions), 2u);
    EXPECT_EQ(decisions[0], ApDecision::start);
    EXPECT_EQ(decisions[1], ApDecision::skip_bsp);
    EXPECT_EQ(decisions[2], ApDecision::start);
}

TEST(SmpPlan, DisabledAndOnlineCapable) {
    // QEMU -smp 2,maxcpus=4 lists the absent CPUs with no flags; ACPI 6.3 firmware may mark
    // hot-pluggable ones online-capable.
    const acpi::Cpu cpus[] = {cpu(0), cpu(1), cpu(2, false, false), cpu(3, false, true)};
    ApDecision decisions[4];
    EXPECT_EQ(x86::smp::plan_ap_starts(cpus, 0, false, decisions), 2u);
    EXPECT_EQ(decisions[2], ApDecision::skip_disabled);
    EXPECT_EQ(decisions[3], ApDecision::probe);
}

TEST(SmpPlan, DuplicateApicIdsAreStartedOnce) {
    const acpi::Cpu cpus[] = {cpu(0), cpu(1), cpu(1), cpu(0)};
    ApDecision decisions[4];
    EXPECT_EQ(x86::smp::plan_ap_starts(cpus, 0, false, decisions), 1u);
    EXPECT_EQ(decisions[1], ApDecision::start);
    EXPECT_EQ(decisions[2], ApDecision::skip_duplicate);
    EXPECT_EQ(decisions[3], ApDecision::skip_bsp);
}

TEST(SmpPlan, LargeApicIdsNeedX2apic) {
    const acpi::Cpu cpus[] = {cpu(0), cpu(254), cpu(255), cpu(300)};
    ApDecision decisions[4];
    EXPECT_EQ(x86::smp::plan_ap_starts(cpus, 0, false, decisions), 1u);
    EXPECT_EQ(decisions[1], ApDecision::start);
    EXPECT_EQ(decisions[2], ApDecision::skip_needs_x2apic);
    EXPECT_EQ(decisions[3], ApDecision::skip_needs_x2apic);
    EXPECT_EQ(x86::smp::plan_ap_starts(cpus, 0, true, decisions), 3u);
    EXPECT_EQ(decisions[2], ApDecision::start);
    EXPECT_EQ(decisions[3], ApDecision::start);
}

TEST(SmpPlan, SingleCpuMachineStartsNothing) {
    const acpi::Cpu cpus[] = {cpu(0)};
    ApDecision decisions[1];
    EXPECT_EQ(x86::smp::plan_ap_starts(cpus, 0, true, decisions), 0u);
    EXPECT_EQ(decisions[0], ApDecision::skip_bsp);
    EXPECT_EQ(x86::smp::plan_ap_starts({}, 0, true, decisions), 0u);
}

TEST(SmpPlan, DecisionNames) {
    EXPECT_STREQ(x86::smp::decision_name(ApDecision::start), "start");
    EXPECT_STREQ(x86::smp::decision_name(ApDecision::skip_duplicate),
                 "skipped: duplicate APIC id in the MADT");
}
