// What the core tells the management partition at entry (docs/management-partition.md, the
// stage-1 contract): one page at the base of the partition's identity-mapped RAM region,
// physical address in RDI. Shared by the core (writes it) and halcyon-mgmt.elf (reads it), so
// every field has a fixed width and a fixed offset (checked below); both sides compile it.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace halcyon::mgmt::partition {

inline constexpr uint32_t kBootInfoMagic = 0x54474D48; // "HMGT" little-endian
inline constexpr uint32_t kBootInfoVersion = 1;

// MgmtBootInfo::crash_test values.
inline constexpr uint32_t kCrashTestNone = 0;
inline constexpr uint32_t kCrashTestPageFault = 1; // fault 5 s after serving (first run only)

// The region's layout (offsets from region_base).
inline constexpr uint64_t kBootInfoOffset = 0;
inline constexpr uint64_t kPageTablesOffset = 0x1000;
inline constexpr uint64_t kImageOffset = 2ull << 20;
inline constexpr uint64_t kImageLinkBase = 0xFFFF'FFFF'8000'0000ull;
inline constexpr uint64_t kImageMaxSpan = 16ull << 20;

struct MgmtBootInfo {
    uint32_t magic;                    // kBootInfoMagic
    uint32_t version;                  // kBootInfoVersion
    uint32_t size;                     // sizeof(MgmtBootInfo)
    uint64_t region_base, region_size; // the identity RAM region (GPA == HPA)
    uint64_t free_base;                // first free byte (4 KiB aligned) after image + config
    uint64_t tsc_hz;                   // calibrated by the core
    uint64_t core_entry_tsc;           // TSC at core entry (host uptime = now - this)
    uint64_t host_memory_bytes;        // usable host RAM (Get-VMHost)
    uint32_t logical_processors;
    char virtualization[8];              // "svm", "vmx" or "none", NUL-terminated
    uint64_t config_text, config_length; // physical address/length of halcyon.cfg's text
    uint16_t nic_segment;
    uint8_t nic_bus, nic_device, nic_function;
    uint8_t nic_present;
    uint8_t reserved[2];
    uint64_t restarts;   // how many times the core restarted the partition
    uint32_t crash_test; // kCrashTest*
};

static_assert(offsetof(MgmtBootInfo, magic) == 0);
static_assert(offsetof(MgmtBootInfo, version) == 4);
static_assert(offsetof(MgmtBootInfo, size) == 8);
static_assert(offsetof(MgmtBootInfo, region_base) == 16);
static_assert(offsetof(MgmtBootInfo, region_size) == 24);
static_assert(offsetof(MgmtBootInfo, free_base) == 32);
static_assert(offsetof(MgmtBootInfo, tsc_hz) == 40);
static_assert(offsetof(MgmtBootInfo, core_entry_tsc) == 48);
static_assert(offsetof(MgmtBootInfo, host_memory_bytes) == 56);
static_assert(offsetof(MgmtBootInfo, logical_processors) == 64);
static_assert(offsetof(MgmtBootInfo, virtualization) == 68);
static_assert(offsetof(MgmtBootInfo, config_text) == 80);
static_assert(offsetof(MgmtBootInfo, config_length) == 88);
static_assert(offsetof(MgmtBootInfo, nic_segment) == 96);
static_assert(offsetof(MgmtBootInfo, nic_bus) == 98);
static_assert(offsetof(MgmtBootInfo, nic_device) == 99);
static_assert(offsetof(MgmtBootInfo, nic_function) == 100);
static_assert(offsetof(MgmtBootInfo, nic_present) == 101);
static_assert(offsetof(MgmtBootInfo, reserved) == 102);
static_assert(offsetof(MgmtBootInfo, restarts) == 104);
static_assert(offsetof(MgmtBootInfo, crash_test) == 112);
static_assert(sizeof(MgmtBootInfo) == 120);
static_assert(alignof(MgmtBootInfo) == 8);
static_assert(sizeof(MgmtBootInfo) <= 4096);

} // namespace halcyon::mgmt::partition
