// A partition: one VM's guest-physical memory (nested page tables over frames of its own) and
// its virtual processors, behind the narrow partition-control interface the VM worker uses
// (docs/partition-interface.md):
//
//   create            Partition::create(name, asid, frames)
//   map memory        add_memory(gpa, size); read_guest()/write_guest() for loaders
//   create a vCPU     create_vcpu()
//   run a vCPU        run_vcpu(i) -> Intercept (only what the worker must decide)
//   registers         registers(i), system_registers(i), set_system_registers(i, ...)
//   intercepts        Intercept + complete_io()
//   inject            inject_interrupt(i, vector), inject_exception(i, ...)
//
// What the partition decides itself, so no worker ever sees it: CPUID (cpuid_policy.hpp),
// MSRs (msr_policy.hpp), PAUSE, accesses to guest-physical addresses without memory (they
// behave like unbacked memory: reads return all ones, writes are dropped), and everything the
// CPU backend handles (SVM instructions -> #UD).
#pragma once

#include "lib/base/error_or.hpp"
#include "mm/frame_allocator.hpp"
#include "mm/npt.hpp"
#include "mm/spinlock.hpp"
#include "vmm/cpu_backend.hpp"
#include "vmm/partition/fpu_state.hpp"

#include <stddef.h>
#include <stdint.h>

namespace halcyon::vmm {

inline constexpr uint32_t kMaxVcpusPerPartition = 64;
inline constexpr uint32_t kMaxMemoryChunks = 64;
// How many distinct unbacked guest-physical pages a partition may touch before the partition
// stops it: each costs nested page-table memory, and a guest probing its whole address space
// is almost certainly broken.
inline constexpr uint32_t kMaxUnbackedPages = 256;

enum class InterceptKind : uint8_t {
    io,       // port I/O for the worker's device models; answer with complete_io()
    halted,   // HLT executed (RIP is already past it); `interrupts_enabled` says if it can wake
    yield,    // nothing for the worker: the vCPU simply gave up the CPU (PAUSE, host IRQ)
    shutdown, // triple fault: the VM cannot continue
    failed,   // the partition could not continue this vCPU; `message` says why
};

struct Intercept {
    InterceptKind kind = InterceptKind::failed;
    IoExit io{};
    bool interrupts_enabled = false;
    const char* message = "";
    uint32_t raw_code = 0; // the backend's exit code, for diagnostics
};

class Partition {
public:
    [[nodiscard]] static ErrorOr<Partition*> create(const char* name, uint32_t address_space_id,
                                                    mm::FrameAllocator& frames);
    ~Partition();
    Partition(const Partition&) = delete;
    Partition& operator=(const Partition&) = delete;

    [[nodiscard]] const char* name() const { return name_; }

    // Gives the guest [guest_physical, +size) of fresh, zeroed RAM (2 MiB aligned and sized).
    [[nodiscard]] ErrorOr<void> add_memory(uint64_t guest_physical, uint64_t size);
    [[nodiscard]] uint64_t memory_size() const { return memory_bytes_; }
    // Copies to/from guest RAM; fails (without partial effect) if any byte is not RAM.
    [[nodiscard]] ErrorOr<void> write_guest(uint64_t guest_physical, const void* data, size_t size);
    [[nodiscard]] ErrorOr<void> read_guest(uint64_t guest_physical, void* data, size_t size);

    [[nodiscard]] ErrorOr<uint32_t> create_vcpu();
    [[nodiscard]] uint32_t vcpu_count() const { return vcpu_count_; }

    [[nodiscard]] ErrorOr<Intercept> run_vcpu(uint32_t index);

    [[nodiscard]] GeneralRegisters& registers(uint32_t index);
    [[nodiscard]] SystemRegisters system_registers(uint32_t index);
    void set_system_registers(uint32_t index, const SystemRegisters& registers);

    // Finishes the port I/O intercept `io` of vCPU `index`: for IN, `value` goes to AL/AX/EAX
    // (EAX's upper half cleared for 4-byte reads, as hardware does); RIP moves past the
    // instruction.
    void complete_io(uint32_t index, const IoExit& io, uint32_t value);

    // How many exits of each reason the partition's vCPUs took (all vCPUs together).
    [[nodiscard]] uint64_t exit_count(ExitReason reason) const {
        return __atomic_load_n(&exit_counts_[static_cast<size_t>(reason)], __ATOMIC_RELAXED);
    }

    // Fails with busy while the guest does not accept interrupts (RFLAGS.IF clear or an
    // interrupt shadow): EVENTINJ would deliver it regardless, which no real CPU does. (Waiting
    // for an interrupt window comes with the virtual interrupt controller.)
    [[nodiscard]] ErrorOr<void> inject_interrupt(uint32_t index, uint8_t vector);
    void inject_exception(uint32_t index, uint8_t vector, bool has_error_code, uint32_t error_code);

private:
    struct Vcpu {
        CpuBackend* backend = nullptr;
        FpuState fpu;
    };
    struct Chunk {
        uint64_t guest_physical;
        uint64_t host_physical;
        uint64_t size;
    };

    Partition(mm::FrameAllocator& frames, mm::NestedPageTable npt, uint32_t address_space_id);

    // One exit's worth of work inside the partition; returns an Intercept when the worker must
    // see it, or nullopt-like `handled` = true to keep running.
    [[nodiscard]] ErrorOr<bool> handle_exit(uint32_t index, const VcpuExit& exit, Intercept& out);
    [[nodiscard]] ErrorOr<void> handle_unbacked_access(uint32_t index, const MemoryExit& access);
    [[nodiscard]] ErrorOr<uint8_t> instruction_length(uint32_t index);
    [[nodiscard]] ErrorOr<void> skip_instruction(uint32_t index);
    [[nodiscard]] uint8_t* host_pointer(uint64_t guest_physical, size_t size);

    char name_[32] = {};
    mm::FrameAllocator* frames_;
    mm::NestedPageTable npt_;
    uint32_t address_space_id_;
    Vcpu vcpus_[kMaxVcpusPerPartition];
    uint32_t vcpu_count_ = 0;
    Chunk chunks_[kMaxMemoryChunks];
    uint32_t chunk_count_ = 0;
    uint64_t memory_bytes_ = 0;
    // Serialises changes to the nested tables: vCPUs of one partition fault on different CPUs.
    mm::SpinLock memory_lock_;
    uint64_t all_ones_page_ = 0; // read-only page behind unbacked guest-physical addresses
    uint32_t unbacked_pages_ = 0;
    uint64_t exit_counts_[kExitReasonCount] = {};
};

} // namespace halcyon::vmm
