// Lists a directory. It reads the directory as it is at each call: modifying the directory
// while listing it may skip or repeat entries, but never returns a damaged one.
#pragma once

#include "mgmt/datastore/exfat/types.hpp"

namespace halcyon::exfat {

class Volume;

class DirectoryReader {
public:
    // The next entry; false at the end.
    [[nodiscard]] ErrorOr<bool> next(EntryInfo& out);

private:
    friend class Volume;
    DirectoryReader(Volume* volume, const Stream& directory, bool is_root)
        : volume_(volume), directory_(directory), is_root_(is_root) {}

    Volume* volume_;
    Stream directory_;
    bool is_root_;
    uint32_t index_ = 0;
};

} // namespace halcyon::exfat
