// Host-only test helper: a ParentResolver over named MemoryBlockIos (parents are looked up by
// relative path, then absolute path).
#pragma once

#include "vhdx/testing/memory_block_io.hpp"

#include <map>
#include <string>

namespace halcyon::vhdx::testing {

class MemoryResolver : public ParentResolver {
public:
    void add(const std::string& name, MemoryBlockIo* io) { files_[name] = io; }
    ErrorOr<BlockIo*> open_parent(const BlockIo&, std::string_view relative,
                                  std::string_view absolute) override {
        for (std::string_view name : {relative, absolute}) {
            auto it = files_.find(std::string(name));
            if (!name.empty() && it != files_.end()) {
                open_++;
                return static_cast<BlockIo*>(it->second);
            }
        }
        return Error(ErrorCode::not_found, "memory resolver: no such parent");
    }
    void close_parent(BlockIo*) override { open_--; }
    [[nodiscard]] int open_count() const { return open_; }

private:
    std::map<std::string, MemoryBlockIo*> files_;
    int open_ = 0;
};

} // namespace halcyon::vhdx::testing
