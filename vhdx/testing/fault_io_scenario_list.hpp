// Host-only: the power-cut scenarios of the crash tests. Small disks (4 MiB, 1 MiB blocks) so
// every cut point of every scenario runs in CI; `long_mode` adds 4096-byte-sector variants and
// longer step sequences.
#pragma once

#include "vhdx/testing/fault_io_runner.hpp"

namespace halcyon::vhdx::testing {

inline CreateOptions small_disk(DiskType type, uint32_t sector = 512, uint64_t size = 4 * kMiB) {
    CreateOptions o;
    o.type = type;
    o.virtual_size = size;
    o.block_size = 1 * kMiB;
    o.logical_sector_size = sector;
    o.physical_sector_size = sector;
    o.log_size = 1 * kMiB;
    return o;
}

inline std::vector<Scenario> crash_scenarios(bool long_mode) {
    constexpr uint64_t M = kMiB;
    std::vector<Scenario> list;
    std::vector<uint32_t> sectors = {512};
    if (long_mode)
        sectors.push_back(4096);
    for (uint32_t s : sectors) {
        std::string suffix = "_" + std::to_string(s);
        // Allocation of new blocks, partial writes into them, overwrites in place.
        list.push_back({"dynamic_allocation" + suffix,
                        small_disk(DiskType::dynamic, s),
                        false,
                        {},
                        [s, long_mode](ScenarioDriver& d) {
                            bool ok = d.write(0, 4096, 1) && d.write(M + s, 2 * s, 2) &&
                                      d.flush() && d.write(3 * M - 4096, 8192, 3) &&
                                      d.write(s, 2 * s, 4) && d.flush();
                            if (long_mode)
                                ok =
                                    ok && d.write(2 * M, M, 5) && d.write(0, 4 * M, 6) && d.flush();
                            return ok;
                        }});
        // Fixed disks allocate nothing; still, headers change on the first write.
        list.push_back({"fixed_writes" + suffix,
                        small_disk(DiskType::fixed, s),
                        false,
                        {},
                        [s](ScenarioDriver& d) {
                            return d.write(0, 4096, 1) && d.flush() &&
                                   d.write(2 * M - s, 2 * s, 2) && d.write(0, 8192, 3) &&
                                   d.trim(0, 4 * M) && d.flush() && d.write(3 * M, M, 4) &&
                                   d.flush() && d.write_metadata(kScenarioItem, {1, 2, 3}) &&
                                   d.write(s, s, 5);
                        }});
        // Copy-on-write into a differencing disk: new partially present blocks with a new
        // sector bitmap block, bitmap-only updates, a whole-block write.
        list.push_back({"differencing_bitmaps" + suffix,
                        small_disk(DiskType::dynamic, s),
                        true,
                        {},
                        [s](ScenarioDriver& d) {
                            return d.write(s, s, 1) && d.write(4096, 2 * s, 2) && d.flush() &&
                                   d.write(3 * M, M, 3) && d.write(2 * M + 8 * s, 4 * s, 4) &&
                                   d.write(s, s, 5) && d.flush();
                        }});
        // Trim of whole blocks (unmapped), of a partial range (no effect), and reuse.
        list.push_back({"dynamic_trim" + suffix, small_disk(DiskType::dynamic, s), false,
                        [](ScenarioDriver& d) { return d.write(0, 4 * M, 1) && d.flush(); },
                        [s](ScenarioDriver& d) {
                            return d.trim(M, 2 * M) && d.trim(s, 2 * s) &&
                                   d.write(M + 4096, 4096, 2) && d.flush() && d.trim(0, 4 * M);
                        }});
        list.push_back(
            {"differencing_trim" + suffix, small_disk(DiskType::dynamic, s), true,
             [s](ScenarioDriver& d) {
                 return d.write(0, 4 * s, 1) && d.write(M, M, 2) && d.flush();
             },
             [s](ScenarioDriver& d) { return d.trim(0, 2 * M) && d.write(s, s, 3) && d.flush(); }});
    }
    // User metadata through the log: created, then replaced by a larger value.
    list.push_back({"metadata", small_disk(DiskType::dynamic), false, {}, [](ScenarioDriver& d) {
                        return d.write_metadata(kScenarioItem, std::vector<uint8_t>(100, 0x11)) &&
                               d.write(0, 4096, 1) &&
                               d.write_metadata(kScenarioItem, std::vector<uint8_t>(5000, 0x22));
                    }});
    // Grow from an unaligned size (the old last block's tail must read zeros), twice.
    list.push_back({"resize_grow", small_disk(DiskType::dynamic, 512, 4 * M - 1536), false,
                    [](ScenarioDriver& d) { return d.write(3 * M, M - 1536, 1) && d.flush(); },
                    [](ScenarioDriver& d) {
                        return d.resize(5 * M + 512) && d.write(4 * M - 512, 4096, 2) &&
                               d.flush() && d.resize(6 * M);
                    }});
    // Shrink: refused over data, forced (blocks released), grown back (zeros, not old data).
    list.push_back({"resize_shrink", small_disk(DiskType::dynamic), false,
                    [](ScenarioDriver& d) { return d.write(0, 4 * M, 1) && d.flush(); },
                    [](ScenarioDriver& d) {
                        return d.expect_refused_shrink(M + M / 2) &&
                               d.resize(2 * M + M / 2, true) && d.resize(4 * M) &&
                               d.write(3 * M, 4096, 2) && d.flush();
                    }});
    // Fixed: grow allocates blocks; shrink refused over non-zero data, then forced.
    list.push_back({"fixed_resize", small_disk(DiskType::fixed, 512, 4 * M - 1536), false,
                    [](ScenarioDriver& d) { return d.write(3 * M, M - 1536, 1) && d.flush(); },
                    [](ScenarioDriver& d) {
                        return d.resize(6 * M) && d.write(5 * M, 4096, 2) && d.flush() &&
                               d.expect_refused_shrink(3 * M) && d.resize(3 * M, true);
                    }});
    // Growing past what a 1 MiB BAT region holds (1 MiB blocks: ~128 GiB) moves the BAT to the
    // end of the file; compaction then fills the old BAT's space.
    {
        Scenario sc{"resize_relocate_bat", small_disk(DiskType::dynamic), false,
                    [](ScenarioDriver& d) { return d.write(0, 4096, 1) && d.flush(); },
                    [](ScenarioDriver& d) {
                        return d.resize(130ull << 30) && d.write(M, 4096, 2) && d.flush() &&
                               d.compact() && d.write(2 * M, 4096, 3) && d.flush();
                    }};
        sc.model_cap = 4 * M;
        list.push_back(sc);
    }
    // Compaction: blocks from the end move into trimmed holes, then the file is truncated.
    list.push_back(
        {"compact_dynamic", small_disk(DiskType::dynamic), false,
         [](ScenarioDriver& d) { return d.write(0, 4 * M, 1) && d.trim(M, 2 * M) && d.flush(); },
         [](ScenarioDriver& d) { return d.compact() && d.write(M + 4096, 4096, 2) && d.flush(); }});
    list.push_back(
        {"compact_differencing", small_disk(DiskType::dynamic), true,
         [](ScenarioDriver& d) {
             return d.write(0, 4096, 1) && d.write(2 * M, 4096, 2) && d.write(3 * M, M, 3) &&
                    d.trim(0, M) && d.flush();
         },
         [](ScenarioDriver& d) { return d.compact() && d.write(M, 4096, 4) && d.flush(); }});
    // Enough log entries (each ~12 KiB) to wrap the 1 MiB circular log more than once, so
    // entries straddle its end and a torn newer entry sits over older ones; every value must
    // survive exactly as the last completed write_metadata left it. CI cuts every 41st point
    // (a prime, so the cuts walk through every phase of the ~20-operation commit cycle).
    {
        Scenario sc{
            "log_wraparound", small_disk(DiskType::dynamic), false, {}, [](ScenarioDriver& d) {
                bool ok = d.write(0, 4096, 1);
                for (int i = 0; ok && i < 110; ++i)
                    ok = d.write_metadata(
                        kScenarioItem,
                        std::vector<uint8_t>(i % 2 ? 5000 : 100, static_cast<uint8_t>(i)));
                return ok && d.write(M, 4096, 2) && d.flush();
            }};
        sc.cut_stride = 41;
        list.push_back(sc);
    }
    for (Scenario& sc : list)
        sc.qemu_checkable = !sc.differencing;
    return list;
}

} // namespace halcyon::vhdx::testing
