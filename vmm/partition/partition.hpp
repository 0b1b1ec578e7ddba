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
//   Hyper-V SynIC     the partition is the hyperv::SynicDelivery of its guest (host -> guest
//                     messages and events); set_synic_port() routes the guest's
//                     HvPostMessage / HvSignalEvent of a connection id to a hyperv::SynicPort
//
// What the partition decides itself, so no worker ever sees it: CPUID (cpuid_policy.hpp),
// MSRs (msr_policy.hpp), PAUSE, accesses to guest-physical addresses without memory (they
// behave like unbacked memory: reads return all ones, writes are dropped), and everything the
// CPU backend handles (SVM instructions -> #UD).
#pragma once

#include "lib/base/error_or.hpp"
#include "mm/ept_or_npt.hpp"
#include "mm/frame_allocator.hpp"
#include "mm/spinlock.hpp"
#include "vmm/cpu_backend.hpp"
#include "vmm/emulate/emulator.hpp"
#include "vmm/hyperv/connection_table.hpp"
#include "vmm/hyperv/hyperv_partition.hpp"
#include "vmm/hyperv/synic_ports.hpp"
#include "vmm/lapic/vlapic.hpp"
#include "vmm/partition/fpu_state.hpp"

#include <stddef.h>
#include <stdint.h>

namespace halcyon::vmm {

inline constexpr uint32_t kMaxVcpusPerPartition = 64;
inline constexpr uint32_t kMaxMemoryChunks = 1024; // 2 GiB of guest RAM in 2 MiB chunks
// How many distinct unbacked guest-physical pages a partition may touch before the partition
// stops it: each costs nested page-table memory, and a guest probing its whole address space
// is almost certainly broken.
inline constexpr uint32_t kMaxUnbackedPages = 256;
inline constexpr uint32_t kMaxMmioRegions = 16;
// Guest-physical page of every vCPU's local APIC in xAPIC mode (the partition emulates it).
inline constexpr uint64_t kLapicBase = 0xFEE0'0000;
// A vCPU's TSC deadline when nothing will wake it by itself.
inline constexpr uint64_t kNoDeadline = ~0ull;

enum class InterceptKind : uint8_t {
    io,       // port I/O for the worker's device models; answer with complete_io()
    mmio,     // access to a worker MMIO region (`memory`); answer with emulate_mmio()
    halted,   // in HLT (or waiting for a startup IPI) with nothing to deliver: see wake_deadline
    yield,    // nothing for the worker: the vCPU simply gave up the CPU (PAUSE, host IRQ)
    shutdown, // triple fault: the VM cannot continue
    failed,   // the partition could not continue this vCPU; `message` says why
};

struct Intercept {
    InterceptKind kind = InterceptKind::failed;
    IoExit io{};
    MemoryExit memory{};
    // halted: whether an interrupt can wake the vCPU at all (HLT with RFLAGS.IF clear cannot be
    // woken but by an NMI or INIT), and the TSC value at which its own local APIC timer will.
    bool interrupts_enabled = false;
    uint64_t wake_deadline = kNoDeadline;
    const char* message = "";
    uint32_t raw_code = 0; // the backend's exit code, for diagnostics
};

// What the partition tells the VM worker about, from any physical CPU (keep it short: called
// with no partition lock held, but possibly while another vCPU's exit is being handled).
class PartitionObserver {
public:
    // vCPU `index` has something to deliver now (an interrupt arrived): if it is halted, run it
    // again; if it is in the guest on another CPU, make it exit so the interrupt is taken.
    virtual void vcpu_has_work(uint32_t index) = 0;
    // A guest's local APIC ended a level-triggered interrupt (the IOAPIC's remote IRR clears).
    virtual void end_of_interrupt(uint8_t vector) = 0;
    // The guest wrote EOM to vCPU `index`'s SynIC: it emptied a message slot, so whoever got
    // DeliveryResult::queue_full from post_message may retry now (the VMBus host's poll()).
    // Called on that vCPU's exit path with no partition lock held.
    virtual void synic_end_of_message(uint32_t index) { (void)index; }

protected:
    ~PartitionObserver() = default;
};

// A CPUID the partition's owner answers itself: the root partition's HvInstallIntercept for a
// child (vmm/root, docs/management-partition.md). Called on the vCPU's exit path.
struct CpuidExit {
    uint32_t leaf = 0;
    uint32_t subleaf = 0;
    virt::CpuidRegisters result; // what the partition's own policy answers
    uint8_t instruction_length = 0;
};
class CpuidInterceptor {
public:
    [[nodiscard]] virtual bool intercepts_cpuid(uint32_t leaf) const = 0;
    // vCPU `index` stopped at a CPUID it intercepts: not executed (RIP at the instruction);
    // run_vcpu() returns `yield` right after this call.
    virtual void cpuid_intercepted(uint32_t index, const CpuidExit& exit) = 0;

protected:
    ~CpuidInterceptor() = default;
};

class Partition final : public hyperv::SynicDelivery {
public:
    [[nodiscard]] static ErrorOr<Partition*> create(const char* name, uint32_t address_space_id,
                                                    mm::FrameAllocator& frames);
    ~Partition() override;
    Partition(const Partition&) = delete;
    Partition& operator=(const Partition&) = delete;

