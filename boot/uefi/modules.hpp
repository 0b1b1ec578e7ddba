// The files the loader brings to the core (handoff::Module): read whole from the FileSource
// into their own pages of type kEfiTypeBootModule, named by their configured path.
#pragma once

#include "boot/handoff/handoff.hpp"
#include "boot/uefi/file_source.hpp"
#include "lib/base/error_or.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::loader {

class ModuleList {
public:
    // Allocates room for `capacity` entries (kEfiTypeBootData, handed to the core).
    [[nodiscard]] ErrorOr<void> allocate(uint32_t capacity);

    // Loads `path` (unless a module of that name is already loaded) and returns it.
    [[nodiscard]] ErrorOr<const handoff::Module*> load(FileSource& source, const char* path);

    [[nodiscard]] uint64_t physical_address() const { return reinterpret_cast<uint64_t>(entries_); }
    [[nodiscard]] uint32_t count() const { return count_; }

private:
    handoff::Module* entries_ = nullptr;
    uint32_t count_ = 0;
    uint32_t capacity_ = 0;
};

// A module's bytes (the loader runs identity mapped, so physical addresses are usable).
[[nodiscard]] inline std::span<const uint8_t> module_bytes(const handoff::Module& module) {
    return {reinterpret_cast<const uint8_t*>(module.physical_base), module.size};
}

} // namespace halcyon::loader
