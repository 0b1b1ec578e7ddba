// The VM manager's pure parts: the lifecycle state machine (which operation each state allows
// and what follows), the graceful-stop escalation, the uploaded-file store (pieces in any
// order, restarts, pinning, memory given back) and the offset-addressed event log.
#include "vmm/worker/vm_manager_event_log.hpp"
#include "vmm/worker/vm_manager_files.hpp"
#include "vmm/worker/vm_manager_lifecycle.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace halcyon;
using namespace halcyon::worker;
using vmm::vmbus::ic::ShutdownResult;

constexpr LifeState kStates[] = {LifeState::off,      LifeState::starting, LifeState::running,
                                 LifeState::stopping, LifeState::paused,   LifeState::crashed};

// The expected table: the state after the operation, or nullopt for 409 (busy).
std::optional<LifeState> expected(LifeState state, LifeOp op) {
    const bool live = state != LifeState::off && state != LifeState::crashed;
    switch (op) {
    case LifeOp::start:
        return live ? std::nullopt : std::optional(LifeState::starting);
    case LifeOp::stop_graceful:
        return live && state != LifeState::paused ? std::optional(LifeState::stopping)
                                                  : std::nullopt;
    case LifeOp::stop_now:
        return live ? std::optional(LifeState::stopping) : std::nullopt;
    case LifeOp::restart:
        return live && state != LifeState::stopping ? std::optional(LifeState::running)
                                                    : std::nullopt;
    case LifeOp::suspend:
        return live && state != LifeState::stopping ? std::optional(LifeState::paused)
                                                    : std::nullopt;
    case LifeOp::resume:
        return state == LifeState::paused ? std::optional(LifeState::running) : std::nullopt;
    case LifeOp::remove:
    case LifeOp::change:
        return live ? std::nullopt : std::optional(state);
    }
    return std::nullopt;
}

TEST(VmLifecycle, EveryStateAndOperation) {
    const LifeOp ops[] = {LifeOp::start,   LifeOp::stop_graceful, LifeOp::stop_now, LifeOp::restart,
                          LifeOp::suspend, LifeOp::resume,        LifeOp::remove,   LifeOp::change};
    for (LifeState state : kStates) {
        for (LifeOp op : ops) {
            auto result = lifecycle_transition(state, op);
            auto want = expected(state, op);
            SCOPED_TRACE(testing::Message() << "state " << int(state) << " op " << int(op));
            ASSERT_EQ(result.is_error(), !want.has_value());
            if (result.is_error()) {
                EXPECT_EQ(result.error().code(), ErrorCode::busy);
                EXPECT_NE(std::string(result.error().message()), "");
            } else {
                EXPECT_EQ(result.value(), *want);
            }
        }
    }
}

TEST(VmLifecycle, MessagesSayWhatToDo) {
    EXPECT_STREQ(lifecycle_transition(LifeState::paused, LifeOp::start).error().message(),
                 "the VM is paused: use Resume-VM");
    EXPECT_STREQ(lifecycle_transition(LifeState::running, LifeOp::remove).error().message(),
                 "the VM is not off: stop it first");
    EXPECT_STREQ(lifecycle_transition(LifeState::off, LifeOp::stop_now).error().message(),
                 "the VM is not running");
}

TEST(VmLifecycle, StoppedVmsEndOffOrCrashed) {
    EXPECT_EQ(state_after_stop(StopCause::guest_poweroff), LifeState::off);
    EXPECT_EQ(state_after_stop(StopCause::guest_halted), LifeState::off);
    EXPECT_EQ(state_after_stop(StopCause::turned_off), LifeState::off);
    EXPECT_EQ(state_after_stop(StopCause::failure), LifeState::crashed);
    for (LifeState state : kStates)
        EXPECT_EQ(is_live(state), state != LifeState::off && state != LifeState::crashed);
}

TEST(GracefulStop, WithoutTheServiceThePowerButtonAtOnce) {
    GracefulStop stop(false);
    EXPECT_EQ(stop.first_action(), GracefulAction::press_power_button);
    // Then it only waits, whatever the (absent) service says.
    EXPECT_EQ(stop.step(ShutdownResult::refused), GracefulAction::wait);
    EXPECT_FALSE(stop.fell_back());
}

TEST(GracefulStop, AcceptedRequestWaitsForThePowerOff) {
    GracefulStop stop(true);
    EXPECT_EQ(stop.first_action(), GracefulAction::wait);
    for (ShutdownResult result :
         {ShutdownResult::queued, ShutdownResult::sent, ShutdownResult::accepted})
        EXPECT_EQ(stop.step(result), GracefulAction::wait);
    EXPECT_FALSE(stop.fell_back());
}