    [[nodiscard]] const char* name() const { return name_; }

    // Gives the guest [guest_physical, +size) of fresh, zeroed RAM (2 MiB aligned and sized).
    [[nodiscard]] ErrorOr<void> add_memory(uint64_t guest_physical, uint64_t size);
    [[nodiscard]] uint64_t memory_size() const { return memory_bytes_; }
    // Copies to/from guest RAM; fails (without partial effect) if any byte is not RAM.
    [[nodiscard]] ErrorOr<void> write_guest(uint64_t guest_physical, const void* data, size_t size);
    [[nodiscard]] ErrorOr<void> read_guest(uint64_t guest_physical, void* data, size_t size);
    // For device models that share memory with the guest (VMBus rings): a host pointer to guest
    // RAM [guest_physical, +size) when it lies within one contiguous piece of RAM (nullptr
    // otherwise), and whether a range is RAM at all (it may span pieces).
    [[nodiscard]] uint8_t* ram_pointer(uint64_t guest_physical, size_t size) {
        return host_pointer(guest_physical, size);
    }
    [[nodiscard]] bool is_ram(uint64_t guest_physical, size_t size);
    // The partition's Hyper-V reference clock (100 ns since creation; immutable once made).
    [[nodiscard]] const hyperv::ReferenceClock& reference_clock() { return hyperv().clock(); }

    // Device memory the worker emulates: a nested page fault there becomes an `mmio`
    // intercept (the region is never backed by RAM or the all-ones page).
    [[nodiscard]] ErrorOr<void> add_mmio_region(uint64_t guest_physical, uint64_t size);
    void set_observer(PartitionObserver* observer) { observer_ = observer; }

    // vCPU 0 is the bootstrap processor and runs at once; the others wait for a startup IPI
    // from the guest (as on a PC) unless `running` is true (flat test guests start together).
    [[nodiscard]] ErrorOr<uint32_t> create_vcpu(bool running = false);
    // A guest reboot: RAM zeroed, every vCPU back to its power-on state (local APIC included,
    // queued events dropped), as create_vcpu(running) left it. Only while no vCPU runs.
    void reset(bool all_running);
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

    // Completes an `mmio` intercept: the instruction at RIP is emulated against `bus` (and guest
    // RAM), or the exception it raises is injected. Fails only if the VM cannot go on.
    [[nodiscard]] ErrorOr<void> emulate_mmio(uint32_t index, emulate::MmioBus& bus);

    // An interrupt message (from the worker's IOAPIC or a device's MSI) for the local APICs
    // it addresses; delivered at the target vCPUs' next entries.
    void deliver_interrupt(const lapic::Ipi& message);
    void inject_exception(uint32_t index, uint8_t vector, bool has_error_code, uint32_t error_code);

