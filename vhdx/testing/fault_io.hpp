// Host-only test helper (NOT part of the freestanding library): an in-memory BlockIo that models
// a disk with a volatile write cache, for power-cut tests.
//
// Every write and size change since the last completed flush() is "pending": the medium may or
// may not hold it. Power is cut at a chosen operation index (counting writes, flushes and size
// changes); that operation and everything after it fail. crash_image() then builds what a
// reboot could find under a CrashPolicy: pending operations lost, kept, kept out of order, or
// torn at 512-byte sector granularity. Everything that a completed flush() covered survives in
// every policy; that is the only promise a real write cache makes, and the only one the VHDX
// library may rely on.
#pragma once

#include "vhdx/block_io.hpp"

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

namespace halcyon::vhdx::testing {

enum class CrashPolicy {
    lose_pending,  // nothing since the last flush reached the medium
    keep_pending,  // everything (including the interrupted write) reached it, in order
    tear_last,     // everything in order, but the last pending write is torn
    random_subset, // a random subset, writes in random order, one of them torn
};
inline constexpr CrashPolicy kAllCrashPolicies[] = {
    CrashPolicy::lose_pending, CrashPolicy::keep_pending, CrashPolicy::tear_last,
    CrashPolicy::random_subset};
inline const char* crash_policy_name(CrashPolicy policy) {
    switch (policy) {
    case CrashPolicy::lose_pending:
        return "lose_pending";
    case CrashPolicy::keep_pending:
        return "keep_pending";
    case CrashPolicy::tear_last:
        return "tear_last";
    case CrashPolicy::random_subset:
        return "random_subset";
    }
    return "?";
}

class PowerCutBlockIo : public BlockIo {
public:
    static constexpr size_t kTearSector = 512;

    PowerCutBlockIo() = default;
    PowerCutBlockIo(const PowerCutBlockIo&) = delete; // may share its power supply
    PowerCutBlockIo& operator=(const PowerCutBlockIo&) = delete;
    explicit PowerCutBlockIo(std::vector<uint8_t> image)
        : durable_(image), current_(std::move(image)) {}

    ErrorOr<void> read(uint64_t offset, std::span<uint8_t> buffer) override {
        if (power_->dead)
            return Error(ErrorCode::io, "power cut io: power is off");
        if (offset > current_.size() || buffer.size() > current_.size() - offset)
            return Error(ErrorCode::io, "power cut io: read past the end of the file");
        std::memcpy(buffer.data(), current_.data() + offset, buffer.size());
        return {};
    }
    ErrorOr<void> write(uint64_t offset, std::span<const uint8_t> data) override {
        if (power_->dead)
            return Error(ErrorCode::io, "power cut io: power is off");
        Pending op{false, offset, std::vector<uint8_t>(data.begin(), data.end()), 0};
        if (cut_now()) {
            pending_.push_back(std::move(op)); // in flight: may land, partly or not at all
            return Error(ErrorCode::io, "power cut io: power cut during a write");
        }
        apply(current_, op, op.data.size());
        pending_.push_back(std::move(op));
        return {};
    }
    ErrorOr<void> flush() override {
        if (power_->dead)
            return Error(ErrorCode::io, "power cut io: power is off");
        if (cut_now())
            return Error(ErrorCode::io, "power cut io: power cut during a flush");
        durable_ = current_;
        pending_.clear();
        flushes_++;
        return {};
    }
    ErrorOr<uint64_t> size() override {
        if (power_->dead)
            return Error(ErrorCode::io, "power cut io: power is off");
        return current_.size();
    }
    ErrorOr<void> set_size(uint64_t size) override {
        if (power_->dead)
            return Error(ErrorCode::io, "power cut io: power is off");
        Pending op{true, 0, {}, size};
        if (cut_now()) {
            pending_.push_back(std::move(op));
            return Error(ErrorCode::io, "power cut io: power cut during a size change");
        }
        current_.resize(size, 0);
        pending_.push_back(std::move(op));
        return {};
    }
    bool read_only() const override { return false; }

    // Cut power at operation `index` (0-based, counting from now's total). -1: never.
    void cut_at(int64_t index) { power_->cut_at = index; }
    [[nodiscard]] bool dead() const { return power_->dead; }
    [[nodiscard]] uint64_t operations() const { return power_->operations; }
    // Both files sit behind one power supply (a merge writes parent and child): operations
    // of either count towards the cut, and the cut stops both.
    void share_power_with(PowerCutBlockIo& other) { power_ = other.power_; }
    [[nodiscard]] uint64_t flushes() const { return flushes_; }
    // Writes and size changes a crash could still lose (0: every policy gives the same image).
    [[nodiscard]] size_t pending() const { return pending_.size(); }
    [[nodiscard]] const std::vector<uint8_t>& current() const { return current_; }
    [[nodiscard]] const std::vector<uint8_t>& durable() const { return durable_; }

