// Shared state of one check run (internal to vhdx/ops/check_*.cpp).
#pragma once

#include "vhdx/buffer.hpp"
#include "vhdx/format.hpp"
#include "vhdx/ops/check.hpp"

namespace halcyon::vhdx::ops::detail {

struct CheckContext {
    BlockIo& io;
    Allocator& allocator;
    CheckSink& sink;
    CheckResult result{};

    format::Header header{}; // the current header
    uint64_t bat_offset = 0;
    uint32_t bat_length = 0;
    uint64_t metadata_offset = 0;
    uint32_t metadata_length = 0;

    // From the metadata region (valid once check_metadata returned true).
    uint32_t block_size = 0;
    bool has_parent = false;
    bool leave_blocks_allocated = false;
    uint64_t virtual_size = 0;
    uint32_t logical_sector_size = 0;

    void report(Severity severity, const char* message, uint64_t file_offset = kNoOffset,
                uint64_t index = kNoIndex) {
        Problem problem{severity, message, file_offset, index};
        emit(problem);
    }
    void report_values(Severity severity, const char* message, uint64_t file_offset, uint64_t index,
                       uint64_t found, uint64_t expected) {
        Problem problem{severity, message, file_offset, index, true, found, expected};
        emit(problem);
    }
    void emit(const Problem& problem) {
        switch (problem.severity) {
        case Severity::note:
            result.notes++;
            break;
        case Severity::repairable:
            result.repairable++;
            if (result.verdict == Verdict::clean)
                result.verdict = Verdict::repairable;
            break;
        case Severity::damaged:
            result.damaged++;
            result.verdict = Verdict::damaged;
            break;
        }
        sink.problem(problem);
    }
};

// Each returns false when the structure is too broken for the later checks to make sense.
[[nodiscard]] ErrorOr<bool> check_header_section(CheckContext& context);
[[nodiscard]] ErrorOr<void> check_log(CheckContext& context);
[[nodiscard]] ErrorOr<bool> check_region_tables(CheckContext& context);
[[nodiscard]] ErrorOr<bool> check_metadata(CheckContext& context);
[[nodiscard]] ErrorOr<void> check_bat(CheckContext& context);

} // namespace halcyon::vhdx::ops::detail
