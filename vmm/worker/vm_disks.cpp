#include "vmm/worker/vm_disks.hpp"

#include "mgmt/datastore/exfat/file_block_io.hpp"
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/random.hpp"
#include "vmm/arch/x86_64/tsc.hpp"
#include "vmm/core/boot_info.hpp"
#include "vmm/core/log.hpp"
#include "vmm/worker/datastore_lock.hpp"
#include "vmm/worker/datastore_mount.hpp"
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

CpuRandom g_random;

} // namespace

vhdx::RandomSource& core_vhdx_random() {
    return g_random;
}

struct VmDisks::Entry {
    Entry(mm::FrameAllocator& frames, std::span<uint8_t*> table, bool read_only)
        : extents(frames), file(extents, table, read_only) {}
    FrameExtents extents;
    storage::ExtentFile file;
    uint8_t** table = nullptr;
};

namespace {

// Counts what a VHDX on the datastore asks of its file (and the time it takes), so the log
// shows that guest flushes reach the disk and what the datastore path costs.
class MeteredBlockIo final : public vhdx::BlockIo {
public:
    explicit MeteredBlockIo(vhdx::BlockIo& inner) : inner_(inner) {}

    ErrorOr<void> read(uint64_t offset, std::span<uint8_t> buffer) override {
        const uint64_t start = x86::rdtsc();
        auto result = inner_.read(offset, buffer);
        read_bytes += buffer.size();
        busy_tsc += x86::rdtsc() - start;
        return result;
    }
    ErrorOr<void> write(uint64_t offset, std::span<const uint8_t> data) override {
        const uint64_t start = x86::rdtsc();
        auto result = inner_.write(offset, data);
        written_bytes += data.size();
        busy_tsc += x86::rdtsc() - start;
        return result;
    }
    ErrorOr<void> flush() override {
        const uint64_t start = x86::rdtsc();
        auto result = inner_.flush();
        ++flushes;
        busy_tsc += x86::rdtsc() - start;
        return result;
    }
    ErrorOr<uint64_t> size() override { return inner_.size(); }
    ErrorOr<void> set_size(uint64_t size) override { return inner_.set_size(size); }
    bool read_only() const override { return inner_.read_only(); }

    uint64_t read_bytes = 0;
    uint64_t written_bytes = 0;
    uint64_t flushes = 0;
    uint64_t busy_tsc = 0;

private:
    vhdx::BlockIo& inner_;
};

// With the files closed the volume can be marked clean again (VolumeDirty off), so a machine
// switched off now leaves a volume any OS mounts without a repair.
void sync_datastore(const char* vm_name) {
    if (datastore::Datastore* store = core_datastore(); store != nullptr) {
        mm::SpinLockGuard guard(datastore_lock());
        if (auto synced = store->sync(); synced.is_error())
            log::error("vm %s: datastore sync after closing disks: %s", vm_name,
                       synced.error().message());
    }
}

} // namespace

// A VHDX file on the datastore: the open exFAT file and the BlockIo over it (each call under the
// datastore's lock: the guest's I/O runs on the CPU of its vCPU).
struct VmDisks::DatastoreEntry {
    explicit DatastoreEntry(exfat::File opened) : file(static_cast<exfat::File&&>(opened)) {}
    exfat::File file;
    exfat::FileBlockIo file_io{file};
    DatastoreBlockIo locked{file_io};
    MeteredBlockIo io{locked};
};

ErrorOr<VmDisks*> VmDisks::open(const config::VmConfig& config, const handoff::Handoff& handoff,
                                mm::FrameAllocator& frames) {
    auto* disks = new (std::nothrow) VmDisks(config, frames);
    if (disks == nullptr)
        return Error(ErrorCode::out_of_memory, "no memory for the VM's disk table");
    for (uint32_t i = 0; i < config.disk_count; ++i) {
        auto opened = disks->open_disk(i, handoff);
        if (opened.is_error()) {
            log::error("vm %s: disk %s: %s", config.name, config.disks[i].path,
                       opened.error().message());
            delete disks;
            return opened.release_error();
        }
    }
    return disks;
}

ErrorOr<void> VmDisks::open_disk(uint32_t index, const handoff::Handoff& handoff) {
    memcpy(names_[index], config_.disks[index].path, sizeof(names_[index]));
    names_[index][sizeof(names_[index]) - 1] = '\0';
    read_only_[index] = config_.disks[index].read_only;
    const char* path = names_[index];
    if (config::is_datastore_path(path))
        return open_on_datastore(index);
    const auto image = boot_info::module_bytes(handoff, path);
    if (!image)
        return Error(ErrorCode::not_found, "the loader brought no module with its name");
    return open_one(index, *image);
}

ErrorOr<void> VmDisks::open_one(uint32_t index, std::span<const uint8_t> image) {
    const bool read_only = read_only_[index];
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
    count_ = index >= count_ ? index + 1 : count_;
    entry->extents.budget = max_extents;
    TRY(entry->file.load(image));

    vhdx::OpenOptions options;
    options.read_only = read_only;
    options.random = &g_random;
    disks_[index] = TRY(vhdx::Disk::open(entry->file, core_library_allocator(), options));
    const vhdx::DiskInfo info = disks_[index]->info();
    const uint64_t limit = image.size() + info.virtual_size + kGrowthSlackBytes;
    entry->extents.budget = (limit + storage::kExtentBytes - 1) / storage::kExtentBytes;
    log_opened(index, "in memory", image.size());
    return {};
}

