#include "vmm/worker/vm_worker.hpp"

#include "lib/format/format.hpp"
#include "mm/spinlock.hpp"
#include "vmm/arch/x86_64/cpu_mailbox.hpp"
#include "vmm/arch/x86_64/percpu.hpp"
#include "vmm/arch/x86_64/preemption_timer.hpp"
#include "vmm/arch/x86_64/smp.hpp"
#include "vmm/core/boot_info.hpp"
#include "vmm/core/log.hpp"
#include "vmm/partition/object_memory.hpp"
#include "vmm/partition/partition.hpp"
#include "vmm/worker/console_buffer.hpp"
#include "vmm/worker/flat_guest.hpp"
#include "vmm/worker/uart16550.hpp"

#include <new>
#include <type_traits>

namespace halcyon::worker {
namespace {

constexpr uint16_t kCom1 = 0x3F8;
constexpr uint32_t kTimeSliceMicroseconds = 10'000;
constexpr uint64_t kMaxTurnsPerCpu = 50'000'000; // a runaway guest still ends the test run
constexpr uint32_t kMaxAssignments = config::kMaxVms * vmm::kMaxVcpusPerPartition;

// One VM's worker-side state. vCPUs of one VM may run on different CPUs at once, so everything
// here except `partition` (whose vCPUs are independent) is guarded by `lock`.
struct Vm {
    explicit Vm(const config::VmConfig& vm_config)
        : config(vm_config), uart(kCom1, vm_config.name, console) {}

    const config::VmConfig& config;
    vmm::Partition* partition = nullptr;
    mm::SpinLock lock;
    ConsoleBuffer console;
    Uart16550 uart;
    bool vcpu_running[vmm::kMaxVcpusPerPartition] = {};
    uint32_t running_vcpus = 0;
    uint64_t intercepts = 0;
};

struct Assignment {
    Vm* vm;
    uint32_t vcpu;
};

// The vCPUs one physical CPU runs, in turn, until all of them have stopped.
struct CpuRunList {
    Assignment items[kMaxAssignments];
    uint32_t count = 0;
};

static_assert(std::is_trivially_destructible_v<CpuRunList>);

ErrorOr<void> build(Vm& vm, uint32_t address_space_id, const handoff::Handoff& handoff,
                    mm::FrameAllocator& frames) {
    const auto image = boot_info::module_bytes(handoff, vm.config.kernel);
    if (!image)
        return Error(ErrorCode::not_found, "the loader brought no module with the kernel's name");
    vm.partition = TRY(vmm::Partition::create(vm.config.name, address_space_id, frames));
    TRY(vm.partition->add_memory(0, vm.config.memory_bytes));
    for (uint32_t i = 0; i < vm.config.vcpus; ++i) {
        const uint32_t index = TRY(vm.partition->create_vcpu());
        vm.vcpu_running[index] = true;
        ++vm.running_vcpus;
    }
    TRY(load_flat_guest(*vm.partition, *image));
    return {};
}

// The following run with vm.lock held.
void stop(Vm& vm, const char* why, uint32_t raw_code = 0) {
    if (vm.running_vcpus == 0)
        return; // another vCPU already stopped the VM
    vm.uart.flush();
    for (bool& running : vm.vcpu_running)
        running = false;
    vm.running_vcpus = 0;
    if (raw_code != 0)
        log::info("vm %s: stopped (%s, exit code %#x)", vm.config.name, why, raw_code);
    else
        log::info("vm %s: stopped (%s)", vm.config.name, why);
}

void stop_vcpu(Vm& vm, uint32_t index, const char* why) {
    if (!vm.vcpu_running[index])
        return;
    if (vm.running_vcpus == 1) {
        stop(vm, why);
        return;
    }
    vm.vcpu_running[index] = false;
    --vm.running_vcpus;
    log::info("vm %s: vcpu %u stopped (%s)", vm.config.name, index, why);
}

// Port I/O the VM's device models answer; everything else reads as all ones and ignores writes
// (what an ISA bus without a device does).
void handle_io(Vm& vm, uint32_t index, const vmm::IoExit& io) {
    if (io.string) {
        stop(vm, "string port I/O is not emulated yet");
        return;
    }
    uint32_t value = 0xFFFF'FFFF;
    if (vm.uart.claims(io.port) && io.size == 1) {
        if (io.in)
            value = vm.uart.read(io.port);
        else
            vm.uart.write(io.port, static_cast<uint8_t>(vm.partition->registers(index).rax));
    }
    vm.partition->complete_io(index, io, value);
}

void handle_intercept(Vm& vm, uint32_t index, const vmm::Intercept& intercept) {
    switch (intercept.kind) {
    case vmm::InterceptKind::io:
        handle_io(vm, index, intercept.io);
        return;
    case vmm::InterceptKind::yield:
        return;
    case vmm::InterceptKind::halted:
        // No device can interrupt a guest yet, so a HLT never wakes up: the vCPU is done.
        stop_vcpu(vm, index,
                  intercept.interrupts_enabled ? "hlt with no interrupt source"
                                               : "hlt with interrupts disabled");
        return;
    case vmm::InterceptKind::shutdown:
        stop(vm, "triple fault");
        return;
    case vmm::InterceptKind::failed:
        stop(vm, intercept.message, intercept.raw_code);
        return;
    }
}

// One turn: run the vCPU to its next intercept and answer it. Returns whether it still runs.
bool run_turn(Vm& vm, uint32_t index) {
    {
        mm::SpinLockGuard guard(vm.lock);
        if (!vm.vcpu_running[index])
            return false;
    }
    auto result = vm.partition->run_vcpu(index);
    mm::SpinLockGuard guard(vm.lock);
    if (!vm.vcpu_running[index])
        return false; // another vCPU stopped the VM meanwhile: this exit no longer matters
    ++vm.intercepts;
    if (result.is_error())
        stop(vm, result.error().message());
    else
        handle_intercept(vm, index, result.value());
    return vm.vcpu_running[index];
}

// Cooperative round robin over one CPU's vCPUs: every intercept ends a turn.
void run_list(void* argument) {
    auto& list = *static_cast<CpuRunList*>(argument);
    const uint32_t cpu = x86::this_cpu().index;
    for (uint32_t i = 0; i < list.count; ++i)
        log::info("vm %s: vcpu %u runs on cpu%u", list.items[i].vm->config.name, list.items[i].vcpu,
                  cpu);
    // Preemption: a guest that never exits loses the CPU at the next tick anyway.
    auto timer = x86::preemption_timer::start(kTimeSliceMicroseconds);
    if (timer.is_error())
        log::warn("cpu%u: no preemption timer (%s): a vCPU that never exits keeps this CPU", cpu,
                  timer.error().message());
    bool any_running = true;
    for (uint64_t turn = 0; any_running && turn < kMaxTurnsPerCpu; ++turn) {
        any_running = false;
        for (uint32_t i = 0; i < list.count; ++i)
            any_running |= run_turn(*list.items[i].vm, list.items[i].vcpu);
    }
    x86::preemption_timer::stop();
}

// One line per VM: how often the worker was asked for something and the exits by reason.
void log_statistics(const Vm& vm) {
    char exits[256];
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
        Vm* vm = new (memory) Vm(vm_config);
        // ASID 0 is the host's; each partition gets its own (its vCPUs share its nested tables).
        auto built = build(*vm, i + 1, handoff, frames);
        if (built.is_error()) {
            log::error("vm %s: cannot start: %s", vm_config.name, built.error().message());
            delete vm->partition;
            delete vm;
            continue;
        }
        log::info("vm %s: started (%u vCPU%s, %llu MiB, kernel %s)", vm_config.name,
                  vm_config.vcpus, vm_config.vcpus == 1 ? "" : "s",
                  static_cast<unsigned long long>(vm_config.memory_bytes >> 20), vm_config.kernel);
        vms[started++] = vm;
    }

