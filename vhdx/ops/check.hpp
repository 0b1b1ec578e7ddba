// `vhdx check`: verifies every structure of a VHDX file on its own (it does not trust
// Disk::open's validation) and classifies what it finds.
//
// Verdicts: clean (nothing wrong), repairable (a dirty log to replay, a damaged copy of a header
// or region table that the other copy can replace), damaged (no valid header or region table,
// metadata or BAT that cannot be trusted: data may be lost; repair refuses). Notes are
// oddities worth showing that do not make a file unclean.
//
// With a dirty log the structures are checked as they are on disk, before replay; repair
// replays the log and checks again.
#pragma once

#include "lib/base/error_or.hpp"
#include "vhdx/allocator.hpp"
#include "vhdx/block_io.hpp"
#include "vhdx/random_source.hpp"

#include <stdint.h>

namespace halcyon::vhdx::ops {

enum class Severity : uint8_t { note, repairable, damaged };
enum class Verdict : uint8_t { clean, repairable, damaged };

[[nodiscard]] constexpr const char* verdict_name(Verdict verdict) {
    switch (verdict) {
    case Verdict::clean:
        return "clean";
    case Verdict::repairable:
        return "repairable";
    case Verdict::damaged:
        return "damaged";
    }
    return "?";
}

inline constexpr uint64_t kNoOffset = ~0ull;
inline constexpr uint64_t kNoIndex = ~0ull;

// One finding. `message` is static text naming the structure and the fault; the numbers say
// where (file offset, entry index) and, when relevant, what was found versus what was expected.
struct Problem {
    Severity severity;
    const char* message;
    uint64_t file_offset = kNoOffset;
    uint64_t index = kNoIndex;
    bool has_values = false;
    uint64_t found = 0;
    uint64_t expected = 0;
};

class CheckSink {
public:
    virtual ~CheckSink() = default;
    virtual void problem(const Problem& problem) = 0;
};

struct CheckResult {
    Verdict verdict = Verdict::clean;
    uint32_t notes = 0;
    uint32_t repairable = 0;
    uint32_t damaged = 0;
    // What a repair would do.
    bool log_dirty = false;
    bool header_invalid[2] = {false, false};
    bool region_table_invalid[2] = {false, false};
    int current_header = -1; // 0/1, -1 if none valid
    int good_region_table = -1;
    // Counts, for the report.
    uint64_t file_size = 0;
    uint64_t payload_blocks = 0;
    uint64_t present_blocks = 0;
    uint32_t log_entries = 0;
};

// Checks the file read-only.
[[nodiscard]] ErrorOr<CheckResult> check_file(BlockIo& io, Allocator& allocator, CheckSink& sink);

// What repair did.
struct RepairActions {
    bool rewrote_header = false;
    bool rewrote_region_table = false;
    bool replayed_log = false;
};

// Repairs a repairable file in place: rewrites a damaged header or region table copy from the
// good one, then replays the log by opening the disk writable and closing it (parents, when
// it is a differencing disk, are found through `resolver`). Refuses damaged files. Returns the
// result of checking again afterwards (reported to `after`).
[[nodiscard]] ErrorOr<CheckResult> repair_file(BlockIo& io, Allocator& allocator,
                                               RandomSource& random, ParentResolver* resolver,
                                               CheckSink& before, CheckSink& after,
                                               RepairActions& actions);

} // namespace halcyon::vhdx::ops
