// Cluster allocation. New data prefers one contiguous run (NoFatChain: no FAT traffic at all);
// a file that cannot grow in place is converted to a FAT chain. Everything here changes the
// in-memory bitmap and the cached FAT only; the callers decide when that reaches the disk.
#include "mgmt/datastore/exfat/volume.hpp"

namespace halcyon::exfat {

using layout::kFatEndOfChain;
using layout::kFirstCluster;

bool Volume::find_free_run(uint32_t want, uint32_t& start, uint32_t& length) const {
    uint32_t end = kFirstCluster + geometry_.cluster_count; // one past the last cluster
    uint32_t hint = allocation_hint_ >= kFirstCluster && allocation_hint_ < end ? allocation_hint_
                                                                                : kFirstCluster;
    start = 0;
    length = 0;
    // Next fit: from the hint to the end, then from the beginning to the hint.
    for (int pass = 0; pass < 2; ++pass) {
        uint32_t from = pass == 0 ? hint : kFirstCluster;
        uint32_t to = pass == 0 ? end : hint;
        uint32_t c = from;
        while (c < to) {
            uint32_t bit = c - kFirstCluster;
            // Skip fully allocated bytes quickly.
            if (bit % 8 == 0 && bitmap_.data()[bit / 8] == 0xFF && c + 8 <= to) {
                c += 8;
                continue;
            }
            if (cluster_allocated(c)) {
                ++c;
                continue;
            }
            uint32_t run_start = c;
            while (c < to && !cluster_allocated(c) && c - run_start < want)
                ++c;
            uint32_t run = c - run_start;
            if (run > length) {
                start = run_start;
                length = run;
            }
            if (length >= want)
                return true;
        }
    }
    return false;
}

ErrorOr<void> Volume::grow(Stream& stream, uint64_t new_length, ChainCursor* cursor) {
    uint64_t old_count = clusters_for(stream.length);
    uint64_t new_count = clusters_for(new_length);
    if (new_count <= old_count) {
        stream.length = new_length;
        return {};
    }
    uint64_t need = new_count - old_count;
    if (need > free_clusters_)
        return Error(ErrorCode::out_of_range, "exfat: not enough free space on the volume");

    uint32_t last = 0;
    if (old_count > 0) {
        last = TRY(cluster_at(stream, old_count - 1, cursor));
        // Room right after the allocation: extend in place, contiguous or chained alike.
        bool room = uint64_t(last) + need <= geometry_.cluster_count + 1ull;
        for (uint64_t i = 1; room && i <= need; ++i)
            room = !cluster_allocated(static_cast<uint32_t>(last + i));
        if (room) {
            for (uint64_t i = 1; i <= need; ++i) {
                uint32_t c = static_cast<uint32_t>(last + i);
                set_cluster_allocated(c, true);
                if (!stream.no_fat_chain)
                    TRY(fat_set(c - 1, c));
            }
            if (!stream.no_fat_chain)
                TRY(fat_set(static_cast<uint32_t>(last + need), kFatEndOfChain));
            allocation_hint_ = static_cast<uint32_t>(last + need + 1);
            stream.length = new_length;
            return {};
        }
    }

    uint32_t start = 0;
    uint32_t length = 0;
    bool whole = need <= UINT32_MAX && find_free_run(static_cast<uint32_t>(need), start, length);
    if (old_count == 0 && whole) {
        for (uint32_t i = 0; i < need; ++i)
            set_cluster_allocated(start + i, true);
        allocation_hint_ = static_cast<uint32_t>(start + need);
        stream = Stream{start, true, new_length};
        if (cursor != nullptr)
            cursor->forget();
        return {};
    }

    // A FAT chain from here on. A contiguous allocation first gets its FAT entries written.
    if (old_count > 0 && stream.no_fat_chain) {
        for (uint64_t i = 0; i + 1 < old_count; ++i)
            TRY(fat_set(static_cast<uint32_t>(stream.first_cluster + i),
                        static_cast<uint32_t>(stream.first_cluster + i + 1)));
        stream.no_fat_chain = false;
    }
    uint32_t previous = last; // 0: the chain starts with the first new cluster
    uint64_t remaining = need;
    while (remaining > 0) {
        if (!find_free_run(static_cast<uint32_t>(remaining < UINT32_MAX ? remaining : UINT32_MAX),
                           start, length) &&
            length == 0)
            return Error(ErrorCode::corrupt, "exfat: free cluster count disagrees with bitmap");
        uint64_t take = length < remaining ? length : remaining;
        for (uint64_t i = 0; i < take; ++i) {
            uint32_t c = static_cast<uint32_t>(start + i);
            set_cluster_allocated(c, true);
            if (previous != 0)
                TRY(fat_set(previous, c));
            else
                stream.first_cluster = c;
            previous = c;
        }
        allocation_hint_ = static_cast<uint32_t>(start + take);
        remaining -= take;
    }
    TRY(fat_set(previous, kFatEndOfChain));
    stream.no_fat_chain = false;
    stream.length = new_length;
    return {};
}

ErrorOr<void> Volume::shrink(Stream& stream, uint64_t new_length, ChainCursor* cursor) {
    uint64_t old_count = clusters_for(stream.length);
    uint64_t new_count = clusters_for(new_length);
    if (new_count >= old_count) {
        stream.length = new_length;
        return {};
    }
    if (stream.no_fat_chain) {
        for (uint64_t i = new_count; i < old_count; ++i)
            set_cluster_allocated(static_cast<uint32_t>(stream.first_cluster + i), false);
    } else {
        uint32_t kept_last = 0;
        uint32_t c = stream.first_cluster;
        if (new_count > 0) {
            kept_last = TRY(cluster_at(stream, new_count - 1, cursor));
            c = TRY(fat_get(kept_last));
        }
        for (uint64_t i = new_count; i < old_count; ++i) {
            if (!geometry_.valid_cluster(c))
                return Error(ErrorCode::corrupt, "exfat: FAT chain ends before the data does");
            uint32_t next = i + 1 < old_count ? TRY(fat_get(c)) : 0;
            set_cluster_allocated(c, false);
            c = next;
        }
        if (kept_last != 0)
            TRY(fat_set(kept_last, kFatEndOfChain));
    }
    if (new_count == 0) {
        stream.first_cluster = 0;
        stream.no_fat_chain = false;
    }
    stream.length = new_length;
    if (cursor != nullptr) {
        // Points before the cut stay valid; the cursor may stand past it.
        cursor->index = 0;
        cursor->cluster = 0;
        if (cursor->points != nullptr)
            cursor->points->truncate(new_count);
    }
    // Freed clusters may become another directory with the same first cluster.
    directory_cursor_.forget();
    return {};
}

ErrorOr<void> Volume::free_stream(const Stream& stream) {
    if (stream.first_cluster == 0 || stream.length == 0)
        return {};
    Stream copy = stream;
    return shrink(copy, 0, nullptr);
}

} // namespace halcyon::exfat