TEST(GracefulStop, RefusalTimeoutOrClosedChannelFallBackOnce) {
    for (ShutdownResult result :
         {ShutdownResult::refused, ShutdownResult::timed_out, ShutdownResult::unavailable}) {
        GracefulStop stop(true);
        EXPECT_EQ(stop.step(ShutdownResult::sent), GracefulAction::wait);
        EXPECT_EQ(stop.step(result), GracefulAction::press_power_button);
        EXPECT_TRUE(stop.fell_back());
        // Pressed once: later ticks wait for the guest (or Stop-VM -TurnOff).
        EXPECT_EQ(stop.step(result), GracefulAction::wait);
        EXPECT_EQ(stop.step(ShutdownResult::accepted), GracefulAction::wait);
    }
}

// Host memory standing in for frames: counts what is held and refuses past a budget.
class TestMemory final : public UploadMemory {
public:
    explicit TestMemory(uint64_t budget) : budget_(budget) {}
    ~TestMemory() { EXPECT_TRUE(blocks_.empty()) << "memory not given back"; }

    ErrorOr<std::span<uint8_t>> allocate(uint64_t bytes) override {
        if (held_ + bytes > budget_)
            return Error(ErrorCode::out_of_memory, "no memory for the file");
        auto* block = static_cast<uint8_t*>(std::malloc(bytes));
        std::memset(block, 0xEE, bytes); // never zero: a test must not pass on zeroed memory
        blocks_[block] = bytes;
        held_ += bytes;
        return std::span<uint8_t>(block, bytes);
    }
    void release(std::span<uint8_t> memory) override {
        auto found = blocks_.find(memory.data());
        ASSERT_NE(found, blocks_.end());
        EXPECT_EQ(found->second, memory.size());
        held_ -= found->second;
        std::free(found->first);
        blocks_.erase(found);
    }
    uint64_t held() const { return held_; }

private:
    uint64_t budget_;
    uint64_t held_ = 0;
    std::map<uint8_t*, uint64_t> blocks_;
};

std::vector<uint8_t> pattern(size_t size, uint8_t seed) {
    std::vector<uint8_t> bytes(size);
    for (size_t i = 0; i < size; ++i)
        bytes[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 8));
    return bytes;
}

std::span<const uint8_t> piece(const std::vector<uint8_t>& bytes, size_t first, size_t length) {
    return std::span<const uint8_t>(bytes.data() + first, length);
}

TEST(UploadedFiles, InOrderPiecesMakeTheFile) {
    TestMemory memory(1 << 20);
    UploadedFiles files(memory);
    const auto contents = pattern(150000, 3);
    uint64_t offset = 0;
    while (offset < contents.size()) {
        const size_t length = std::min<size_t>(65536, contents.size() - offset);
        // Incomplete until the last piece.
        EXPECT_EQ(files.find("boot/vmlinuz").is_error(), true);
        auto progress =
            files.write("boot/vmlinuz", offset, contents.size(), piece(contents, offset, length));
        ASSERT_FALSE(progress.is_error());
        offset += length;
        EXPECT_EQ(progress.value().size, contents.size());
        EXPECT_EQ(progress.value().received, offset);
    }
    auto found = files.find("boot/vmlinuz");
    ASSERT_FALSE(found.is_error());
    EXPECT_TRUE(
        std::equal(found.value().begin(), found.value().end(), contents.begin(), contents.end()));
    EXPECT_EQ(files.count(), 1u);
    EXPECT_EQ(files.find("vmlinuz").error().code(), ErrorCode::not_found);
}

TEST(UploadedFiles, IncompleteFileIsBusyNotFound) {
    TestMemory memory(1 << 20);
    UploadedFiles files(memory);
    const auto contents = pattern(1000, 9);
    ASSERT_FALSE(files.write("initrd", 0, 1000, piece(contents, 0, 400)).is_error());
    EXPECT_EQ(files.find("initrd").error().code(), ErrorCode::busy);
}

