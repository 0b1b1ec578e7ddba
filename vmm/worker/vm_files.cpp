#include "vmm/worker/vm_files.hpp"

#include "boot/config/config.hpp"
#include "vmm/core/boot_info.hpp"
#include "vmm/core/log.hpp"
#include "vmm/worker/datastore_lock.hpp"
#include "vmm/worker/datastore_mount.hpp"

#include <string.h>
#include <string_view>

namespace halcyon::worker {
namespace {

// Every VM's kernel and initrd at most; files two VMs share are read once.
constexpr size_t kMaxCachedFiles = 2 * config::kMaxVms;
// A kernel or initrd larger than this is a mistake in the configuration, not a boot file.
constexpr uint64_t kMaxFileBytes = 1ull << 30;

struct CachedFile {
    char path[config::kMaxPath] = {};
    const uint8_t* bytes = nullptr;
    uint64_t size = 0;
};

CachedFile g_files[kMaxCachedFiles];
size_t g_file_count = 0;

ErrorOr<std::span<const uint8_t>> read_from_datastore(mm::FrameAllocator& frames,
                                                      const char* path) {
    datastore::Datastore* store = core_datastore();
    if (store == nullptr)
        return Error(ErrorCode::not_found, "no datastore is mounted (see the datastore: line)");
    // Other CPUs may be doing their VMs' disk I/O on the datastore meanwhile.
    mm::SpinLockGuard guard(datastore_lock());
    exfat::EntryInfo info;
    TRY(store->stat(path, info));
    if (info.directory)
        return Error(ErrorCode::invalid_argument, "the datastore path names a directory");
    if (info.size == 0 || info.size > kMaxFileBytes)
        return Error(ErrorCode::out_of_range, "the datastore file is empty or larger than 1 GiB");
    if (g_file_count == kMaxCachedFiles)
        return Error(ErrorCode::out_of_memory, "too many datastore files for VMs");
    // Whole pages of contiguous memory, kept for the life of the host (VMs reboot from them).
    const size_t pages = static_cast<size_t>((info.size + mm::kPageSize - 1) / mm::kPageSize);
    const uint64_t physical = TRY(frames.allocate(pages));
    auto* bytes = reinterpret_cast<uint8_t*>(handoff::kDirectMapBase + physical);
    if (auto read = store->read_file(path, std::span(bytes, info.size)); read.is_error()) {
        (void)frames.free(physical, pages);
        return read.release_error();
    }
    CachedFile& file = g_files[g_file_count++];
    const size_t length =
        strlen(path) < sizeof(file.path) - 1 ? strlen(path) : sizeof(file.path) - 1;
    memcpy(file.path, path, length);
    file.path[length] = '\0';
    file.bytes = bytes;
    file.size = info.size;
    log::info("datastore: read %s (%llu KiB)", path,
              static_cast<unsigned long long>(info.size >> 10));
    return std::span<const uint8_t>(bytes, info.size);
}

} // namespace

ErrorOr<std::span<const uint8_t>> vm_file_bytes(const handoff::Handoff& handoff,
                                                mm::FrameAllocator& frames, const char* path) {
    if (!config::is_datastore_path(path)) {
        const auto module = boot_info::module_bytes(handoff, path);
        if (!module)
            return Error(ErrorCode::not_found, "the loader brought no module with that name");
        return *module;
    }
    const std::string_view wanted = config::datastore_path(path);
    for (size_t i = 0; i < g_file_count; ++i) {
        if (config::datastore_path(g_files[i].path) == wanted)
            return std::span<const uint8_t>(g_files[i].bytes, g_files[i].size);
    }
    return read_from_datastore(frames, path);
}

} // namespace halcyon::worker
