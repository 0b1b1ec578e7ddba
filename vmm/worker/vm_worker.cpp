#include "vmm/worker/vm_worker.hpp"

#include "lib/format/format.hpp"
#include "vmm/arch/x86_64/cpu_mailbox.hpp"
#include "vmm/arch/x86_64/percpu.hpp"
#include "vmm/arch/x86_64/smp.hpp"
#include "vmm/core/log.hpp"
#include "vmm/worker/vm.hpp"

namespace halcyon::worker {

void log_vm_statistics(const Vm& vm) {
    char exits[320];
    size_t used = 0;
    for (size_t r = 0; r < vmm::kExitReasonCount; ++r) {
        const auto reason = static_cast<vmm::ExitReason>(r);
        const uint64_t count = vm.partition->exit_count(reason);
        if (count == 0 || used >= sizeof(exits))
            continue;
        used +=
            format::format(exits + used, sizeof(exits) - used, " %s=%llu",
                           vmm::exit_reason_name(reason), static_cast<unsigned long long>(count));
    }
    exits[used < sizeof(exits) ? used : sizeof(exits) - 1] = '\0';
    log::info("vm %s: %llu intercepts for the worker, %llu console bytes; exits:%s", vm.config.name,
              static_cast<unsigned long long>(vm.intercepts),
              static_cast<unsigned long long>(vm.console.total_written()), exits);
}

uint32_t usable_cpus(uint32_t* indices) {
    uint32_t count = 0;
    indices[count++] = x86::this_cpu().index;
    for (uint32_t index = 0; index < x86::allocated_cpu_count(); ++index) {
        if (index != indices[0] && x86::mailbox::serving(index))
            indices[count++] = index;
    }
    return count;
}

} // namespace halcyon::worker