    // The earliest TSC deadline of vCPU `index`'s own timers - its local APIC timer and its
    // Hyper-V synthetic timers - (kNoDeadline if none): run_vcpu() must not keep the vCPU in
    // the guest beyond it, and a halted vCPU wakes then.
    [[nodiscard]] uint64_t timer_deadline(uint32_t index);
    // Before run_vcpu(index): the worker's own reasons to take the CPU back (the end of the
    // slice, the next device event) and the deadline it armed the CPU's preemption timer for
    // (that and timer_deadline()). From then on the partition keeps the preemption timer at
    // the earlier of `worker_deadline` and the vCPU's own timers as they change during the run
    // - a TSC-deadline or STIMER write handled inside the partition moves it earlier, a timer
    // fired before an entry moves it on - so a timer interrupt is neither delayed to the end of
    // the slice nor followed by an exit for a deadline that has already been served.
    void set_exit_deadline(uint32_t index, uint64_t worker_deadline, uint64_t armed) {
        vcpus_[index].worker_deadline = worker_deadline;
        vcpus_[index].armed_deadline = armed;
        vcpus_[index].manage_preemption = true;
    }

    // --- Hyper-V SynIC (partition_synic.cpp, docs/hyperv.md) ---
    // Routes HvPostMessage / HvSignalEvent for `connection_id` (24 bits) to `port`; nullptr
    // removes the route. The port is called on the calling vCPU's exit path with no partition
    // lock held; it must stay valid until removed while no vCPU runs (or for the partition's
    // life). Fails for an id with its reserved high bits set or when the table is full.
    [[nodiscard]] ErrorOr<void> set_synic_port(uint32_t connection_id, hyperv::SynicPort* port);
    // hyperv::SynicDelivery, from any CPU: the message or event flag goes into vCPU `vcpu`'s
    // SynIC pages, the SINT's vector is asserted on its local APIC and the vCPU kicked.
    [[nodiscard]] hyperv::DeliveryResult post_message(uint32_t vcpu, uint8_t sint,
                                                      uint32_t message_type,
                                                      std::span<const uint8_t> payload) override;
    [[nodiscard]] hyperv::DeliveryResult signal_event(uint32_t vcpu, uint8_t sint,
                                                      uint32_t flag_number) override;

    // --- the root partition's interface (vmm/root, partition_root.cpp) ---
    // CPUID exits the interceptor claims stop the vCPU (nullptr: none; set while no vCPU runs).
    void set_cpuid_interceptor(CpuidInterceptor* interceptor) { cpuid_interceptor_ = interceptor; }
    // Takes the 2 MiB chunk of RAM at `guest_physical` out of this partition: unmapped from the
    // nested tables (each vCPU flushes its TLB before it next enters) and no longer freed by
    // this partition. Returns its host-physical address. Only while no vCPU of this partition
    // is in the guest on another CPU.
    [[nodiscard]] ErrorOr<uint64_t> detach_memory(uint64_t guest_physical);
    // Maps a detached chunk (2 MiB, host_physical 2 MiB aligned) at `guest_physical`, where
    // there is no RAM, MMIO region or local APIC yet; the partition owns it from then on.
    [[nodiscard]] ErrorOr<void> attach_memory(uint64_t guest_physical, uint64_t host_physical);

