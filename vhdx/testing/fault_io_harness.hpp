// Host-only test helper for the crash and property tests: a guest-visible model of a disk that
// knows, per sector, every content a power cut may legitimately leave there, a structural check
// of an opened disk that does not trust the engine's own validation, and a driver that runs a
// scenario step by step against a Disk and the model.
#pragma once

#include "vhdx/compact.hpp"
#include "vhdx/disk.hpp"
#include "vhdx/disk_impl.hpp"
#include "vhdx/resize.hpp"
#include "vhdx/testing/fault_io.hpp"
#include "vhdx/testing/memory_block_io.hpp"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace halcyon::vhdx::testing {

// The content of a sector written with `tag`: unique per (tag, sector) so a sector read back
// from the wrong place is caught.
inline void fill_sector(uint8_t* out, uint32_t sector_size, uint64_t tag, uint64_t sector) {
    uint64_t state = tag * 0x9E3779B97F4A7C15ull ^ (sector + 1) * 0xD1B54A32D192ED03ull;
    for (uint32_t i = 0; i < sector_size; i += 8) {
        state ^= state >> 31;
        state *= 0xBF58476D1CE4E5B9ull;
        state ^= state >> 29;
        std::memcpy(out + i, &state, 8);
    }
}

// A 64-bit hash of `size` bytes (a multiple of 8), a word at a time: the crash tests hash
// every 512 bytes of every crashed image, and a byte-wise loop dominated their run time.
inline uint64_t hash_sector(const uint8_t* data, uint32_t size) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t i = 0; i < size; i += 8) {
        uint64_t word;
        std::memcpy(&word, data + i, 8);
        h = (h ^ word) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    return h;
}

// What a guest may read back after a crash. Each 512-byte unit has a list of acceptable content
// hashes: the last content made durable by a completed flush (or by an operation the engine
// documents as durable on return), plus every content written since. `latest` is what a
// crash-free disk shows now. Units are 512 bytes whatever the logical sector size: an
// unflushed write may be torn at the host's 512-byte granularity inside a 4096-byte sector,
// and each half must still be old or new data of that very place. The public interface counts
// logical sectors.
class CrashModel {
public:
    static constexpr uint32_t kUnit = 512;

    // Bytes at or past `cap` are not tracked (huge disks): they must read as zeros, and
    // verify() samples them.
    CrashModel(uint64_t size, uint32_t sector, uint64_t cap = ~0ull)
        : sector_(sector), per_sector_(sector / kUnit), cap_units_(cap / kUnit) {
        std::vector<uint8_t> zero(kUnit, 0);
        zero_hash_ = hash_sector(zero.data(), kUnit);
        resize_units(size / kUnit);
        sizes_ = {size};
        size_ = size;
    }

    [[nodiscard]] uint32_t sector_size() const { return sector_; }
    [[nodiscard]] uint64_t size() const { return size_; }

    // A write is in flight (and, once complete, not durable until flush).
    void write(uint64_t first_sector, uint64_t count, uint64_t tag) {
        std::vector<uint8_t> buffer(sector_);
        for (uint64_t s = first_sector; s < first_sector + count; ++s) {
            fill_sector(buffer.data(), sector_, tag, s);
            for (uint64_t u = 0; u < per_sector_; ++u)
                add(s * per_sector_ + u, hash_sector(buffer.data() + u * kUnit, kUnit));
        }
    }
    // Sectors that may now read as zeros (trim, forced shrink); durable is set by `settle`.
    void may_zero(uint64_t first_sector, uint64_t count) {
        for (uint64_t u = first_sector * per_sector_;
             u < (first_sector + count) * per_sector_ && u < latest_.size(); ++u)
            add(u, zero_hash_);
    }
    // Everything in flight so far is now durable (a completed flush, or a completed trim whose
    // log commit flushed): only the latest content is acceptable.
    void settle(uint64_t first_sector, uint64_t count) {
        for (uint64_t u = first_sector * per_sector_;
             u < (first_sector + count) * per_sector_ && u < latest_.size(); ++u)
            candidates_[u] = {latest_[u]};
    }
    void settle_all() {
        settle(0, latest_.size() / per_sector_);
        sizes_ = {size_};
    }
    // A resize is in flight: either size may survive a crash; sectors past the old end read
    // zeros in either case (a grow never exposes old bytes).
    void begin_resize(uint64_t new_size) {
        sizes_.push_back(new_size);
        uint64_t units = std::min(new_size / kUnit, cap_units_);
        if (units > latest_.size()) {
            uint64_t old = latest_.size();
            resize_units(units);
            for (uint64_t u = old; u < units; ++u) {
                candidates_[u] = {zero_hash_};
                latest_[u] = zero_hash_;
            }
        }
    }
    // The resize returned: its log entry is durable, so only the new size is acceptable.
    void end_resize(uint64_t new_size) {
        size_ = new_size;
        sizes_ = {new_size};
        // Bytes past the end are gone; a later grow must show zeros there.
        for (uint64_t u = new_size / kUnit; u < latest_.size(); ++u) {
            latest_[u] = zero_hash_;
            candidates_[u] = {zero_hash_};
        }
    }

