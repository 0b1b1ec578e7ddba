#include "vmm/partition/partition.hpp"

#include "boot/handoff/handoff.hpp"
#include "vmm/arch/x86_64/tsc.hpp"
#include "vmm/core/log.hpp"
#include "vmm/partition/backend_factory.hpp"
#include "vmm/partition/cpuid_policy.hpp"
#include "vmm/partition/msr_policy.hpp"
#include "vmm/partition/object_memory.hpp"

#include <new>
#include <string.h>

namespace halcyon::vmm {
namespace {

constexpr uint8_t kVectorGeneralProtection = 13;
constexpr uint64_t kRflagsIf = 1ull << 9;
constexpr uint64_t kChunkSize = 2ull << 20;
constexpr uint64_t kChunkPages = kChunkSize / mm::kPageSize;
// Internally handled exits in a row before run_vcpu() returns `yield`, so that a guest spinning
// on CPUID cannot keep other vCPUs of the same physical CPU from running.
constexpr int kMaxExitsPerRun = 64;

template <typename T = uint8_t>
T* direct(uint64_t physical) {
    return reinterpret_cast<T*>(handoff::kDirectMapBase + physical);
}

} // namespace

Partition::Partition(mm::FrameAllocator& frames, mm::GuestPhysicalTable npt,
                     uint32_t address_space_id)
    : frames_(&frames), npt_(static_cast<mm::GuestPhysicalTable&&>(npt)),
      address_space_id_(address_space_id) {}

ErrorOr<Partition*> Partition::create(const char* name, uint32_t address_space_id,
                                      mm::FrameAllocator& frames) {
    auto npt = TRY(mm::GuestPhysicalTable::create(nested_table_format(), frames,
                                                  mm::PhysicalWindow::direct_map()));
    void* memory = allocate_object(sizeof(Partition), alignof(Partition));
    if (memory == nullptr) {
        npt.destroy();
        return Error(ErrorCode::out_of_memory, "no memory for a partition");
    }
    auto* partition = new (memory)
        Partition(frames, static_cast<mm::GuestPhysicalTable&&>(npt), address_space_id);
    for (size_t i = 0; i + 1 < sizeof(partition->name_) && name[i] != '\0'; ++i)
        partition->name_[i] = name[i];
    return partition;
}

Partition::~Partition() {
    for (uint32_t i = 0; i < vcpu_count_; ++i) {
        release_fpu_state(vcpus_[i].fpu);
        delete vcpus_[i].backend;
        vcpus_[i].lapic->~VirtualLapic();
        free_object(vcpus_[i].lapic);
    }
    if (hyperv_ready_)
        hyperv().~HypervPartition();
    npt_.destroy();
    for (uint32_t i = 0; i < chunk_count_; ++i)
        (void)frames_->free(chunks_[i].host_physical, kChunkPages);
    if (all_ones_page_ != 0)
        (void)frames_->free(all_ones_page_, 1);
}

ErrorOr<void> Partition::add_memory(uint64_t guest_physical, uint64_t size) {
    if (guest_physical % kChunkSize != 0 || size % kChunkSize != 0)
        return Error(ErrorCode::invalid_argument, "guest memory must be 2 MiB aligned and sized");
    for (uint64_t offset = 0; offset < size; offset += kChunkSize) {
        if (chunk_count_ == kMaxMemoryChunks)
            return Error(ErrorCode::out_of_range, "too many guest memory chunks");
        // 2 MiB-aligned host chunks let the nested tables use 2 MiB pages (fewer TLB misses).
        const uint64_t host = TRY(frames_->allocate(kChunkPages, kChunkPages));
        memset(direct(host), 0, kChunkSize); // never leak a previous owner's data
        auto mapped = npt_.map(guest_physical + offset, host, kChunkSize, mm::kGuestMemory);
        if (mapped.is_error()) {
            (void)frames_->free(host, kChunkPages);
            return mapped.release_error();
        }
        chunks_[chunk_count_++] = {guest_physical + offset, host, kChunkSize};
        memory_bytes_ += kChunkSize;
    }
    return {};
}

uint8_t* Partition::host_pointer(uint64_t guest_physical, size_t size) {
    // RAM is added from GPA 0 up in 2 MiB chunks, so chunk n usually holds [n * 2 MiB, ...):
    // try it first (device rings make this a hot path), then search.
    const uint64_t guess = guest_physical / kChunkSize;
    if (guess < chunk_count_) {
        const Chunk& chunk = chunks_[guess];
        const uint64_t offset = guest_physical - chunk.guest_physical;
        if (guest_physical >= chunk.guest_physical && offset < chunk.size &&
            size <= chunk.size - offset)
            return direct(chunk.host_physical + offset);
    }
    for (uint32_t i = 0; i < chunk_count_; ++i) {
        const Chunk& chunk = chunks_[i];
        if (guest_physical >= chunk.guest_physical &&
            guest_physical - chunk.guest_physical < chunk.size &&
            size <= chunk.size - (guest_physical - chunk.guest_physical))
            return direct(chunk.host_physical + (guest_physical - chunk.guest_physical));
    }
    return nullptr;
}

bool Partition::is_ram(uint64_t guest_physical, size_t size) {
    if (size == 0 || guest_physical + size < guest_physical)
        return size == 0;
    while (size > 0) {
        const size_t piece = static_cast<size_t>(size < kChunkSize - guest_physical % kChunkSize
                                                     ? size
                                                     : kChunkSize - guest_physical % kChunkSize);
        if (host_pointer(guest_physical, piece) == nullptr)
            return false;
        guest_physical += piece;
        size -= piece;
    }
    return true;
}

ErrorOr<void> Partition::write_guest(uint64_t guest_physical, const void* data, size_t size) {
    // Chunks are contiguous in guest-physical space only chunk by chunk: copy piecewise.
    const auto* bytes = static_cast<const uint8_t*>(data);
    while (size > 0) {
        const size_t piece = static_cast<size_t>(size < kChunkSize - guest_physical % kChunkSize
                                                     ? size
                                                     : kChunkSize - guest_physical % kChunkSize);
        uint8_t* target = host_pointer(guest_physical, piece);
        if (target == nullptr)
            return Error(ErrorCode::out_of_range, "write outside the guest's memory");
        memcpy(target, bytes, piece);
        bytes += piece;
        guest_physical += piece;
        size -= piece;
    }
    return {};
}

ErrorOr<void> Partition::read_guest(uint64_t guest_physical, void* data, size_t size) {
    auto* bytes = static_cast<uint8_t*>(data);
    while (size > 0) {
        const size_t piece = static_cast<size_t>(size < kChunkSize - guest_physical % kChunkSize
                                                     ? size
                                                     : kChunkSize - guest_physical % kChunkSize);
        const uint8_t* source = host_pointer(guest_physical, piece);
        if (source == nullptr)
            return Error(ErrorCode::out_of_range, "read outside the guest's memory");
        memcpy(bytes, source, piece);
        bytes += piece;
        guest_physical += piece;
        size -= piece;
    }
    return {};
}

ErrorOr<uint32_t> Partition::create_vcpu(bool running) {
    if (vcpu_count_ == kMaxVcpusPerPartition)
        return Error(ErrorCode::out_of_range, "too many vCPUs in one partition");
    void* apic_memory = allocate_object(sizeof(lapic::VirtualLapic), alignof(lapic::VirtualLapic));
    if (apic_memory == nullptr)
        return Error(ErrorCode::out_of_memory, "no memory for a virtual local APIC");
    const BackendSetup setup{.nested_root = npt_.root(), .address_space_id = address_space_id_};
    auto backend = create_cpu_backend(*frames_, setup);
    if (backend.is_error()) {
        free_object(apic_memory);
        return backend.release_error();
    }
    const uint32_t index = vcpu_count_;
    Vcpu& vcpu = vcpus_[index];
    vcpu.backend = backend.value();
    vcpu.lapic = new (apic_memory) lapic::VirtualLapic(index, x86::tsc::frequency_hz());
    if (running)
        vcpu.lapic->start_running();
    init_fpu_state(vcpu.fpu);
    return vcpu_count_++;
}

void Partition::reset(bool all_running) {
    reset_hyperv();
    for (uint32_t i = 0; i < chunk_count_; ++i)
        memset(direct(chunks_[i].host_physical), 0, chunks_[i].size);
    for (uint32_t index = 0; index < vcpu_count_; ++index) {
        Vcpu& vcpu = vcpus_[index];
        vcpu.lapic->~VirtualLapic();
        new (vcpu.lapic) lapic::VirtualLapic(index, x86::tsc::frequency_hz());
        if (all_running)
            vcpu.lapic->start_running();
        vcpu.halted = false;
        vcpu.backend->reset();
        release_fpu_state(vcpu.fpu);
        init_fpu_state(vcpu.fpu);
    }
}

GeneralRegisters& Partition::registers(uint32_t index) {
    return vcpus_[index].backend->registers();
}

SystemRegisters Partition::system_registers(uint32_t index) {
    return vcpus_[index].backend->system_registers();
}

void Partition::set_system_registers(uint32_t index, const SystemRegisters& registers) {
    vcpus_[index].backend->set_system_registers(registers);
}

void Partition::inject_exception(uint32_t index, uint8_t vector, bool has_error_code,
                                 uint32_t error_code) {
    vcpus_[index].backend->inject_exception(vector, has_error_code, error_code);
}

void Partition::complete_io(uint32_t index, const IoExit& io, uint32_t value) {
    GeneralRegisters& regs = registers(index);
    if (io.in) {
        if (io.size == 4)
            regs.rax = value; // a 32-bit register write zero-extends
        else if (io.size == 2)
            regs.rax = (regs.rax & ~0xFFFFull) | (value & 0xFFFF);
        else
            regs.rax = (regs.rax & ~0xFFull) | (value & 0xFF);
    }
    regs.rip = io.next_rip;
}

ErrorOr<Intercept> Partition::run_vcpu(uint32_t index) {
    if (index >= vcpu_count_)
        return Error(ErrorCode::out_of_range, "no such vCPU");
    Vcpu& vcpu = vcpus_[index];
    activate_fpu_state(vcpu.fpu);
    for (int i = 0; i < kMaxExitsPerRun; ++i) {
        if (!prepare_entry(index)) {
            Intercept halted;
            halted.kind = InterceptKind::halted;
            // RFLAGS.IF alone: the STI shadow of `sti; hlt` (the idle loop of every OS) ended
            // with the HLT.
            halted.interrupts_enabled =
                (vcpu.backend->registers().rflags & kRflagsIf) != 0 || !vcpu.halted;
            halted.wake_deadline = timer_deadline(index);
            return halted;
        }
        const VcpuExit exit = TRY(vcpu.backend->run());
        vcpu.exit_next_rip = exit.next_rip;
        vcpu.exit_instruction_byte_count = exit.instruction_byte_count;
        memcpy(vcpu.exit_instruction_bytes, exit.instruction_bytes, exit.instruction_byte_count);
        __atomic_add_fetch(&exit_counts_[static_cast<size_t>(exit.reason)], 1, __ATOMIC_RELAXED);
        Intercept intercept;
        intercept.raw_code = exit.raw_code;
        const bool for_worker = TRY(handle_exit(index, exit, intercept));
        if (for_worker)
            return intercept;
    }
    Intercept intercept;
    intercept.kind = InterceptKind::yield;
    return intercept;
}

ErrorOr<bool> Partition::handle_exit(uint32_t index, const VcpuExit& exit, Intercept& out) {
    CpuBackend& cpu = *vcpus_[index].backend;
    GeneralRegisters& regs = cpu.registers();
    switch (exit.reason) {
    case ExitReason::retry:
        return false;
    case ExitReason::cpuid: {
        const auto leaf = static_cast<uint32_t>(regs.rax);
        const auto subleaf = static_cast<uint32_t>(regs.rcx);
        const virt::CpuidRegisters result = cpuid(index, leaf, subleaf);
        if (cpuid_interceptor_ != nullptr && cpuid_interceptor_->intercepts_cpuid(leaf)) {
            const uint8_t length = TRY(instruction_length(index));
            cpuid_interceptor_->cpuid_intercepted(index, {leaf, subleaf, result, length});
            out.kind = InterceptKind::yield;
            return true;
        }
        TRY(skip_instruction(index));
        regs.rax = result.eax;
        regs.rbx = result.ebx;
        regs.rcx = result.ecx;
        regs.rdx = result.edx;
        return false;
    }
    case ExitReason::msr_read: {
        uint64_t value = 0;
        bool ok;
        if (lapic::VirtualLapic::claims_msr(exit.msr))
            ok = lapic_msr(index, exit.msr, false, value);
        else if (hyperv::HypervPartition::claims_msr(exit.msr))
            ok = hyperv_msr(index, exit.msr, false, value);
        else
            ok = read_msr(cpu, index, exit.msr, value) == MsrOutcome::done;
        if (!ok) {
            cpu.inject_exception(kVectorGeneralProtection, true, 0);
            return false;
        }
        TRY(skip_instruction(index));
        regs.rax = static_cast<uint32_t>(value);
        regs.rdx = value >> 32;
        return false;
    }
    case ExitReason::msr_write: {
        uint64_t value = exit.msr_value;
        bool ok;
        if (lapic::VirtualLapic::claims_msr(exit.msr))
            ok = lapic_msr(index, exit.msr, true, value);
        else if (hyperv::HypervPartition::claims_msr(exit.msr))
            ok = hyperv_msr(index, exit.msr, true, value);
        else
            ok = write_msr(cpu, index, exit.msr, value) == MsrOutcome::done;
        if (!ok) {
            cpu.inject_exception(kVectorGeneralProtection, true, 0);
            return false;
        }
        TRY(skip_instruction(index));
        return false;
    }
    case ExitReason::pause:
        TRY(skip_instruction(index));
        out.kind = InterceptKind::yield;
        return true;
    case ExitReason::host_interrupt:
        out.kind = InterceptKind::yield;
        return true;
    case ExitReason::hlt:
        regs.rip += 1;               // HLT is F4; a prefix on it would be meaningless
        vcpus_[index].halted = true; // prepare_entry() decides whether it wakes at once
        return false;
    case ExitReason::interrupt_window:
        return false; // prepare_entry() injects what is pending
    case ExitReason::hypercall:
        return handle_hypercall(index, out);
    case ExitReason::io:
        out.kind = InterceptKind::io;
        out.io = exit.io;
        return true;
    case ExitReason::shutdown:
        out.kind = InterceptKind::shutdown;
        return true;
    case ExitReason::nested_page_fault: {
        const uint64_t gpa = exit.memory.guest_physical;
        if (in_mmio_region(gpa)) {
            out.kind = InterceptKind::mmio;
            out.memory = exit.memory;
            return true;
        }
        auto handled = gpa - kLapicBase < mm::kPageSize
                           ? emulate_lapic(index)
                           : handle_unbacked_access(index, exit.memory);
        if (handled.is_error()) {
            log::warn("%s: vcpu %u: nested page fault at GPA %#llx (rip %#llx, %s) failed: %s",
                      name_, index, static_cast<unsigned long long>(gpa),
                      static_cast<unsigned long long>(regs.rip),
                      exit.memory.write ? "write" : "read", handled.error().message());
            out.kind = InterceptKind::failed;
            out.message = handled.error().message();
            return true;
        }
        return false;
    }
    case ExitReason::invalid_state:
        out.kind = InterceptKind::failed;
        out.message = "the CPU refused the guest state (VMEXIT_INVALID)";
        return true;
    case ExitReason::unhandled:
        out.kind = InterceptKind::failed;
        out.message = "unexpected exit";
        return true;
    }
    out.kind = InterceptKind::failed;
    out.message = "unknown exit reason";
    return true;
}

// A guest-physical address without RAM behaves like an unbacked bus address on a PC: reads
// return all ones, writes go nowhere. Reads are served by mapping one read-only page of 0xFF
// bytes there (so later reads cost nothing); a write to such a page faults again and is
// completed by skipping the instruction.
ErrorOr<void> Partition::handle_unbacked_access(uint32_t index, const MemoryExit& access) {
    const uint64_t page = access.guest_physical & ~(mm::kPageSize - 1);
    mm::SpinLockGuard guard(memory_lock_);
    if (host_pointer(page, mm::kPageSize) != nullptr)
        return Error(ErrorCode::corrupt, "nested page fault on guest RAM");
    if (access.present) {
        if (!access.write)
            return Error(ErrorCode::corrupt, "nested page fault on a readable unbacked page");
        return skip_instruction(index); // the write is dropped
    }
    if (unbacked_pages_ == kMaxUnbackedPages)
        return Error(ErrorCode::out_of_range,
                     "the guest touched too many addresses without memory");
    if (all_ones_page_ == 0) {
        all_ones_page_ = TRY(frames_->allocate(1));
        memset(direct(all_ones_page_), 0xFF, mm::kPageSize);
    }
    TRY(npt_.map(page, all_ones_page_, mm::kPageSize, mm::kGuestReadOnly));
    ++unbacked_pages_;
    return {};
}

} // namespace halcyon::vmm