    // What the medium could hold after the cut, under `policy` (seed picks the random choices).
    [[nodiscard]] std::vector<uint8_t> crash_image(CrashPolicy policy, uint64_t seed) const {
        std::vector<uint8_t> image;
        crash_image_into(image, policy, seed);
        return image;
    }
    // The same into `image`, reusing its memory (crash tests build thousands of images).
    void crash_image_into(std::vector<uint8_t>& image, CrashPolicy policy, uint64_t seed) const {
        image.assign(durable_.begin(), durable_.end());
        std::mt19937_64 engine(seed);
        std::vector<size_t> order;
        for (size_t i = 0; i < pending_.size(); ++i) {
            if (policy == CrashPolicy::lose_pending)
                break;
            if (policy == CrashPolicy::random_subset && engine() % 2 == 0)
                continue;
            order.push_back(i);
        }
        if (policy == CrashPolicy::random_subset) {
            // Writes land in any order; size changes keep their places (the host file system
            // journals them in order).
            std::vector<size_t> writes;
            for (size_t i : order)
                if (!pending_[i].is_resize)
                    writes.push_back(i);
            std::shuffle(writes.begin(), writes.end(), engine);
            size_t next = 0;
            for (size_t& i : order)
                if (!pending_[i].is_resize)
                    i = writes[next++];
        }
        // Which write is torn: the last one (tear_last) or a random one (random_subset).
        size_t torn = SIZE_MAX;
        for (size_t k = order.size(); k-- > 0;) {
            if (pending_[order[k]].is_resize)
                continue;
            if (policy == CrashPolicy::tear_last) {
                torn = k;
                break;
            }
            if (policy == CrashPolicy::random_subset && engine() % 3 == 0) {
                torn = k;
                break;
            }
        }
        for (size_t k = 0; k < order.size(); ++k) {
            const Pending& op = pending_[order[k]];
            if (op.is_resize) {
                image.resize(op.size, 0);
                continue;
            }
            if (k != torn) {
                apply(image, op, op.data.size());
                continue;
            }
            // Torn: an arbitrary subset of its sectors persisted.
            size_t sectors = (op.data.size() + kTearSector - 1) / kTearSector;
            for (size_t s = 0; s < sectors; ++s) {
                if (engine() % 2 == 0)
                    continue;
                size_t start = s * kTearSector;
                size_t length = std::min(kTearSector, op.data.size() - start);
                Pending piece{
                    false, op.offset + start,
                    std::vector<uint8_t>(op.data.begin() + static_cast<long>(start),
                                         op.data.begin() + static_cast<long>(start + length)),
                    0};
                apply(image, piece, length);
            }
        }
    }

private:
    struct Pending {
        bool is_resize;
        uint64_t offset;
        std::vector<uint8_t> data;
        uint64_t size;
    };
    struct Power {
        int64_t cut_at = -1;
        uint64_t operations = 0;
        bool dead = false;
    };
    bool cut_now() {
        if (power_->cut_at >= 0 && power_->operations == static_cast<uint64_t>(power_->cut_at)) {
            power_->dead = true;
            return true;
        }
        power_->operations++;
        return false;
    }
    static void apply(std::vector<uint8_t>& image, const Pending& op, size_t length) {
        if (op.offset + length > image.size())
            image.resize(op.offset + length, 0);
        std::memcpy(image.data() + op.offset, op.data.data(), length);
    }

    std::vector<uint8_t> durable_;
    std::vector<uint8_t> current_;
    std::vector<Pending> pending_;
    Power own_power_;
    Power* power_ = &own_power_;
    uint64_t flushes_ = 0;
};

// A BlockIo over a caller-owned image (no copy, no durability model): for checking crashed
// images without copying them again, and for fuzzers. It refuses to grow the file past `cap`
// bytes, as a full disk would: a hostile log may legitimately ask to extend the file to
// petabytes (a real file would become sparse; memory cannot), and the library must cope.
class ImageBlockIo : public BlockIo {
public:
    explicit ImageBlockIo(std::vector<uint8_t>& image, uint64_t cap = ~0ull)
        : image_(image), cap_(cap) {}
    ErrorOr<void> read(uint64_t offset, std::span<uint8_t> buffer) override {
        if (offset > image_.size() || buffer.size() > image_.size() - offset)
            return Error(ErrorCode::io, "image io: read past the end of the file");
        std::memcpy(buffer.data(), image_.data() + offset, buffer.size());
        return {};
    }
    ErrorOr<void> write(uint64_t offset, std::span<const uint8_t> data) override {
        if (read_only_)
            return Error(ErrorCode::io, "image io: read-only");
        if (offset > cap_ || data.size() > cap_ - offset)
            return Error(ErrorCode::io, "image io: no space left");
        if (offset + data.size() > image_.size())
            image_.resize(offset + data.size(), 0);
        std::memcpy(image_.data() + offset, data.data(), data.size());
        return {};
    }
    ErrorOr<void> flush() override { return {}; }
    ErrorOr<uint64_t> size() override { return image_.size(); }
    ErrorOr<void> set_size(uint64_t size) override {
        if (read_only_)
            return Error(ErrorCode::io, "image io: read-only");
        if (size > cap_)
            return Error(ErrorCode::io, "image io: no space left");
        image_.resize(size, 0);
        return {};
    }
    bool read_only() const override { return read_only_; }
    void set_read_only(bool value) { read_only_ = value; }

private:
    std::vector<uint8_t>& image_;
    uint64_t cap_;
    bool read_only_ = false;
};

} // namespace halcyon::vhdx::testing
