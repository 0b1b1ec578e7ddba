#include "vmm/worker/cpu_runner.hpp"

#include "mgmt/net/service.hpp"
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/preemption_timer.hpp"
#include "vmm/arch/x86_64/tsc.hpp"
#include "vmm/core/log.hpp"
#include "vmm/worker/vm_platform.hpp"

namespace halcyon::worker {
namespace {

constexpr uint64_t kSliceMicroseconds = 10'000;
constexpr uint64_t kMaxAdvanceMilliseconds = 5;
constexpr uint64_t kInitialAdvanceMicroseconds = 500; // learnt from the first wake-ups on

uint64_t min(uint64_t a, uint64_t b) {
    return a < b ? a : b;
}

} // namespace

CpuRunner::CpuRunner(uint32_t cpu_index, uint64_t tsc_hz)
    : cpu_index_(cpu_index), scheduler_(tsc_hz, tsc_hz / 1'000'000 * kSliceMicroseconds),
      advance_(tsc_hz / 1'000'000 * kInitialAdvanceMicroseconds) {}

ErrorOr<void> CpuRunner::add(Vm& vm, uint32_t vcpu) {
    sched::GroupParams params;
    params.weight = vm.config.cpu_weight;
    params.reserve_percent = vm.config.cpu_reserve_percent;
    params.limit_percent = vm.config.cpu_limit_percent;
    const sched::EntityId entity = TRY(scheduler_.add(params));
    by_slot_[entity.slot()] = Assignment{&vm, vcpu};
    ++assignment_count_;
    vm.placement[vcpu] = VcpuPlacement{this, cpu_index_, entity};
    bool known = false;
    for (uint32_t i = 0; i < vm_count_; ++i)
        known |= vms_[i] == &vm;
    if (!known)
        vms_[vm_count_++] = &vm;
    return {};
}

void CpuRunner::run() {
    for (uint32_t i = 0; i < sched::kMaxEntitiesPerCpu; ++i) {
        if (by_slot_[i].vm != nullptr)
            log::info("vm %s: vcpu %u runs on cpu%u", by_slot_[i].vm->config.name, by_slot_[i].vcpu,
                      cpu_index_);
    }
    while (step()) {
    }
    x86::preemption_timer::stop();
}

bool CpuRunner::step() {
    const uint64_t now = x86::rdtsc();
    service_devices(now);
    // CPU 0 also carries the management network (polled; see mgmt/net/service.hpp).
    mgmt::net::Service* net = cpu_index_ == 0 ? mgmt::net::active() : nullptr;
    if (net != nullptr)
        net->poll(now);
    const sched::Decision decision = scheduler_.pick(now);
    switch (decision.kind) {
    case sched::Decision::Kind::empty:
        return false;
    case sched::Decision::Kind::idle: {
        uint64_t wake_at = min(decision.wake_at, device_deadline());
        if (net != nullptr)
            wake_at = min(wake_at, now + net->poll_interval_tsc());
        idle(wake_at);
        return true;
    }
    case sched::Decision::Kind::run:
        break;
    }
    const Assignment& assignment = by_slot_[decision.entity.slot()];
    if (admit(decision.entity, assignment))
        run_vcpu(decision.entity, assignment, decision.until);
    return true;
}

bool CpuRunner::admit(sched::EntityId entity, const Assignment& assignment) {
    Vm& vm = *assignment.vm;
    mm::SpinLockGuard guard(vm.lock);
    if (vm.state == VmState::resetting) {
        // Park until the last vCPU to park has rebuilt the VM (it wakes everyone).
        (void)scheduler_.block(entity, sched::kNoEvent);
        if (++vm.parked_vcpus == vm.partition->vcpu_count()) {
            auto rebuilt = vm.rebuild();
            if (rebuilt.is_error()) {
                vm.stop(rebuilt.error().message());
            } else {
                vm.state = VmState::running;
                vm.parked_vcpus = 0;
            }
            vm.wake_all();
        }
        return false;
    }
    if (vm.state == VmState::stopped || !vm.vcpu_running[assignment.vcpu]) {
        if (vm.state == VmState::stopped || vm.running_vcpus == 0) {
            (void)scheduler_.remove(entity);
            by_slot_[entity.slot()] = Assignment{};
            --assignment_count_;
        } else {
            // Halted with interrupts disabled: only a reset (or the VM's end) revives it.
            (void)scheduler_.block(entity, sched::kNoEvent);
        }
        return false;
    }
    return true;
}

void CpuRunner::run_vcpu(sched::EntityId entity, const Assignment& assignment, uint64_t until) {
    Vm& vm = *assignment.vm;
    const uint32_t vcpu = assignment.vcpu;
    // Take the CPU back at the end of the slice, at the next device event, or when one of the
    // vCPU's own timers fires - its APIC timer, its Hyper-V synthetic timers (a guest spinning
    // on its timer must see the interrupt on time). The partition re-arms by itself as the
    // guest moves those timers during the run (set_exit_deadline).
    const uint64_t worker_deadline = min(until, device_deadline());
    const uint64_t deadline = min(worker_deadline, vm.partition->timer_deadline(vcpu));
    (void)x86::preemption_timer::arm(deadline);
    vm.partition->set_exit_deadline(vcpu, worker_deadline, deadline);
    const uint64_t start = x86::rdtsc();
    __atomic_store_n(&vm.in_guest_on[vcpu], cpu_index_, __ATOMIC_RELEASE);
    auto result = vm.partition->run_vcpu(vcpu);
    __atomic_store_n(&vm.in_guest_on[vcpu], kNotInGuest, __ATOMIC_RELEASE);
    const uint64_t end = x86::rdtsc();
    (void)scheduler_.charge(entity, end - start, end);

    if (result.is_error()) {
        mm::SpinLockGuard guard(vm.lock);
        vm.stop(result.error().message());
        return;
    }
    handle_intercept(entity, assignment, result.value());
}

void CpuRunner::handle_intercept(sched::EntityId entity, const Assignment& assignment,
                                 const vmm::Intercept& intercept) {
    Vm& vm = *assignment.vm;
    const uint32_t vcpu = assignment.vcpu;
    mm::SpinLockGuard guard(vm.lock);
    if (vm.state != VmState::running || !vm.vcpu_running[vcpu])
        return; // another vCPU stopped or reset the VM meanwhile: this exit no longer matters
    ++vm.intercepts;
    const uint64_t now = x86::rdtsc();
    switch (intercept.kind) {
    case vmm::InterceptKind::io: {
        const vmm::IoExit& io = intercept.io;
        if (io.string) {
            vm.stop("string port I/O is not emulated");
            return;
        }
        uint32_t value = 0;
        if (io.in)
            value = vm.platform->io_read(io.port, io.size, now);
        else
            vm.platform->io_write(io.port, io.size,
                                  static_cast<uint32_t>(vm.partition->registers(vcpu).rax), now);
        vm.partition->complete_io(vcpu, io, value);
        break;
    }
    case vmm::InterceptKind::mmio:
        if (auto emulated = vm.partition->emulate_mmio(vcpu, vm.platform->mmio());
            emulated.is_error()) {
            vm.stop(emulated.error().message());
            return;
        }
        break;
    case vmm::InterceptKind::yield:
        break;
    case vmm::InterceptKind::halted:
        if (!intercept.interrupts_enabled) {
            // Only an NMI or INIT could wake it: for our guests, the end of their work.
            vm.stop_vcpu(vcpu, "hlt with interrupts disabled");
            (void)scheduler_.block(entity, sched::kNoEvent);
            return;
        }
        (void)scheduler_.block(entity, intercept.wake_deadline);
        break;
    case vmm::InterceptKind::shutdown:
        vm.stop("triple fault");
        return;
    case vmm::InterceptKind::failed:
        vm.stop(intercept.message, intercept.raw_code);
        return;
    }
    if (vm.platform->poweroff_requested())
        vm.stop("the guest powered off");
    else if (vm.platform->reset_requested())
        vm.request_reset();
}

void CpuRunner::service_devices(uint64_t now) {
    for (uint32_t i = 0; i < vm_count_; ++i) {
        Vm& vm = *vms_[i];
        if (vm.platform == nullptr || vm.platform->next_deadline() > now)
            continue;
        mm::SpinLockGuard guard(vm.lock);
        if (vm.state == VmState::running)
            vm.platform->update(now);
    }
}

uint64_t CpuRunner::device_deadline() {
    uint64_t deadline = sched::kNoEvent;
    for (uint32_t i = 0; i < vm_count_; ++i) {
        if (vms_[i]->platform != nullptr && vms_[i]->state == VmState::running)
            deadline = min(deadline, vms_[i]->platform->next_deadline());
    }
    return deadline;
}

// Nothing to run: halt until the timer or a kick. Interrupts are off in the core, so `sti; hlt`
// cannot miss a kick that arrives after the last check (STI's shadow covers the HLT).
//
// Timer advance (as KVM's lapic_timer_advance): waking from HLT takes time the deadline does not
// account for (on QEMU TCG, milliseconds of host scheduling). The CPU learns that latency and
// arms its timer that much early, then waits out the rest with the TSC, so a guest's timer
// interrupt arrives on time. The spin is bounded by the learnt latency (at most kMaxAdvance).
void CpuRunner::idle(uint64_t wake_at) {
    const uint64_t max_advance = x86::tsc::frequency_hz() / 1000 * kMaxAdvanceMilliseconds;
    if (wake_at != sched::kNoEvent)
        (void)x86::preemption_timer::arm(wake_at > advance_ ? wake_at - advance_ : 0);
    if (scheduler_.wake_pending())
        return;
    asm volatile("sti; hlt; cli" ::: "memory");
    if (wake_at == sched::kNoEvent)
        return;
    const uint64_t woke = x86::rdtsc();
    const uint64_t armed_for = wake_at > advance_ ? wake_at - advance_ : 0;
    if (woke >= armed_for) {
        // Woken by the timer (or later): move the advance a quarter of the way towards the
        // latency just seen, so one outlier does not throw it off.
        const uint64_t latency = woke - armed_for;
        const uint64_t target = latency < max_advance ? latency : max_advance;
        if (target > advance_)
            advance_ += (target - advance_) / 4;
        else
            advance_ -= (advance_ - target) / 4;
    }
    while (x86::rdtsc() < wake_at && !scheduler_.wake_pending())
        asm volatile("pause");
}

} // namespace halcyon::worker