ErrorOr<void> VmDisks::open_on_datastore(uint32_t index) {
    datastore::Datastore* store = core_datastore();
    if (store == nullptr)
        return Error(ErrorCode::not_found, "no datastore is mounted (see the datastore: line)");
    const bool read_only = read_only_[index];
    ErrorOr<exfat::File> opened = [&] {
        mm::SpinLockGuard guard(datastore_lock());
        return store->open(names_[index],
                           read_only ? exfat::OpenMode::read : exfat::OpenMode::read_write);
    }();
    exfat::File file = TRY(opened);
    auto* entry = new (std::nothrow) DatastoreEntry(static_cast<exfat::File&&>(file));
    if (entry == nullptr)
        return Error(ErrorCode::out_of_memory, "no memory for the disk");
    datastore_entries_[index] = entry;
    count_ = index >= count_ ? index + 1 : count_;
    vhdx::OpenOptions options;
    options.read_only = read_only;
    options.random = &g_random;
    disks_[index] = TRY(vhdx::Disk::open(entry->io, core_library_allocator(), options));
    // Opening a VHDX for writing may replay its log and updates its headers: make that, and the
    // file's directory entry, durable before the guest runs.
    if (!read_only) {
        TRY(disks_[index]->flush());
        mm::SpinLockGuard guard(datastore_lock());
        TRY(store->sync());
    }
    uint64_t file_bytes;
    {
        mm::SpinLockGuard guard(datastore_lock());
        file_bytes = entry->file.size();
    }
    log_opened(index, "on the datastore", file_bytes);
    return {};
}

void VmDisks::log_opened(uint32_t index, const char* where, uint64_t image_bytes) const {
    const vhdx::DiskInfo info = disks_[index]->info();
    log::info("vm %s: disk %s: %s VHDX %s, %llu MiB virtual, %u/%u-byte sectors, image %llu "
              "KiB%s",
              config_.name, names_[index],
              info.type == vhdx::DiskType::fixed     ? "fixed"
              : info.type == vhdx::DiskType::dynamic ? "dynamic"
                                                     : "differencing",
              where, static_cast<unsigned long long>(info.virtual_size >> 20),
              info.logical_sector_size, info.physical_sector_size,
              static_cast<unsigned long long>(image_bytes >> 10),
              read_only_[index] ? ", read-only" : "");
}

bool VmDisks::close_slot(uint32_t index) {
    const char* path = names_[index];
    if (disks_[index] != nullptr && disks_[index]->close().is_error())
        log::error("vm %s: disk %s did not close cleanly", config_.name, path);
    disks_[index] = nullptr;
    if (entries_[index] != nullptr) {
        uint8_t** table = entries_[index]->table;
        delete entries_[index];
        delete[] table;
        entries_[index] = nullptr;
    }
    DatastoreEntry* entry = datastore_entries_[index];
    if (entry == nullptr)
        return false;
    const MeteredBlockIo& io = entry->io;
    const uint64_t hz = x86::tsc::frequency_hz();
    log::info("vm %s: disk %s closed: %llu KiB read, %llu KiB written, %llu flushes to the "
              "datastore, %llu ms in datastore I/O",
              config_.name, path, static_cast<unsigned long long>(io.read_bytes >> 10),
              static_cast<unsigned long long>(io.written_bytes >> 10),
              static_cast<unsigned long long>(io.flushes),
              static_cast<unsigned long long>(hz >= 1000 ? io.busy_tsc / (hz / 1000) : 0));
    {
        mm::SpinLockGuard guard(datastore_lock());
        if (entry->file.close().is_error())
            log::error("vm %s: disk %s: its datastore file did not close cleanly", config_.name,
                       path);
        delete entry;
    }
    datastore_entries_[index] = nullptr;
    return true;
}

VmDisks::~VmDisks() {
    bool on_datastore = false;
    for (uint32_t i = 0; i < count_; ++i)
        on_datastore = close_slot(i) || on_datastore;
    if (on_datastore)
        sync_datastore(config_.name);
}

ErrorOr<uint32_t> VmDisks::add(std::string_view path, bool read_only) {
    if (!config::is_datastore_path(path))
        return Error(ErrorCode::not_supported,
                     "only datastore files (ds:PATH) can be attached to a running VM");
    if (path.size() >= sizeof(names_[0]))
        return Error(ErrorCode::invalid_argument, "the disk's path is too long");
    uint32_t index = 0;
    while (index < config::kMaxDisksPerVm && present(index))
        ++index;
    if (index == config::kMaxDisksPerVm)
        return Error(ErrorCode::out_of_range, "the VM has 8 disks already");
    memcpy(names_[index], path.data(), path.size());
    names_[index][path.size()] = '\0';
    read_only_[index] = read_only;
    if (index >= count_)
        count_ = index + 1;
    if (auto opened = open_on_datastore(index); opened.is_error()) {
        log::error("vm %s: disk %s: %s", config_.name, names_[index], opened.error().message());
        (void)close_slot(index);
        return opened.release_error();
    }
    return index;
}

void VmDisks::close(uint32_t index) {
    if (index < count_ && close_slot(index))
        sync_datastore(config_.name);
}

const char* VmDisks::name(uint32_t index) const {
    return names_[index];
}

bool VmDisks::read_only(uint32_t index) const {
    return read_only_[index];
}

} // namespace halcyon::worker
