#include "mgmt/datastore/exfat/check.hpp"

namespace halcyon::exfat {

using namespace layout;

namespace {

Error corrupt(const char* message) {
    return Error(ErrorCode::corrupt, message);
}

} // namespace

ErrorOr<CheckReport> Checker::run(bool repair) {
    Volume& v = volume_;
    repair_ = repair;
    report_ = CheckReport{};
    seen_ = TRY(Buffer::allocate(v.allocator_, v.bitmap_.size()));
    v.stray_entries_seen_ = 0;
    v.clear_strays_ = repair;
    auto result = [&]() -> ErrorOr<void> {
        TRY(claim(v.bitmap_stream_));
        TRY(claim(v.upcase_stream_));
        TRY(claim(v.root_));
        TRY(walk_tree());
        return reconcile_bitmap();
    }();
    v.clear_strays_ = false;
    seen_.release();
    if (result.is_error())
        return result.release_error();
    report_.stray_entries = v.stray_entries_seen_;
    return report_;
}

bool Checker::seen(uint32_t cluster) const {
    uint32_t bit = cluster - kFirstCluster;
    return (seen_.data()[bit / 8] >> (bit % 8)) & 1;
}

ErrorOr<void> Checker::claim_cluster(uint32_t cluster) {
    Volume& v = volume_;
    if (!v.geometry_.valid_cluster(cluster))
        return corrupt("exfat: an allocation points outside the cluster heap");
    uint32_t bit = cluster - kFirstCluster;
    uint8_t mask = static_cast<uint8_t>(1u << (bit % 8));
    if (seen_.data()[bit / 8] & mask)
        return corrupt("exfat: a cluster is used twice (cross-linked files or a looping chain)");
    if (!v.cluster_allocated(cluster))
        return corrupt("exfat: a cluster in use is marked free in the allocation bitmap");
    seen_.data()[bit / 8] |= mask;
    ++report_.used_clusters;
    return {};
}

ErrorOr<void> Checker::claim(const Stream& stream) {
    Volume& v = volume_;
    if (stream.first_cluster == 0 || stream.length == 0)
        return {};
    uint64_t need = v.clusters_for(stream.length);
    if (stream.no_fat_chain) {
        for (uint64_t i = 0; i < need; ++i)
            TRY(claim_cluster(static_cast<uint32_t>(stream.first_cluster + i)));
        return {};
    }
    uint32_t cluster = stream.first_cluster;
    for (uint64_t i = 0;; ++i) {
        TRY(claim_cluster(cluster)); // also stops a looping chain (second visit)
        uint32_t next = TRY(v.fat_get(cluster));
        if (i + 1 == need) {
            if (next != kFatEndOfChain) {
                // Longer than its data: a power cut between linking new clusters and
                // updating DataLength (or the reverse when shrinking).
                if (!repair_ && !v.info_.was_dirty)
                    return corrupt("exfat: a FAT chain is longer than its file");
                ++report_.excess_chains;
                if (repair_)
                    TRY(v.fat_set(cluster, kFatEndOfChain));
            }
            return {};
        }
        if (next == kFatEndOfChain)
            return corrupt("exfat: a FAT chain ends before its data does");
        if (next == kFatBadCluster)
            return corrupt("exfat: a FAT chain runs into a bad cluster");
        if (!v.geometry_.valid_cluster(next))
            return corrupt("exfat: a FAT chain points outside the cluster heap");
        cluster = next;
    }
}

ErrorOr<void> Checker::claim_vendor_allocations(const EntryLocation& location,
                                                const EntrySet& set) {
    for (uint32_t i = 2; i < set.total; ++i) {
        const uint8_t* raw = TRY(volume_.entry_at(location.directory, location.index + i));
        if (raw[0] != kEntryVendorAllocation)
            continue;
        const auto& entry = *reinterpret_cast<const VendorAllocationEntry*>(raw);
        if (!(entry.general_secondary_flags & kFlagAllocationPossible))
            continue;
        TRY(claim(Stream{entry.first_cluster,
                         (entry.general_secondary_flags & kFlagNoFatChain) != 0,
                         entry.data_length}));
    }
    return {};
}

ErrorOr<void> Checker::walk_tree() {
    Volume& v = volume_;
    struct Frame {
        Stream directory;
        uint32_t index;
        bool is_root;
    };
    // An explicit stack: the hypervisor's stacks are small and a hostile volume may nest deep.
    Buffer stack = TRY(Buffer::allocate(v.allocator_, kMaxDepth * sizeof(Frame)));
    Frame* frames = stack.as<Frame>();
    uint32_t depth = 1;
    frames[0] = Frame{v.root_, 0, true};
    EntrySet set;
    while (depth > 0) {
        Frame& frame = frames[depth - 1];
        uint32_t index = frame.index;
        if (!TRY(v.next_entry_set(frame.directory, frame.is_root, index, set))) {
            --depth;
            continue;
        }
        frame.index = index + set.total;
        Stream stream = set.stream();
        EntryLocation location{frame.directory, index, set.total};
        if (stream.first_cluster != 0 && v.geometry_.valid_cluster(stream.first_cluster) &&
            seen(stream.first_cluster) && v.info_.was_dirty &&
            TRY(is_interrupted_move(location, set))) {
            ++report_.duplicate_entries;
            if (repair_)
                TRY(v.delete_entry_set(location));
            continue; // its allocation belongs to the other name
        }
        TRY(claim(stream));
        if (set.vendor_allocation)
            TRY(claim_vendor_allocations(location, set));
        if (!set.is_directory()) {
            ++report_.files;
            if (set.stream_entry().valid_data_length < stream.length)
                ++report_.partially_valid_files;
            continue;
        }
        ++report_.directories;
        if (stream.length == 0)
            continue;
        if (depth == kMaxDepth)
            return Error(ErrorCode::not_supported, "exfat: directory tree is deeper than 64");
        frames[depth++] = Frame{stream, 0, false};
    }
    return {};
}

ErrorOr<bool> Checker::is_interrupted_move(const EntryLocation& location, const EntrySet& set) {
    Volume& v = volume_;
    if (set.total > set.held || set.vendor_allocation)
        return false;
    // This search walks directories the main walk counts strays in: keep its count.
    uint32_t strays = v.stray_entries_seen_;
    auto result = search_twin(location, set);
    v.stray_entries_seen_ = strays;
    return result;
}

ErrorOr<bool> Checker::search_twin(const EntryLocation& location, const EntrySet& set) {
    Volume& v = volume_;
    struct Frame {
        Stream directory;
        uint32_t index;
        bool is_root;
    };
    Buffer stack = TRY(Buffer::allocate(v.allocator_, kMaxDepth * sizeof(Frame)));
    Frame* frames = stack.as<Frame>();
    uint32_t depth = 1;
    frames[0] = Frame{v.root_, 0, true};
    EntrySet other;
    const StreamExtensionEntry& mine = set.stream_entry();
    while (depth > 0) {
        Frame& frame = frames[depth - 1];
        uint32_t index = frame.index;
        if (!TRY(v.next_entry_set(frame.directory, frame.is_root, index, other))) {
            --depth;
            continue;
        }
        frame.index = index + other.total;
        bool same_place = frame.directory.first_cluster == location.directory.first_cluster &&
                          index == location.index;
        const StreamExtensionEntry& theirs = other.stream_entry();
        if (!same_place && theirs.first_cluster == mine.first_cluster)
            return theirs.data_length == mine.data_length &&
                   theirs.valid_data_length == mine.valid_data_length &&
                   theirs.general_secondary_flags == mine.general_secondary_flags &&
                   other.file().file_attributes == set.file().file_attributes;
        Stream stream = other.stream();
        // Do not descend into the set's own subtree (it is the same directory twice).
        if (other.is_directory() && stream.length > 0 && !same_place && depth < kMaxDepth)
            frames[depth++] = Frame{stream, 0, false};
    }
    return false;
}

ErrorOr<void> Checker::reconcile_bitmap() {
    Volume& v = volume_;
    for (uint32_t bit = 0; bit < v.geometry_.cluster_count; ++bit) {
        uint32_t cluster = kFirstCluster + bit;
        if (!v.cluster_allocated(cluster) || (seen_.data()[bit / 8] >> (bit % 8)) & 1)
            continue;
        // Bad clusters stay allocated: they are marked in the bitmap on purpose.
        if (TRY(v.fat_get(cluster)) == kFatBadCluster)
            continue;
        ++report_.leaked_clusters;
    }
    if (!repair_)
        return {};
    // Chains are cut (and that is durable) before their tails are freed: the other order
    // could leave a chain running into free clusters.
    TRY(v.cache_.write_back());
    TRY(v.device_.flush());
    for (uint32_t bit = 0; bit < v.geometry_.cluster_count; ++bit) {
        uint32_t cluster = kFirstCluster + bit;
        if (v.cluster_allocated(cluster) && !((seen_.data()[bit / 8] >> (bit % 8)) & 1) &&
            TRY(v.fat_get(cluster)) != kFatBadCluster)
            v.set_cluster_allocated(cluster, false);
    }
    TRY(v.write_back_metadata());
    return v.device_.flush();
}

} // namespace halcyon::exfat
