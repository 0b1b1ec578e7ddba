#include "vmm/worker/vm_worker.hpp"

#include "lib/format/format.hpp"
#include "vmm/arch/x86_64/cpu_mailbox.hpp"
#include "vmm/arch/x86_64/percpu.hpp"
#include "vmm/arch/x86_64/smp.hpp"
#include "vmm/arch/x86_64/tsc.hpp"
#include "vmm/core/log.hpp"
#include "vmm/partition/object_memory.hpp"
#include "vmm/worker/cpu_runner.hpp"
#include "vmm/worker/vm.hpp"

#include <new>

namespace halcyon::worker {
namespace {

// One line per VM: how often the worker was asked for something and the exits by reason.
void log_statistics(const Vm& vm) {
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
    log::info("vm %s: %llu intercepts for the worker, %zu console bytes; exits:%s", vm.config.name,
              static_cast<unsigned long long>(vm.intercepts), vm.console.size(), exits);
}

// CPUs that can run vCPUs: the caller (the BSP) and every AP serving its mailbox.
uint32_t usable_cpus(uint32_t* indices) {
    uint32_t count = 0;
    indices[count++] = x86::this_cpu().index;
    for (uint32_t index = 0; index < x86::allocated_cpu_count(); ++index) {
        if (index != indices[0] && x86::mailbox::serving(index))
            indices[count++] = index;
    }
    return count;
}

void run_runner(void* argument) {
    static_cast<CpuRunner*>(argument)->run();
}

// Spreads the vCPUs over the CPUs: the k-th vCPU of all VMs goes to CPU k mod n, so the vCPUs
// of one VM run side by side and several VMs share every CPU. Runs them to the end.
void run_on_cpus(Vm** vms, uint32_t vm_count) {
    uint32_t cpu_indices[x86::kMaxCpus];
    const uint32_t cpus = usable_cpus(cpu_indices);
    CpuRunner* runners[x86::kMaxCpus] = {};
    for (uint32_t c = 0; c < cpus; ++c) {
        void* memory = vmm::allocate_object(sizeof(CpuRunner), alignof(CpuRunner));
        if (memory == nullptr) {
            log::error("VM worker: no memory for cpu%u's run queue", cpu_indices[c]);
            break;
        }
        runners[c] = new (memory) CpuRunner(cpu_indices[c], x86::tsc::frequency_hz());
    }
    uint32_t next = 0;
    for (uint32_t v = 0; v < vm_count; ++v) {
        for (uint32_t index = 0; index < vms[v]->partition->vcpu_count(); ++index) {
            CpuRunner* runner = runners[next++ % cpus];
            auto added =
                runner != nullptr
                    ? runner->add(*vms[v], index)
                    : ErrorOr<void>(Error(ErrorCode::out_of_memory, "no run queue for its vCPUs"));
            if (added.is_error()) {
                mm::SpinLockGuard guard(vms[v]->lock);
                vms[v]->stop(added.error().message());
            }
        }
    }
    for (uint32_t c = 1; c < cpus; ++c) {
        if (runners[c] == nullptr || runners[c]->vcpu_count() == 0)
            continue;
        if (auto posted = x86::mailbox::post(cpu_indices[c], run_runner, runners[c]);
            posted.is_error()) {
            // Run them after the BSP's own instead: slower, never lost.
            log::warn("VM worker: cpu%u unavailable (%s)", cpu_indices[c],
                      posted.error().message());
            runners[c]->run();
        }
    }
    if (runners[0] != nullptr)
        runners[0]->run();
    for (uint32_t c = 1; c < cpus; ++c)
        x86::mailbox::wait_idle(cpu_indices[c]);
    for (uint32_t c = 0; c < cpus; ++c)
        delete runners[c];
}

} // namespace

uint32_t run_vms(const config::BootConfig& config, const handoff::Handoff& handoff,
                 mm::FrameAllocator& frames) {
    Vm* vms[config::kMaxVms] = {};
    uint32_t started = 0;
    for (uint32_t i = 0; i < config.vm_count; ++i) {
        const config::VmConfig& vm_config = config.vms[i];
        void* memory = vmm::allocate_object(sizeof(Vm), alignof(Vm));
        if (memory == nullptr) {
            log::error("vm %s: cannot start: out of memory", vm_config.name);
            continue;
        }
        // ASID 0 is the host's; each partition gets its own (its vCPUs share its nested tables).
        Vm* vm = new (memory) Vm(vm_config, i + 1, handoff, frames);
        if (auto built = vm->build(); built.is_error()) {
            log::error("vm %s: cannot start: %s", vm_config.name, built.error().message());
            delete vm;
            continue;
        }
        log::info("vm %s: started (%u vCPU%s, %llu MiB, kernel %s)", vm_config.name,
                  vm_config.vcpus, vm_config.vcpus == 1 ? "" : "s",
                  static_cast<unsigned long long>(vm_config.memory_bytes >> 20), vm_config.kernel);
        vms[started++] = vm;
    }

    run_on_cpus(vms, started);

    for (uint32_t v = 0; v < started; ++v) {
        log_statistics(*vms[v]);
        delete vms[v];
    }
    log::info("all VMs stopped");
    return started;
}

} // namespace halcyon::worker
