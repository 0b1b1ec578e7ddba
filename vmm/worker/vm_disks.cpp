#include "vmm/worker/vm_disks.hpp"

#include "mm/heap_core.hpp"
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/random.hpp"
#include "vmm/core/boot_info.hpp"
#include "vmm/core/log.hpp"
#include "vmm/worker/storage/extent_file.hpp"

#include <new>
#include <string.h>

namespace halcyon::worker {
namespace {

constexpr uint64_t kExtentPages = storage::kExtentBytes / mm::kPageSize;
// A disk image may grow to its size at boot plus its virtual size plus this much (BAT, sector
// bitmaps, metadata), so a guest filling its dynamic disk cannot take the host's memory.
constexpr uint64_t kGrowthSlackBytes = 64ull << 20;
constexpr uint64_t kMaxImageBytes = 256ull << 30;

// 2 MiB frames, zeroed, reached through the direct map; at most `budget` at a time.
class FrameExtents final : public storage::ExtentSource {
public:
    explicit FrameExtents(mm::FrameAllocator& frames) : frames_(frames) {}
    uint8_t* allocate_extent() override {
        if (in_use_ == budget)
            return nullptr;
        auto physical = frames_.allocate(kExtentPages, kExtentPages);
        if (physical.is_error())
            return nullptr;
        auto* extent = reinterpret_cast<uint8_t*>(handoff::kDirectMapBase + physical.value());
        memset(extent, 0, storage::kExtentBytes);
        ++in_use_;
        return extent;
    }
    void free_extent(uint8_t* extent) override {
        const uint64_t physical = reinterpret_cast<uint64_t>(extent) - handoff::kDirectMapBase;
        if (frames_.free(physical, kExtentPages).is_error())
            log::error("vm disks: an extent at %#llx could not be freed",
                       static_cast<unsigned long long>(physical));
        --in_use_;
    }
    uint64_t budget = 0;

private:
    mm::FrameAllocator& frames_;
    uint64_t in_use_ = 0;
};

class HeapAllocator final : public vhdx::Allocator {
public:
    void* allocate(size_t size, size_t align) override {
        return mm::core_heap()->allocate(size, align < 16 ? 16 : align);
    }
    void deallocate(void* pointer, size_t, size_t) override {
        (void)mm::core_heap()->deallocate(pointer);
    }
};

// GUIDs for the VHDX headers: the CPU's generator, or a counter mixed with the TSC on a CPU
// without one (the GUIDs must differ between writes, not be secret).
class CpuRandom final : public vhdx::RandomSource {
public:
    void fill(std::span<uint8_t> bytes) override {
        for (size_t i = 0; i < bytes.size(); i += 8) {
            uint64_t value;
            if (!x86::hardware_random64(value))
                value = (x86::rdtsc() * 0x9E3779B97F4A7C15ull) ^ (++counter_ << 32);
            const size_t piece = bytes.size() - i < 8 ? bytes.size() - i : 8;
            memcpy(bytes.data() + i, &value, piece);
        }
    }

private:
    uint64_t counter_ = 0;
};

HeapAllocator g_heap_allocator;
CpuRandom g_random;

} // namespace

struct VmDisks::Entry {
    Entry(mm::FrameAllocator& frames, std::span<uint8_t*> table, bool read_only)
        : extents(frames), file(extents, table, read_only) {}
    FrameExtents extents;
    storage::ExtentFile file;
    uint8_t** table = nullptr;
};

ErrorOr<VmDisks*> VmDisks::open(const config::VmConfig& config, const handoff::Handoff& handoff,
                                mm::FrameAllocator& frames) {
    auto* disks = new (std::nothrow) VmDisks(config, frames);
    if (disks == nullptr)
        return Error(ErrorCode::out_of_memory, "no memory for the VM's disk table");
    for (uint32_t i = 0; i < config.disk_count; ++i) {
        const auto image = boot_info::module_bytes(handoff, config.disks[i].path);
        auto opened = image ? disks->open_one(i, *image)
                            : ErrorOr<void>(Error(ErrorCode::not_found,
                                                  "the loader brought no module with its name"));
        if (opened.is_error()) {
            log::error("vm %s: disk %s: %s", config.name, config.disks[i].path,
                       opened.error().message());
            delete disks;
            return opened.release_error();
        }
    }
    return disks;
}

ErrorOr<void> VmDisks::open_one(uint32_t index, std::span<const uint8_t> image) {
    const bool read_only = config_.disks[index].read_only;
    const uint64_t max_extents = kMaxImageBytes / storage::kExtentBytes;
    auto** table = new (std::nothrow) uint8_t*[max_extents]();
    if (table == nullptr)
        return Error(ErrorCode::out_of_memory, "no memory for the image's extent table");
    auto* entry = new (std::nothrow) Entry(frames_, std::span(table, max_extents), read_only);
    if (entry == nullptr) {
        delete[] table;
        return Error(ErrorCode::out_of_memory, "no memory for the image");
    }
    entry->table = table;
    entries_[index] = entry;
    count_ = index + 1;
    entry->extents.budget = max_extents;
    TRY(entry->file.load(image));

    vhdx::OpenOptions options;
    options.read_only = read_only;
    options.random = &g_random;
    disks_[index] = TRY(vhdx::Disk::open(entry->file, g_heap_allocator, options));
    const vhdx::DiskInfo info = disks_[index]->info();
    const uint64_t limit = image.size() + info.virtual_size + kGrowthSlackBytes;
    entry->extents.budget = (limit + storage::kExtentBytes - 1) / storage::kExtentBytes;
    log::info("vm %s: disk %s: %s VHDX, %llu MiB virtual, %u/%u-byte sectors, image %llu KiB%s",
              config_.name, config_.disks[index].path,
              info.type == vhdx::DiskType::fixed     ? "fixed"
              : info.type == vhdx::DiskType::dynamic ? "dynamic"
                                                     : "differencing",
              static_cast<unsigned long long>(info.virtual_size >> 20), info.logical_sector_size,
              info.physical_sector_size, static_cast<unsigned long long>(image.size() >> 10),
              read_only ? ", read-only" : "");
    return {};
}

VmDisks::~VmDisks() {
    for (uint32_t i = 0; i < count_; ++i) {
        if (disks_[i] != nullptr && disks_[i]->close().is_error())
            log::error("vm %s: disk %s did not close cleanly", config_.name, config_.disks[i].path);
        if (entries_[i] != nullptr) {
            uint8_t** table = entries_[i]->table;
            delete entries_[i];
            delete[] table;
        }
    }
}

const char* VmDisks::name(uint32_t index) const {
    return config_.disks[index].path;
}

bool VmDisks::read_only(uint32_t index) const {
    return config_.disks[index].read_only;
}

} // namespace halcyon::worker