    // Compares a reopened disk with the model; returns "" or what differs.
    [[nodiscard]] std::string verify(Disk& disk) const {
        uint64_t size = disk.info().virtual_size;
        if (std::find(sizes_.begin(), sizes_.end(), size) == sizes_.end())
            return "virtual size " + std::to_string(size) + " is none of the acceptable sizes";
        std::vector<uint8_t> buffer(256 * 1024);
        uint64_t tracked = std::min<uint64_t>(size, latest_.size() * kUnit);
        if (tracked < size) {
            // Untracked tail: sample its first and last 256 KiB; both must be zeros.
            for (uint64_t offset :
                 {tracked, size - std::min<uint64_t>(size - tracked, buffer.size())}) {
                uint64_t length = std::min<uint64_t>(buffer.size(), size - offset);
                auto read = disk.read(offset, {buffer.data(), length});
                if (read.is_error())
                    return std::string("read failed: ") + read.error().message();
                for (uint64_t i = 0; i < length; ++i)
                    if (buffer[i] != 0)
                        return "untracked byte " + std::to_string(offset + i) + " is not zero";
            }
        }
        for (uint64_t offset = 0; offset < tracked; offset += buffer.size()) {
            uint64_t length = std::min<uint64_t>(buffer.size(), tracked - offset);
            auto read = disk.read(offset, {buffer.data(), length});
            if (read.is_error())
                return std::string("read failed: ") + read.error().message();
            for (uint64_t i = 0; i < length; i += kUnit) {
                uint64_t u = (offset + i) / kUnit;
                uint64_t h = hash_sector(buffer.data() + i, kUnit);
                const auto& c = candidates_[u];
                if (std::find(c.begin(), c.end(), h) == c.end())
                    return "bytes " + std::to_string(u * kUnit) + "+512 hold content that was " +
                           "never written there (or lost acknowledged data); " +
                           std::to_string(c.size()) + " candidates";
            }
        }
        return "";
    }
    // Takes the disk's current content as durable (the starting point of a scenario).
    [[nodiscard]] std::string set_baseline(Disk& disk) {
        std::vector<uint8_t> buffer(64 * 1024);
        uint64_t tracked = latest_.size() * kUnit;
        for (uint64_t offset = 0; offset < tracked; offset += buffer.size()) {
            uint64_t length = std::min<uint64_t>(buffer.size(), tracked - offset);
            auto read = disk.read(offset, {buffer.data(), length});
            if (read.is_error())
                return std::string("read failed: ") + read.error().message();
            for (uint64_t i = 0; i < length; i += kUnit) {
                uint64_t u = (offset + i) / kUnit;
                latest_[u] = hash_sector(buffer.data() + i, kUnit);
                candidates_[u] = {latest_[u]};
            }
        }
        return "";
    }

private:
    void resize_units(uint64_t units) {
        units = std::min(units, cap_units_);
        candidates_.resize(units, {zero_hash_});
        latest_.resize(units, zero_hash_);
    }
    void add(uint64_t u, uint64_t h) {
        latest_[u] = h;
        if (std::find(candidates_[u].begin(), candidates_[u].end(), h) == candidates_[u].end())
            candidates_[u].push_back(h);
    }

    uint32_t sector_;
    uint64_t per_sector_;
    uint64_t cap_units_;
    uint64_t zero_hash_ = 0;
    uint64_t size_ = 0;
    std::vector<uint64_t> sizes_;
    std::vector<std::vector<uint64_t>> candidates_;
    std::vector<uint64_t> latest_;
};

// Structural check of an opened disk, independent of Disk::open's validation: every block a
// BAT entry owns lies inside the file, past the header section, and overlaps neither another
// block nor the log, metadata region or BAT; the log is empty after a writable open.
inline std::string check_structure(Disk& disk, uint64_t file_size) {
    const DiskImpl& d = disk.impl();
    struct Extent {
        uint64_t start, length;
        std::string what;
    };
    std::vector<Extent> extents = {
        {0, 1 * kMiB, "header section"},
        {d.header.header.log_offset, d.header.header.log_length, "log"},
        {d.regions.metadata_offset, d.regions.metadata_length, "metadata region"},
        {d.regions.bat_offset, d.regions.bat_length, "BAT region"},
    };
    const BatGeometry& g = d.bat.geometry();
    for (uint64_t index = 0; index < g.total_entries; ++index) {
        BatEntry e = d.bat.get(index);
        bool bitmap = (index + 1) % (g.chunk_ratio + 1) == 0;
        if (bitmap) {
            if (g.has_parent && e.state == 6)
                extents.push_back({e.file_offset, kMiB, "bitmap " + std::to_string(index)});
            continue;
        }
        if (e.state == 6 || e.state == 7)
            extents.push_back({e.file_offset, g.block_size, "block " + std::to_string(index)});
    }
    std::sort(extents.begin(), extents.end(),
              [](const Extent& a, const Extent& b) { return a.start < b.start; });
    for (size_t i = 0; i < extents.size(); ++i) {
        if (extents[i].start + extents[i].length > file_size)
            return extents[i].what + " lies past the end of the file";
        if (extents[i].start % kMiB != 0)
            return extents[i].what + " is not 1 MiB aligned";
        if (i > 0 && extents[i - 1].start + extents[i - 1].length > extents[i].start)
            return extents[i - 1].what + " overlaps " + extents[i].what;
    }
    if (!d.read_only && !disk.info().log_guid.is_zero())
        return "log still active after open";
    return "";
}

inline std::string error_text(const Error& error) {
    return error.message() == nullptr ? std::string("(null message)") : error.message();
}

} // namespace halcyon::vhdx::testing
