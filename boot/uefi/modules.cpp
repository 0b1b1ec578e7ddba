#include "boot/uefi/modules.hpp"

#include "boot/uefi/firmware.hpp"

namespace halcyon::loader {

ErrorOr<void> ModuleList::allocate(uint32_t capacity) {
    uint64_t bytes = uint64_t{capacity} * sizeof(handoff::Module);
    entries_ = reinterpret_cast<handoff::Module*>(
        TRY(allocate_pages(pages_for(bytes), handoff::kEfiTypeBootData)));
    capacity_ = capacity;
    return {};
}

ErrorOr<const handoff::Module*> ModuleList::load(FileSource& source, const char* path) {
    size_t name_length = __builtin_strlen(path);
    if (name_length >= sizeof(handoff::Module::name))
        return Error(ErrorCode::out_of_range, "module path is longer than 111 characters");
    for (uint32_t i = 0; i < count_; ++i) {
        if (__builtin_strcmp(entries_[i].name, path) == 0)
            return &entries_[i]; // e.g. two VMs sharing one kernel: load it once
    }
    if (count_ == capacity_)
        return Error(ErrorCode::out_of_range, "too many modules");

    LoadedFile file = TRY(source.load(path, handoff::kEfiTypeBootModule));

    handoff::Module& module = entries_[count_++];
    module.physical_base = file.physical_base;
    module.size = file.size;
    __builtin_memcpy(module.name, path, name_length + 1);
    log("loaded %s (%llu bytes at 0x%llx)", path, static_cast<unsigned long long>(file.size),
        static_cast<unsigned long long>(file.physical_base));
    return &module;
}

} // namespace halcyon::loader