    // Spread the vCPUs over the CPUs: the k-th vCPU of all VMs goes to CPU k mod n, so the two
    // vCPUs of a VM run side by side and two VMs share every CPU.
    uint32_t cpu_indices[x86::kMaxCpus];
    const uint32_t cpus = usable_cpus(cpu_indices);
    void* lists_memory = vmm::allocate_object(sizeof(CpuRunList) * cpus, alignof(CpuRunList));
    if (lists_memory == nullptr) {
        log::error("VM worker: no memory for the run lists");
    } else {
        auto* lists = static_cast<CpuRunList*>(lists_memory);
        for (uint32_t c = 0; c < cpus; ++c)
            new (&lists[c]) CpuRunList();
        uint32_t next = 0;
        for (uint32_t v = 0; v < started; ++v) {
            for (uint32_t index = 0; index < vms[v]->partition->vcpu_count(); ++index) {
                CpuRunList& list = lists[next++ % cpus];
                list.items[list.count++] = Assignment{vms[v], index};
            }
        }
        for (uint32_t c = 1; c < cpus; ++c) {
            if (lists[c].count == 0)
                continue;
            if (auto posted = x86::mailbox::post(cpu_indices[c], run_list, &lists[c]);
                posted.is_error()) {
                // Run them here instead: slower, never lost.
                log::warn("VM worker: cpu%u unavailable (%s)", cpu_indices[c],
                          posted.error().message());
                for (uint32_t i = 0; i < lists[c].count; ++i)
                    lists[0].items[lists[0].count++] = lists[c].items[i];
                lists[c].count = 0;
            }
        }
        run_list(&lists[0]);
        for (uint32_t c = 1; c < cpus; ++c)
            x86::mailbox::wait_idle(cpu_indices[c]);
        vmm::free_object(lists_memory); // CpuRunList is trivially destructible
    }

    for (uint32_t v = 0; v < started; ++v) {
        {
            mm::SpinLockGuard guard(vms[v]->lock);
            stop(*vms[v], "the worker's turn limit was reached");
        }
        log_statistics(*vms[v]);
        delete vms[v]->partition;
        delete vms[v];
    }
    log::info("all VMs stopped");
    return started;
}

} // namespace halcyon::worker