    // --- identity-mapped memory: the management partition (partition_identity.cpp) ---
    // `size` bytes (2 MiB aligned and sized) of fresh, zeroed, host-physically contiguous RAM,
    // 2 MiB aligned, mapped write-back at guest-physical = host-physical. Returns its base. It
    // is ordinary RAM from then on (read_guest, reset() zeroes it, freed with the partition).
    [[nodiscard]] ErrorOr<uint64_t> add_identity_memory(uint64_t size);
    // Device memory of an assigned PCI function (a memory BAR): [physical, +size) mapped at
    // guest-physical = host-physical, uncached, not executable. Never RAM to the core (no
    // read_guest, never zeroed or freed). 4 KiB aligned; must not overlap RAM, an MMIO region
    // or the local APIC page.
    [[nodiscard]] ErrorOr<void> map_device_memory(uint64_t physical, uint64_t size);
    // The end of the highest guest-physical RAM (memory_size() when RAM starts at 0 in one
    // piece): hypercall parameter blocks must lie below it.
    [[nodiscard]] uint64_t ram_limit() const;

private:
    struct Vcpu {
        CpuBackend* backend = nullptr;
        FpuState fpu;
        lapic::VirtualLapic* lapic = nullptr;
        mm::SpinLock lapic_lock; // IPIs and device interrupts arrive from other CPUs
        // The vCPU's SynIC and synthetic timers (hyperv().synic(index)): the VMBus host posts
        // from other CPUs. Never held together with lapic_lock (vectors are collected, then
        // asserted).
        mm::SpinLock synic_lock;
        // Host TSC at which the vCPU's next synthetic timer expires (kNoDeadline if none): read
        // without the lock before every entry, written under synic_lock.
        uint64_t synic_deadline = kNoDeadline;
        // See set_exit_deadline(): the worker's deadline and what the preemption timer is
        // armed for (only kept once the worker said so).
        uint64_t worker_deadline = kNoDeadline;
        uint64_t armed_deadline = kNoDeadline;
        bool manage_preemption = false;
        bool stimer_logged = false; // the first synthetic timer was logged
        bool halted = false;        // in HLT until an interrupt it accepts arrives
        // What the CPU told about the instruction of the last exit (VcpuExit::next_rip and
        // instruction_bytes), so completing it needs no decode when the hardware can do that.
        uint64_t exit_next_rip = 0;
        uint8_t exit_instruction_bytes[15] = {};
        uint8_t exit_instruction_byte_count = 0;
    };
    class Outbox;
    class LapicMmio;
    class GuestMemory;
    class HypervMemory; // hyperv::GuestMemory over the guest's RAM (partition_synic.cpp)
    struct Chunk {
        uint64_t guest_physical;
        uint64_t host_physical;
        uint64_t size;
    };

    Partition(mm::FrameAllocator& frames, mm::GuestPhysicalTable npt, uint32_t address_space_id);

    // One exit's worth of work inside the partition; returns an Intercept when the worker must
    // see it, or nullopt-like `handled` = true to keep running.
    [[nodiscard]] ErrorOr<bool> handle_exit(uint32_t index, const VcpuExit& exit, Intercept& out);
    [[nodiscard]] ErrorOr<void> handle_unbacked_access(uint32_t index, const MemoryExit& access);
    [[nodiscard]] ErrorOr<uint8_t> instruction_length(uint32_t index);
    [[nodiscard]] ErrorOr<void> skip_instruction(uint32_t index);
    [[nodiscard]] uint8_t* host_pointer(uint64_t guest_physical, size_t size);
    [[nodiscard]] bool in_mmio_region(uint64_t guest_physical) const;
    [[nodiscard]] ErrorOr<void> emulate(uint32_t index, emulate::MmioBus& bus);
    [[nodiscard]] ErrorOr<void> emulate_lapic(uint32_t index);
    // The Hyper-V synthetic interface (partition_hyperv.cpp).
    [[nodiscard]] ErrorOr<bool> handle_hypercall(uint32_t index, Intercept& out);
    [[nodiscard]] virt::CpuidRegisters cpuid(uint32_t index, uint32_t leaf, uint32_t subleaf);
    // false: #GP. Only for MSRs hyperv::HypervPartition::claims_msr() names.
    [[nodiscard]] bool hyperv_msr(uint32_t index, uint32_t msr, bool write, uint64_t& value);
    // The Hyper-V state, made on first use (any CPU: the first use is safe from several).
    [[nodiscard]] hyperv::HypervPartition& hyperv();
    [[nodiscard]] bool hyperv_constructed() const {
        return __atomic_load_n(&hyperv_ready_, __ATOMIC_ACQUIRE);
    }