TEST(UploadedFiles, PiecesInAnyOrderAndRepeatsCountOnce) {
    TestMemory memory(1 << 20);
    UploadedFiles files(memory);
    const auto contents = pattern(10000, 5);
    // Offset 0 starts a file (over), so it comes first; the rest in a scrambled order, some
    // twice.
    ASSERT_FALSE(files.write("k", 0, 10000, piece(contents, 0, 1000)).is_error());
    const size_t order[] = {9, 3, 5, 3, 1, 7, 2, 8, 6, 9};
    uint64_t received = 0;
    for (size_t index : order) {
        auto progress = files.write("k", index * 1000, 10000, piece(contents, index * 1000, 1000));
        ASSERT_FALSE(progress.is_error());
        received = progress.value().received;
    }
    EXPECT_EQ(received, 9000u); // piece 4 is missing; the repeats count once
    EXPECT_EQ(files.find("k").error().code(), ErrorCode::busy);
    auto done = files.write("k", 4000, 10000, piece(contents, 4000, 1000));
    ASSERT_FALSE(done.is_error());
    EXPECT_EQ(done.value().received, 10000u);
    auto found = files.find("k");
    ASSERT_FALSE(found.is_error());
    EXPECT_TRUE(
        std::equal(found.value().begin(), found.value().end(), contents.begin(), contents.end()));
    // A piece at offset 0 again starts the file over.
    auto restarted = files.write("k", 0, 10000, piece(contents, 0, 1000));
    ASSERT_FALSE(restarted.is_error());
    EXPECT_EQ(restarted.value().received, 1000u);
    EXPECT_EQ(files.find("k").error().code(), ErrorCode::busy);
    EXPECT_EQ(memory.held(), 10000u);
}

TEST(UploadedFiles, RangesMergeAndCapSeparatePieces) {
    ReceivedRanges ranges;
    ASSERT_FALSE(ranges.add(100, 50).is_error());
    ASSERT_FALSE(ranges.add(0, 100).is_error()); // touches: one range
    EXPECT_EQ(ranges.count(), 1u);
    EXPECT_EQ(ranges.total(), 150u);
    ASSERT_FALSE(ranges.add(120, 100).is_error()); // overlaps
    EXPECT_EQ(ranges.total(), 220u);
    ReceivedRanges sparse;
    for (uint32_t i = 0; i < ReceivedRanges::kMaxRanges; ++i)
        ASSERT_FALSE(sparse.add(i * 10, 5).is_error());
    EXPECT_EQ(sparse.add(1000, 5).error().code(), ErrorCode::out_of_range);
    EXPECT_EQ(sparse.count(), ReceivedRanges::kMaxRanges); // unchanged by the refusal
    ASSERT_FALSE(sparse.add(5, 5).is_error());             // fills a gap: one fewer
    EXPECT_EQ(sparse.count(), ReceivedRanges::kMaxRanges - 1);
}

TEST(UploadedFiles, WrongSizesAndRangesAreRefused) {
    TestMemory memory(1 << 20);
    UploadedFiles files(memory);
    const auto contents = pattern(100, 1);
    EXPECT_EQ(files.write("f", 90, 100, piece(contents, 0, 20)).error().code(),
              ErrorCode::out_of_range);
    ASSERT_FALSE(files.write("f", 0, 100, piece(contents, 0, 50)).is_error());
    EXPECT_EQ(files.write("f", 50, 200, piece(contents, 50, 50)).error().code(),
              ErrorCode::invalid_argument);
    EXPECT_EQ(files.write("", 0, 1, piece(contents, 0, 1)).error().code(),
              ErrorCode::invalid_argument);
    EXPECT_EQ(files.write(std::string(112, 'a'), 0, 1, piece(contents, 0, 1)).error().code(),
              ErrorCode::invalid_argument);
}

TEST(UploadedFiles, PinnedFilesCannotBeReplaced) {
    TestMemory memory(1 << 20);
    UploadedFiles files(memory);
    const auto old_contents = pattern(4096, 1);
    const auto new_contents = pattern(2048, 2);
    ASSERT_FALSE(files.write("vmlinuz", 0, 4096, piece(old_contents, 0, 4096)).is_error());
    files.pin("vmlinuz");
    files.pin("vmlinuz"); // two VMs use it
    EXPECT_EQ(files.write("vmlinuz", 0, 2048, piece(new_contents, 0, 2048)).error().code(),
              ErrorCode::busy);
    files.unpin("vmlinuz");
    EXPECT_EQ(files.write("vmlinuz", 0, 2048, piece(new_contents, 0, 2048)).error().code(),
              ErrorCode::busy);
    files.unpin("vmlinuz");
    ASSERT_FALSE(files.write("vmlinuz", 0, 2048, piece(new_contents, 0, 2048)).is_error());
    auto found = files.find("vmlinuz");
    ASSERT_FALSE(found.is_error());
    EXPECT_EQ(found.value().size(), 2048u);
    EXPECT_EQ(memory.held(), 2048u); // the old file's memory went back
}

