// The whole-volume check mount runs before trusting a volume: every entry set, every cluster
// chain, and the allocation bitmap against what the tree really uses. Its repair pass fixes
// only what a power cut under our write ordering can leave (leaked clusters, FAT chains longer
// than their file, stray secondary entries, the second name of a file whose move was cut
// short), never real damage.
#pragma once

#include "mgmt/datastore/exfat/volume.hpp"

namespace halcyon::exfat {

class Checker {
public:
    explicit Checker(Volume& volume) : volume_(volume) {}

    // Read-only unless `repair`; an error names the first real damage found.
    [[nodiscard]] ErrorOr<CheckReport> run(bool repair);

    static constexpr uint32_t kMaxDepth = 64;

private:
    // Marks the clusters of an allocation as used; `need` clusters of a FAT chain are walked
    // and the chain must end there (a longer one is an excess chain, cut in repair mode).
    [[nodiscard]] ErrorOr<void> claim(const Stream& stream);
    [[nodiscard]] ErrorOr<void> claim_cluster(uint32_t cluster);
    [[nodiscard]] ErrorOr<void> claim_vendor_allocations(const EntryLocation& location,
                                                         const EntrySet& set);
    [[nodiscard]] ErrorOr<void> walk_tree();
    // On a dirty volume, a set whose allocation is already claimed may be the second name a
    // move left behind (new entry written, old one not yet deleted): true when another set
    // describes exactly the same allocation.
    [[nodiscard]] ErrorOr<bool> is_interrupted_move(const EntryLocation& location,
                                                    const EntrySet& set);
    [[nodiscard]] ErrorOr<bool> search_twin(const EntryLocation& location, const EntrySet& set);
    [[nodiscard]] bool seen(uint32_t cluster) const;
    [[nodiscard]] ErrorOr<void> reconcile_bitmap();

    Volume& volume_;
    Buffer seen_;
    CheckReport report_;
    bool repair_ = false;
};

} // namespace halcyon::exfat
