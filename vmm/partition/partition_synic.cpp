// The Hyper-V SynIC and synthetic timers of a partition's vCPUs (vmm/hyperv/vp_synic.hpp,
// docs/hyperv.md "SynIC"): their MSRs, the timers' expirations before each entry, host -> guest
// delivery (hyperv::SynicDelivery) and the guest's RAM as the SynIC writes it.
//
// Locking: each vCPU's SynIC state has its own lock (Vcpu::synic_lock), because the VMBus host
// posts messages from other CPUs while the vCPU runs. A SynIC operation collects the vectors it
// raises; they are asserted on the local APIC after the SynIC lock is released, so a SynIC lock
// and a local APIC lock are never held together. The interrupt is a fixed, edge-triggered one,
// like an IPI: from another CPU the vCPU is kicked (PartitionObserver::vcpu_has_work), on its
// own CPU prepare_entry() injects it at once.
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/tsc.hpp"
#include "vmm/core/log.hpp"
#include "vmm/partition/partition.hpp"

#include <string.h>

namespace halcyon::vmm {
namespace {

lapic::VectorSet to_vector_set(const hyperv::InterruptVectors& vectors) {
    lapic::VectorSet set;
    for (int vector = vectors.next(0); vector >= 0; vector = vectors.next(vector + 1))
        set.set(static_cast<uint8_t>(vector));
    return set;
}

bool is_stimer_config(uint32_t msr) {
    return msr >= hyperv::msr::kStimer0Config && msr <= hyperv::msr::kStimer3Count &&
           (msr - hyperv::msr::kStimer0Config) % 2 == 0;
}

} // namespace

// --- guest RAM for the Hyper-V code ---

uint64_t* Partition::HypervMemory::word(uint64_t guest_physical) {
    if (guest_physical % 8 != 0)
        return nullptr;
    return reinterpret_cast<uint64_t*>(partition_.host_pointer(guest_physical, 8));
}

bool Partition::HypervMemory::fill_page(uint64_t page_gpa, std::span<const uint8_t> prefix) {
    uint8_t* page = partition_.host_pointer(page_gpa, hyperv::kPageSize);
    if (page == nullptr || prefix.size() > hyperv::kPageSize)
        return false; // not RAM: nothing written
    memset(page, 0, hyperv::kPageSize);
    if (!prefix.empty())
        memcpy(page, prefix.data(), prefix.size());
    return true;
}

bool Partition::HypervMemory::read(uint64_t guest_physical, std::span<uint8_t> data) {
    return data.empty() ||
           !partition_.read_guest(guest_physical, data.data(), data.size()).is_error();
}

bool Partition::HypervMemory::write(uint64_t guest_physical, std::span<const uint8_t> data) {
    return data.empty() ||
           !partition_.write_guest(guest_physical, data.data(), data.size()).is_error();
}

bool Partition::HypervMemory::load_u64(uint64_t guest_physical, uint64_t& value) {
    uint64_t* target = word(guest_physical);
    if (target == nullptr)
        return false;
    value = __atomic_load_n(target, __ATOMIC_SEQ_CST);
    return true;
}

bool Partition::HypervMemory::compare_exchange_u64(uint64_t guest_physical, uint64_t& expected,
                                                   uint64_t desired, bool& swapped) {
    uint64_t* target = word(guest_physical);
    if (target == nullptr)
        return false;
    swapped = __atomic_compare_exchange_n(target, &expected, desired, false, __ATOMIC_SEQ_CST,
                                          __ATOMIC_SEQ_CST);
    return true;
}

bool Partition::HypervMemory::fetch_or_u64(uint64_t guest_physical, uint64_t bits,
                                           uint64_t& previous) {
    uint64_t* target = word(guest_physical);
    if (target == nullptr)
        return false;
    previous = __atomic_fetch_or(target, bits, __ATOMIC_SEQ_CST);
    return true;
}

// --- the vCPU's own SynIC ---

int64_t Partition::guest_tsc_offset(uint32_t index) {
    // Host TSC first: the difference is then the offset or a few cycles more, so a timer is
    // never found "not yet due" at the very TSC its deadline was armed for.
    const uint64_t host = x86::rdtsc();
    return static_cast<int64_t>(vcpus_[index].backend->guest_tsc() - host);
}

void Partition::refresh_synic_deadline(uint32_t index, hyperv::VpSynic& synic, int64_t tsc_offset) {
    const uint64_t guest = hyperv().clock().tsc_at(synic.next_deadline());
    uint64_t host = kNoDeadline;
    if (guest != hyperv::kNoTscDeadline) {
        host = guest - static_cast<uint64_t>(tsc_offset);
        if (tsc_offset < 0 && host < guest)
            host = kNoDeadline; // beyond the host TSC's range
        else if (tsc_offset > 0 && host > guest)
            host = 0; // the guest's TSC is that far ahead: due now
    }
    __atomic_store_n(&vcpus_[index].synic_deadline, host, __ATOMIC_RELAXED);
}

bool Partition::synic_msr(uint32_t index, uint32_t msr, bool write, uint64_t& value) {
    hyperv::HypervPartition& hv = hyperv();
    Vcpu& vcpu = vcpus_[index];
    if (!write) {
        mm::SpinLockGuard guard(vcpu.synic_lock);
        return hv.synic(index).read_msr(msr, value);
    }
    const int64_t offset = guest_tsc_offset(index);
    const uint64_t now = hv.clock().time_at(x86::rdtsc() + static_cast<uint64_t>(offset));
    HypervMemory memory(*this);
    hyperv::InterruptVectors raise;
    hyperv::InterruptVectors auto_eoi;
    bool ok;
    {
        mm::SpinLockGuard guard(vcpu.synic_lock);
        hyperv::VpSynic& synic = hv.synic(index);
        ok = synic.write_msr(msr, value, now, memory, raise);
        refresh_synic_deadline(index, synic, offset);
        auto_eoi = synic.auto_eoi_vectors();
    }
    if (ok && is_stimer_config(msr) && (value & hyperv::kStimerEnable) != 0 &&
        !vcpu.stimer_logged) {
        // Once per vCPU: which timer mode the guest chose (Linux: direct-mode STIMER0 as its
        // clockevent).
        vcpu.stimer_logged = true;
        const unsigned timer = (msr - hyperv::msr::kStimer0Config) / 2;
        if ((value & hyperv::kStimerDirectMode) != 0)
            log::info("%s: vcpu %u: synthetic timer %u enabled (direct mode, vector %#x)", name_,
                      index, timer,
                      static_cast<unsigned>((value >> hyperv::kStimerVectorShift) & 0xFF));
        else
            log::info("%s: vcpu %u: synthetic timer %u enabled (message mode, SINT %u)", name_,
                      index, timer,
                      static_cast<unsigned>((value >> hyperv::kStimerSintShift) & 0xF));
    }
    if (!ok)
        return false;
    if (msr >= hyperv::msr::kSint0 && msr <= hyperv::msr::kSint15) {
        mm::SpinLockGuard guard(vcpu.lapic_lock);
        vcpu.lapic->set_auto_eoi_vectors(to_vector_set(auto_eoi));
    }
    assert_synic_vectors(index, raise, false);
    if (msr == hyperv::msr::kEom && observer_ != nullptr)
        observer_->synic_end_of_message(index);
    return true;
}

void Partition::fire_synthetic_timers(uint32_t index, uint64_t now,
                                      hyperv::InterruptVectors& raise) {
    if (!hyperv_constructed())
        return;
    hyperv::HypervPartition& hv = hyperv();
    const int64_t offset = guest_tsc_offset(index);
    HypervMemory memory(*this);
    mm::SpinLockGuard guard(vcpus_[index].synic_lock);
    hyperv::VpSynic& synic = hv.synic(index);
    synic.update(hv.clock().time_at(now + static_cast<uint64_t>(offset)), memory, raise);
    refresh_synic_deadline(index, synic, offset);
}

void Partition::assert_synic_vectors(uint32_t index, const hyperv::InterruptVectors& vectors,
                                     bool kick) {
    if (vectors.empty())
        return;
    {
        Vcpu& vcpu = vcpus_[index];
        mm::SpinLockGuard guard(vcpu.lapic_lock);
        for (int vector = vectors.next(0); vector >= 0; vector = vectors.next(vector + 1))
            vcpu.lapic->accept(static_cast<uint8_t>(vector), false);
    }
    if (kick && observer_ != nullptr)
        observer_->vcpu_has_work(index);
}

void Partition::reset_hyperv() {
    if (!hyperv_constructed())
        return;
    for (uint32_t i = 0; i < vcpu_count_; ++i)
        vcpus_[i].synic_lock.lock();
    {
        mm::SpinLockGuard guard(hyperv_lock_);
        hyperv().reset();
    }
    for (uint32_t i = vcpu_count_; i-- > 0;) {
        __atomic_store_n(&vcpus_[i].synic_deadline, kNoDeadline, __ATOMIC_RELAXED);
        vcpus_[i].synic_lock.unlock();
    }
}

// --- host -> guest (hyperv::SynicDelivery) and guest -> host routes ---

hyperv::DeliveryResult Partition::post_message(uint32_t vcpu, uint8_t sint, uint32_t message_type,
                                               std::span<const uint8_t> payload) {
    // Before the guest touched any Hyper-V MSR its SynIC cannot be enabled.
    if (vcpu >= vcpu_count_ || !hyperv_constructed())
        return hyperv::DeliveryResult::not_enabled;
    HypervMemory memory(*this);
    hyperv::InterruptVectors raise;
    hyperv::DeliveryResult result;
    {
        mm::SpinLockGuard guard(vcpus_[vcpu].synic_lock);
        result = hyperv().synic(vcpu).post_message(sint, message_type, payload, memory, raise);
    }
    assert_synic_vectors(vcpu, raise, true);
    return result;
}

hyperv::DeliveryResult Partition::signal_event(uint32_t vcpu, uint8_t sint, uint32_t flag_number) {
    if (vcpu >= vcpu_count_ || !hyperv_constructed())
        return hyperv::DeliveryResult::not_enabled;
    HypervMemory memory(*this);
    hyperv::InterruptVectors raise;
    hyperv::DeliveryResult result;
    {
        mm::SpinLockGuard guard(vcpus_[vcpu].synic_lock);
        result = hyperv().synic(vcpu).signal_event(sint, flag_number, memory, raise);
    }
    assert_synic_vectors(vcpu, raise, true);
    return result;
}

ErrorOr<void> Partition::set_synic_port(uint32_t connection_id, hyperv::SynicPort* port) {
    mm::SpinLockGuard guard(synic_ports_lock_);
    switch (synic_ports_.set(connection_id, port)) {
    case hyperv::ConnectionTable::SetResult::ok:
        return {};
    case hyperv::ConnectionTable::SetResult::invalid_id:
        return Error(ErrorCode::invalid_argument, "connection id has reserved bits set");
    case hyperv::ConnectionTable::SetResult::full:
        return Error(ErrorCode::out_of_range, "too many SynIC connections");
    }
    return Error(ErrorCode::invalid_argument, "unknown connection table result");
}

} // namespace halcyon::vmm