TEST(UploadedFiles, NoMemoryLeavesNoHalfFile) {
    TestMemory memory(10000);
    UploadedFiles files(memory);
    const auto small = pattern(6000, 4);
    ASSERT_FALSE(files.write("a", 0, 6000, piece(small, 0, 6000)).is_error());
    const auto big = pattern(5000, 6);
    EXPECT_EQ(files.write("b", 0, 5000, piece(big, 0, 100)).error().code(),
              ErrorCode::out_of_memory);
    EXPECT_FALSE(files.holds("b"));
    // Restarting "a" with a size that does not fit drops the old "a" too: never a mix.
    const auto huge = pattern(20000, 8);
    EXPECT_EQ(files.write("a", 0, 20000, piece(huge, 0, 100)).error().code(),
              ErrorCode::out_of_memory);
    EXPECT_FALSE(files.holds("a"));
    EXPECT_EQ(memory.held(), 0u);
    EXPECT_EQ(files.bytes_held(), 0u);
}

TEST(UploadedFiles, EmptyFileAndTableLimit) {
    TestMemory memory(1 << 20);
    UploadedFiles files(memory);
    auto empty = files.write("empty", 0, 0, {});
    ASSERT_FALSE(empty.is_error());
    EXPECT_EQ(empty.value().received, 0u);
    ASSERT_FALSE(files.find("empty").is_error());
    EXPECT_EQ(files.find("empty").value().size(), 0u);
    const auto byte = pattern(1, 0);
    for (uint32_t i = 1; i < UploadedFiles::kMaxFiles; ++i)
        ASSERT_FALSE(files.write("f" + std::to_string(i), 0, 1, piece(byte, 0, 1)).is_error());
    EXPECT_EQ(files.write("one-too-many", 0, 1, piece(byte, 0, 1)).error().code(),
              ErrorCode::out_of_memory);
    EXPECT_EQ(files.count(), UploadedFiles::kMaxFiles);
}

std::string read_all(const EventLog& log, uint64_t since, size_t chunk, StreamSlice* last) {
    std::vector<char> buffer(chunk);
    std::string text;
    for (;;) {
        StreamSlice slice = log.read(since, buffer);
        if (last != nullptr && text.empty())
            *last = slice;
        text.append(buffer.data(), slice.length);
        if (slice.length == 0)
            return text;
        since = slice.next;
    }
}

TEST(EventLog, ReadsByOffsetAndReportsLostBytes) {
    EventLog log;
    log.append("created VM web");
    log.append("started VM web");
    StreamSlice first;
    EXPECT_EQ(read_all(log, 0, 5, &first), "created VM web\nstarted VM web\n");
    EXPECT_EQ(first.first, 0u);
    // Past the end: nothing, first = next = the end.
    std::vector<char> buffer(16);
    StreamSlice end = log.read(1000, buffer);
    EXPECT_EQ(end.length, 0u);
    EXPECT_EQ(end.first, log.end());
    EXPECT_EQ(end.next, log.end());
    // Wrap the ring: offset 0 now starts at the oldest byte kept.
    std::string line(99, 'x');
    for (int i = 0; i < 200; ++i)
        log.append(line);
    StreamSlice wrapped;
    const std::string text = read_all(log, 0, 4096, &wrapped);
    EXPECT_EQ(wrapped.first, log.end() - EventLog::kCapacity);
    EXPECT_EQ(text.size(), EventLog::kCapacity);
    EXPECT_EQ(text.substr(text.size() - 100), line + "\n");
}

TEST(EventLog, StreamReadClampsToTheHeldWindow) {
    // The helper the console uses too: 10 bytes held ending at offset 50.
    std::vector<char> out(8);
    std::vector<uint64_t> asked;
    auto copy = [&](uint64_t offset, std::span<char> to) {
        asked.push_back(offset);
        for (size_t i = 0; i < to.size(); ++i)
            to[i] = static_cast<char>('a' + (offset + i - 40));
    };
    StreamSlice slice = read_stream(50, 10, 0, out, copy);
    EXPECT_EQ(slice.first, 40u);
    EXPECT_EQ(slice.length, 8u);
    EXPECT_EQ(slice.next, 48u);
    EXPECT_EQ(std::string(out.data(), 8), "abcdefgh");
    slice = read_stream(50, 10, 48, out, copy);
    EXPECT_EQ(slice.length, 2u);
    EXPECT_EQ(std::string(out.data(), 2), "ij");
    slice = read_stream(50, 10, 50, out, copy);
    EXPECT_EQ(slice.length, 0u);
    EXPECT_EQ(asked.size(), 2u); // nothing copied for an empty read
}

} // namespace