    // A guest reboot's reset of the Hyper-V state (HypervPartition::reset), with every vCPU's
    // SynIC lock held (in index order) so that a host delivery racing the reboot sees either
    // the old or the fresh SynIC, never half of one. For reset(); nothing if never made.
    void reset_hyperv();
    // The SynIC and synthetic timers (partition_synic.cpp).
    // SynIC and STIMER MSRs of vCPU `index` (on its own CPU); false: #GP.
    [[nodiscard]] bool synic_msr(uint32_t index, uint32_t msr, bool write, uint64_t& value);
    // Before an entry at host TSC `now`: fires the vCPU's due synthetic timers; the vectors to
    // assert on its local APIC are added to `raise`.
    void fire_synthetic_timers(uint32_t index, uint64_t now, hyperv::InterruptVectors& raise);
    // With synic_lock held: caches the host TSC of the next synthetic timer expiration.
    void refresh_synic_deadline(uint32_t index, hyperv::VpSynic& synic, int64_t tsc_offset);
    // Asserts `vectors` (fixed, edge) on vCPU `index`'s local APIC; `kick` wakes the vCPU (a
    // delivery from elsewhere). Takes lapic_lock: call with no SynIC lock held.
    void assert_synic_vectors(uint32_t index, const hyperv::InterruptVectors& vectors, bool kick);
    // The guest TSC minus the host TSC of vCPU `index` (0 unless the guest wrote IA32_TSC).
    [[nodiscard]] int64_t guest_tsc_offset(uint32_t index);

    // Interrupt delivery (partition_interrupts.cpp).
    // Before an entry: runs the local APIC's timer, starts a vCPU a startup IPI addressed, and
    // queues the interrupt or NMI to deliver; returns false if the vCPU stays halted.
    [[nodiscard]] bool prepare_entry(uint32_t index);
    // prepare_entry's work under the local APIC's lock; `own_deadline` receives the APIC timer's
    // deadline when the vCPU is to enter.
    [[nodiscard]] bool prepare_lapic_entry(uint32_t index, uint64_t now,
                                           const hyperv::InterruptVectors& synic_vectors,
                                           uint64_t& own_deadline);
    [[nodiscard]] bool lapic_msr(uint32_t index, uint32_t msr, bool write, uint64_t& value);
    void flush(Outbox& outbox);
    void start_at_vector(uint32_t index, uint8_t vector);

    char name_[32] = {};
    mm::FrameAllocator* frames_;
    mm::GuestPhysicalTable npt_;
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
    struct MmioRegion {
        uint64_t guest_physical;
        uint64_t size;
    };
    MmioRegion mmio_regions_[kMaxMmioRegions] = {};
    uint32_t mmio_region_count_ = 0;
    PartitionObserver* observer_ = nullptr;
    // The Hyper-V interface state (guest OS ID, hypercall page, reference clock, every vCPU's
    // SynIC), made on first use when the memory size is known. hyperv_lock_ guards the
    // partition-wide part (its calls are short); each vCPU's SynIC has its Vcpu::synic_lock.
    alignas(hyperv::HypervPartition) unsigned char hyperv_storage_[sizeof(hyperv::HypervPartition)];
    bool hyperv_ready_ = false;     // atomic: set once, after construction
    mm::SpinLock hyperv_init_lock_; // construction only (innermost)
    mm::SpinLock hyperv_lock_;
    // HvPostMessage / HvSignalEvent routes (set_synic_port).
    hyperv::ConnectionTable synic_ports_;
    mm::SpinLock synic_ports_lock_;
    // The root partition's interface: CPUID intercepts of a child, and how many privileged
    // hypercalls this partition made without the privilege (their log lines are limited).
    CpuidInterceptor* cpuid_interceptor_ = nullptr;
    uint32_t privileged_refusals_ = 0;
};

// The guest's RAM as the Hyper-V code sees it: overlay pages, hypercall parameter blocks, SynIC
// message slots and event flags (atomics on the host's mapping of that RAM, racing the guest's
// own LOCK-prefixed accesses). partition_synic.cpp.
class Partition::HypervMemory final : public hyperv::GuestMemory {
public:
    explicit HypervMemory(Partition& partition) : partition_(partition) {}
    bool fill_page(uint64_t page_gpa, std::span<const uint8_t> prefix) override;
    bool read(uint64_t guest_physical, std::span<uint8_t> data) override;
    bool write(uint64_t guest_physical, std::span<const uint8_t> data) override;
    bool load_u64(uint64_t guest_physical, uint64_t& value) override;
    bool compare_exchange_u64(uint64_t guest_physical, uint64_t& expected, uint64_t desired,
                              bool& swapped) override;
    bool fetch_or_u64(uint64_t guest_physical, uint64_t bits, uint64_t& previous) override;

private:
    [[nodiscard]] uint64_t* word(uint64_t guest_physical);
    Partition& partition_;
};

} // namespace halcyon::vmm
