// Walks a guest's own page tables (not the nested tables): the translation a guest linear address
// gets from the guest's CR0/CR3/CR4/EFER, with the access checks and the page-fault error code a
// real CPU would produce. The instruction emulator uses it to fetch at RIP and to find the GPA of
// a memory operand; it never touches host memory directly, only through GuestPhysicalMemory.
//
// Supported: paging off, 32-bit (with 4 MiB PSE pages and PSE-36), PAE, 4-level and 5-level
// (CR4.LA57) long mode, with W/U/NX, CR0.WP, SMEP and SMAP. Not modelled: protection keys
// (CR4.PKE/PKS), shadow stacks (CET), and PAE PDPTE caching at CR3 load (the PDPTEs are read
// from memory on every walk, as AMD does under nested paging).
#pragma once

#include "lib/base/error_or.hpp"
#include <stddef.h>
#include <stdint.h>

namespace halcyon::mm {

// Guest-physical memory as the caller backs it. read/write fail with ErrorCode::not_found for a
// GPA that is not ordinary guest RAM (unbacked or device memory).
class GuestPhysicalMemory {
public:
    [[nodiscard]] virtual ErrorOr<void> read(uint64_t gpa, void* buffer, size_t size) = 0;
    [[nodiscard]] virtual ErrorOr<void> write(uint64_t gpa, const void* buffer, size_t size) = 0;

protected:
    ~GuestPhysicalMemory() = default;
};

// The guest control state that selects the paging mode and its checks.
struct GuestPagingState {
    uint64_t cr0 = 0;
    uint64_t cr3 = 0;
    uint64_t cr4 = 0;
    uint64_t efer = 0;
    // MAXPHYADDR the guest sees (CPUID 0x80000008 EAX[7:0]); table bits above it are reserved.
    uint8_t physical_address_bits = 52;
};

namespace guest_paging {
inline constexpr uint64_t kCr0ProtectionEnable = 1ULL << 0;
inline constexpr uint64_t kCr0WriteProtect = 1ULL << 16;
inline constexpr uint64_t kCr0Paging = 1ULL << 31;
inline constexpr uint64_t kCr4Pse = 1ULL << 4;
inline constexpr uint64_t kCr4Pae = 1ULL << 5;
inline constexpr uint64_t kCr4La57 = 1ULL << 12;
inline constexpr uint64_t kCr4Smep = 1ULL << 20;
inline constexpr uint64_t kCr4Smap = 1ULL << 21;
inline constexpr uint64_t kEferLme = 1ULL << 8;
inline constexpr uint64_t kEferLma = 1ULL << 10;
inline constexpr uint64_t kEferNxe = 1ULL << 11;

// Page-fault error code bits (#PF pushes these).
inline constexpr uint32_t kPfPresent = 1U << 0;
inline constexpr uint32_t kPfWrite = 1U << 1;
inline constexpr uint32_t kPfUser = 1U << 2;
inline constexpr uint32_t kPfReserved = 1U << 3;
inline constexpr uint32_t kPfFetch = 1U << 4;
} // namespace guest_paging

enum class GuestPagingMode : uint8_t { none, legacy32, pae, long4, long5 };

[[nodiscard]] GuestPagingMode guest_paging_mode(const GuestPagingState& state);

// What the access is. `user` is a CPL-3 access; `implicit_supervisor` marks accesses the CPU
// makes on its own behalf (descriptor tables), which SMAP checks regardless of RFLAGS.AC.
struct GuestAccess {
    bool write = false;
    bool user = false;
    bool execute = false;
    bool rflags_ac = false; // RFLAGS.AC: lets explicit supervisor data accesses through SMAP
    bool implicit_supervisor = false;
};

struct GuestWalkOptions {
    // Set Accessed on every entry used and Dirty on the leaf of a write, as the CPU would. The
    // update is a plain write, not a locked one: the caller runs on the vCPU that owns the walk.
    bool set_accessed_dirty = false;
};

enum class GuestWalkStatus : uint8_t {
    ok,
    page_fault,         // deliver #PF(error_code) with CR2 = the linear address
    general_protection, // non-canonical address in long mode: #GP(0) (#SS(0) for stack accesses)
};

struct GuestWalkResult {
    GuestWalkStatus status = GuestWalkStatus::ok;
    uint32_t error_code = 0; // page-fault error code when status == page_fault
    uint64_t gpa = 0;        // translation of the linear address when status == ok
    uint64_t page_size = 0;  // size of the mapping that translated it
    bool writable = false;   // effective rights of the mapping
    bool user = false;
    bool executable = false;
};

// Translates `linear`. The ErrorOr fails only when a paging-structure entry lies in GPA space
// `memory` cannot read (a guest pointing CR3 at MMIO): a real CPU would read garbage there, so the
// caller decides (normally: stop the VM or inject #MC), never the walker.
[[nodiscard]] ErrorOr<GuestWalkResult> walk_guest_page_tables(const GuestPagingState& state,
                                                              uint64_t linear, GuestAccess access,
                                                              GuestPhysicalMemory& memory,
                                                              GuestWalkOptions options = {});

// True when `linear` is canonical for the mode (always true outside long mode).
[[nodiscard]] bool guest_address_canonical(const GuestPagingState& state, uint64_t linear);

} // namespace halcyon::mm
