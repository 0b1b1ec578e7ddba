// The flat-binary test-guest format and the state a guest starts in (docs/partition-interface.md,
// "Test guests"). A flat binary is loaded at kImageBase and entered in 64-bit long mode, so test
// guests are plain freestanding C with no boot code of their own:
//
//   memory     RAM from GPA 0 to the configured size, zeroed
//   0x1000     GDT: null, 0x08 = 64-bit code (DPL 0), 0x10 = data
//   0x2000     PML4; 0x3000 PDPT; 0x4000..0x7FFF four page directories:
//              GPA 0..4 GiB identity-mapped with 2 MiB pages, RWX, write-back (addresses
//              beyond the RAM are mapped too, so a guest can touch unbacked memory)
//   0x100000   the image (at most memory - 1 MiB); entry point = its first byte
//   registers  CR0 = PE|MP|ET|NE|WP|PG, CR4 = PAE|OSFXSR|OSXMMEXCPT, EFER = LME|LMA|NXE,
//              CR3 = 0x2000, CS = 0x08, DS/ES/SS/FS/GS = 0x10 (base 0), IDTR empty (the guest
//              installs its own), RFLAGS = 0x2 (interrupts off), CPL 0
//              RIP = 0x100000, RSP = 0x100000 - vCPU index * 64 KiB,
//              RDI = memory size in bytes, RSI = vCPU index, RDX = vCPU count
// Every vCPU starts at the entry point at once (there is no virtual APIC to send INIT/SIPI yet).
#pragma once

#include "lib/base/error_or.hpp"
#include "vmm/partition/partition.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::worker {

inline constexpr uint64_t kGdtAddress = 0x1000;
inline constexpr uint64_t kPml4Address = 0x2000;
inline constexpr uint64_t kImageBase = 0x10'0000;
inline constexpr uint64_t kStackPerVcpu = 0x1'0000;
inline constexpr uint32_t kMaxFlatVcpus = 8; // stacks live between 0x80000 and 0x100000
inline constexpr uint16_t kCodeSelector = 0x08;
inline constexpr uint16_t kDataSelector = 0x10;

// Writes the tables and the image into the partition's memory and sets every vCPU's registers.
[[nodiscard]] ErrorOr<void> load_flat_guest(vmm::Partition& partition,
                                            std::span<const uint8_t> image);

} // namespace halcyon::worker
