// Host-only test helpers (NOT part of the freestanding library): an in-memory SectorDevice with
// a volatile write cache and power cuts, a fixed clock, and the power-cut harness's policies.
//
// Every write since the last completed flush() is "pending": the medium may or may not hold it.
// Power is cut at a chosen operation index (writes and flushes count); that operation and
// everything after fail. crash_image() then builds what a reboot could find: pending writes
// lost, kept, or a random subset in random order. Single sectors are atomic (the promise
// SectorDevice makes), so a multi-sector write can land partly, sector by sector.
#pragma once

#include "mgmt/datastore/exfat/clock.hpp"
#include "mgmt/datastore/exfat/sector_device.hpp"

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

namespace halcyon::exfat::testing {

enum class CrashPolicy { lose_pending, keep_pending, random_subset };
inline constexpr CrashPolicy kAllCrashPolicies[] = {
    CrashPolicy::lose_pending, CrashPolicy::keep_pending, CrashPolicy::random_subset};
inline const char* crash_policy_name(CrashPolicy policy) {
    switch (policy) {
    case CrashPolicy::lose_pending:
        return "lose_pending";
    case CrashPolicy::keep_pending:
        return "keep_pending";
    case CrashPolicy::random_subset:
        return "random_subset";
    }
    return "?";
}

class MemorySectorDevice : public SectorDevice {
public:
    MemorySectorDevice(uint32_t sector_size, uint64_t sectors)
        : sector_size_(sector_size), durable_(sector_size * sectors, 0),
          current_(sector_size * sectors, 0) {}
    MemorySectorDevice(uint32_t sector_size, std::vector<uint8_t> image)
        : sector_size_(sector_size), durable_(image), current_(std::move(image)) {}

    uint32_t sector_size() const override { return sector_size_; }
    uint64_t sector_count() const override { return current_.size() / sector_size_; }

    ErrorOr<void> read(uint64_t sector, std::span<uint8_t> buffer) override {
        if (dead_)
            return Error(ErrorCode::io, "memory device: power is off");
        TRY(check_range(sector, buffer.size()));
        std::memcpy(buffer.data(), current_.data() + sector * sector_size_, buffer.size());
        reads_++;
        return {};
    }
    ErrorOr<void> write(uint64_t sector, std::span<const uint8_t> data) override {
        if (dead_)
            return Error(ErrorCode::io, "memory device: power is off");
        if (read_only_)
            return Error(ErrorCode::permission, "memory device: read-only");
        TRY(check_range(sector, data.size()));
        Pending op{sector, std::vector<uint8_t>(data.begin(), data.end())};
        if (cut_now()) {
            pending_.push_back(std::move(op)); // in flight: may land, partly or not at all
            return Error(ErrorCode::io, "memory device: power cut during a write");
        }
        std::memcpy(current_.data() + sector * sector_size_, data.data(), data.size());
        pending_.push_back(std::move(op));
        writes_++;
        bytes_written_ += data.size();
        return {};
    }
    ErrorOr<void> flush() override {
        if (dead_)
            return Error(ErrorCode::io, "memory device: power is off");
        if (cut_now())
            return Error(ErrorCode::io, "memory device: power cut during a flush");
        // Apply the pending writes to the durable image (cheaper than copying it whole).
        for (const Pending& op : pending_)
            std::memcpy(durable_.data() + op.sector * sector_size_, op.data.data(), op.data.size());
        pending_.clear();
        flushes_++;
        return {};
    }
    bool read_only() const override { return read_only_; }

    void set_read_only(bool value) { read_only_ = value; }
    // Cut power at operation `index` counted from the device's creation (-1: never).
    void cut_at(int64_t index) { cut_at_ = index; }
    [[nodiscard]] bool dead() const { return dead_; }
    [[nodiscard]] uint64_t operations() const { return operations_; }
    [[nodiscard]] uint64_t writes() const { return writes_; }
    [[nodiscard]] uint64_t flushes() const { return flushes_; }
    [[nodiscard]] uint64_t reads() const { return reads_; }
    [[nodiscard]] uint64_t bytes_written() const { return bytes_written_; }
    [[nodiscard]] std::vector<uint8_t>& image() { return current_; }

    [[nodiscard]] std::vector<uint8_t> crash_image(CrashPolicy policy, uint64_t seed) const {
        std::vector<uint8_t> image = durable_;
        std::mt19937_64 engine(seed);
        std::vector<size_t> order;
        for (size_t i = 0; i < pending_.size(); ++i)
            if (policy == CrashPolicy::keep_pending ||
                (policy == CrashPolicy::random_subset && engine() % 2 == 0))
                order.push_back(i);
        if (policy == CrashPolicy::random_subset)
            std::shuffle(order.begin(), order.end(), engine);
        for (size_t i : order) {
            const Pending& op = pending_[i];
            size_t sectors = op.data.size() / sector_size_;
            for (size_t s = 0; s < sectors; ++s) {
                // Random subset: each sector of a multi-sector write lands on its own.
                if (policy == CrashPolicy::random_subset && sectors > 1 && engine() % 4 == 0)
                    continue;
                std::memcpy(image.data() + (op.sector + s) * sector_size_,
                            op.data.data() + s * sector_size_, sector_size_);
            }
        }
        return image;
    }

private:
    struct Pending {
        uint64_t sector;
        std::vector<uint8_t> data;
    };
    ErrorOr<void> check_range(uint64_t sector, size_t bytes) const {
        if (bytes % sector_size_ != 0)
            return Error(ErrorCode::invalid_argument, "memory device: partial sector");
        if (sector > sector_count() || bytes / sector_size_ > sector_count() - sector)
            return Error(ErrorCode::io, "memory device: access past the end");
        return {};
    }
    bool cut_now() {
        if (cut_at_ >= 0 && operations_ == static_cast<uint64_t>(cut_at_)) {
            dead_ = true;
            return true;
        }
        operations_++;
        return false;
    }

    uint32_t sector_size_;
    std::vector<uint8_t> durable_;
    std::vector<uint8_t> current_;
    std::vector<Pending> pending_;
    bool read_only_ = false;
    bool dead_ = false;
    int64_t cut_at_ = -1;
    uint64_t operations_ = 0;
    uint64_t writes_ = 0;
    uint64_t flushes_ = 0;
    uint64_t reads_ = 0;
    uint64_t bytes_written_ = 0;
};

class FixedClock : public Clock {
public:
    DateTime now() override { return time; }
    DateTime time = DateTime{2024, 5, 17, 12, 34, 56, 78, 4, true};
};

} // namespace halcyon::exfat::testing
