// Host-only: the power-cut scenarios (used by tests/unit/vhdx_crash_*_test.cpp). A scenario is a
// base image (made crash-free) plus a sequence of steps run over a PowerCutBlockIo; the runner
// repeats it with power cut at every operation index and checks each crashed image.
#pragma once

#include "vhdx/testing/fault_io_harness.hpp"
#include "vhdx/testing/memory_resolver.hpp"

#include <functional>
#include <memory>

namespace halcyon::vhdx::testing {

// Runs the steps of one scenario against an open disk, keeping the model in step. Every call
// returns false once an operation failed; a failure while the power is on (io not dead) is a
// bug and is recorded in `unexpected`.
class ScenarioDriver {
public:
    ScenarioDriver(Disk* disk, CrashModel& model, PowerCutBlockIo& io)
        : disk_(disk), model_(model), io_(io) {}

    [[nodiscard]] bool failed() const { return failed_; }
    [[nodiscard]] const std::string& unexpected() const { return unexpected_; }
    [[nodiscard]] Disk* disk() const { return disk_; }
    [[nodiscard]] uint32_t sector() const { return model_.sector_size(); }
    [[nodiscard]] uint64_t block_size() const { return disk_->info().block_size; }

    bool write(uint64_t offset, uint64_t length, uint64_t tag) {
        if (failed_)
            return false;
        uint32_t s = sector();
        std::vector<uint8_t> data(length);
        for (uint64_t i = 0; i < length; i += s)
            fill_sector(data.data() + i, s, tag, (offset + i) / s);
        model_.write(offset / s, length / s, tag);
        return ok(disk_->write(offset, data));
    }
    bool flush() {
        if (failed_ || !ok(disk_->flush()))
            return false;
        model_.settle_all();
        return true;
    }
    // Mirrors Disk::trim's documented effect: whole blocks of dynamic and differencing disks
    // read zeros (durably, once trim returns); everything else is unchanged.
    bool trim(uint64_t offset, uint64_t length) {
        if (failed_)
            return false;
        DiskInfo info = disk_->info();
        uint64_t bs = info.block_size;
        uint64_t first = (offset + bs - 1) / bs * bs;
        uint64_t end =
            offset + length == info.virtual_size ? offset + length : (offset + length) / bs * bs;
        bool zeroes = info.type != DiskType::fixed && first < end;
        if (zeroes)
            model_.may_zero(first / sector(), (end - first) / sector());
        if (!ok(disk_->trim(offset, length)))
            return false;
        if (zeroes)
            model_.settle(first / sector(), (end - first) / sector());
        return true;
    }
    bool resize(uint64_t new_size, bool force = false) {
        if (failed_)
            return false;
        uint64_t old_size = disk_->info().virtual_size;
        model_.begin_resize(new_size);
        if (new_size < old_size && force) {
            uint64_t bs = disk_->info().block_size;
            uint64_t released = (new_size + bs - 1) / bs * bs;
            if (released < old_size)
                model_.may_zero(released / sector(), (old_size - released) / sector());
        }
        if (!ok(vhdx::resize(*disk_, new_size, {force})))
            return false;
        model_.end_resize(new_size);
        return true;
    }
    // An operation that must be refused (with a message) and change nothing.
    bool expect_refused_shrink(uint64_t new_size) {
        if (failed_)
            return false;
        auto result = vhdx::resize(*disk_, new_size, {false});
        if (!result.is_error()) {
            failed_ = true;
            unexpected_ = "a shrink over allocated data was not refused";
            return false;
        }
        if (io_.dead()) {
            failed_ = true;
            return false;
        }
        if (result.error().code() != ErrorCode::busy || result.error().message() == nullptr) {
            failed_ = true;
            unexpected_ = "shrink refused for the wrong reason: " + error_text(result.error());
            return false;
        }
        return true;
    }
    bool compact() {
        if (failed_)
            return false;
        auto result = vhdx::compact(*disk_);
        if (result.is_error())
            return ok(ErrorOr<void>(result.release_error()));
        compacted_ = result.value();
        return true;
    }
    bool write_metadata(const Guid& id, std::vector<uint8_t> value) {
        if (failed_)
            return false;
        // Durable on return (logged and flushed): a crash shows the last completed value (or
        // no item before the first) or the one in flight, never an older one.
        if (metadata_candidates_.empty())
            metadata_candidates_ = {{}}; // empty = the item is absent
        else
            metadata_candidates_ = {metadata_candidates_.back()};
        metadata_candidates_.push_back(value);
        if (!ok(disk_->write_metadata(id, value, false)))
            return false;
        metadata_candidates_ = {value};
        return true;
    }
    bool close() {
        if (failed_)
            return false;
        Disk* disk = disk_;
        disk_ = nullptr;
        auto closed = disk->close();
        if (closed.is_error()) {
            // close() releases the disk even on error.
            return ok(std::move(closed));
        }
        closed_ = true;
        model_.settle_all();
        return true;
    }
    // What remains to release after the run (nullptr once closed).
    [[nodiscard]] Disk* open_disk() const { return disk_; }
    [[nodiscard]] const CompactResult& compacted() const { return compacted_; }
    [[nodiscard]] const std::vector<std::vector<uint8_t>>& metadata_candidates() const {
        return metadata_candidates_;
    }

private:
    bool ok(ErrorOr<void>&& result) {
        if (!result.is_error())
            return true;
        failed_ = true;
        if (result.error().message() == nullptr)
            unexpected_ = "an error without a message";
        else if (!io_.dead())
            unexpected_ =
                std::string("operation failed with power on: ") + result.error().message();
        return false;
    }

    Disk* disk_;
    CrashModel& model_;
    PowerCutBlockIo& io_;
    bool failed_ = false;
    bool closed_ = false;
    std::string unexpected_;
    CompactResult compacted_{};
    std::vector<std::vector<uint8_t>> metadata_candidates_;
};

inline constexpr Guid kScenarioItem{
    0x1d2c3b4a, 0x5e6f, 0x4a8b, {0x9c, 0x0d, 0x1e, 0x2f, 0x3a, 0x4b, 0x5c, 0x6d}};

struct Scenario {
    std::string name;
    CreateOptions create;                         // the disk (for differencing: the child)
    bool differencing = false;                    // create.type of the parent: dynamic
    std::function<bool(ScenarioDriver&)> prepare; // crash-free, before the base image is taken
    std::function<bool(ScenarioDriver&)> steps;   // run under power cuts
    uint64_t model_cap = ~0ull;                   // see CrashModel
    int cut_stride = 1;                           // CI cuts every n-th operation (long mode: all)
    bool qemu_checkable = true;                   // qemu-img handles this disk kind
};

// Everything one run needs: the parent (differencing scenarios), allocator, randomness.
struct ScenarioWorld {
    HeapAllocator allocator;
    SeededRandom random{42};
    MemoryBlockIo parent_io;
    MemoryResolver resolver;
    std::vector<uint8_t> base; // the scenario's starting image (clean)
    std::unique_ptr<CrashModel> base_model;
    std::string error;

    OpenOptions open_options(bool read_only = false) {
        OpenOptions o;
        o.read_only = read_only;
        o.allow_replay = true;
        o.random = &random;
        o.parent_resolver = &resolver;
        return o;
    }
};

} // namespace halcyon::vhdx::testing
