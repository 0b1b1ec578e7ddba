#include "vmm/worker/datastore_mount.hpp"

#include "drivers/block/core_storage.hpp"
#include "drivers/block/exfat_sector_device.hpp"
#include "lib/format/format.hpp"
#include "mgmt/datastore/locate.hpp"
#include "mgmt/datastore/sector_window.hpp"
#include "mgmt/net/core_platform.hpp"
#include "mm/heap_core.hpp"
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/tsc.hpp"
#include "vmm/core/log.hpp"

#include <new>

namespace halcyon::worker {
namespace {

namespace block = drivers::block;

// One bounce buffer for every disk: the datastore's calls are serialized. Larger means fewer
// device commands per VHDX block write.
constexpr size_t kBounceBytes = 256 * 1024;
constexpr size_t kNameBytes = 40;

class HeapAllocator final : public vhdx::Allocator {
public:
    void* allocate(size_t size, size_t align) override {
        return mm::core_heap()->allocate(size, align < 16 ? 16 : align);
    }
    void deallocate(void* pointer, size_t, size_t) override {
        (void)mm::core_heap()->deallocate(pointer);
    }
};

// exFAT timestamps from the CMOS clock (UTC, as the management network reads it).
class RtcClock final : public exfat::Clock {
public:
    exfat::DateTime now() override {
        const int64_t seconds = mgmt::net::read_rtc_unix_seconds();
        return exfat::datetime_from_unix_seconds(seconds > 0 ? seconds : 0);
    }
};

class LogLines final : public datastore::LocateLog {
public:
    void line(bool problem, const char* text) override {
        if (problem)
            log::warn("%s", text);
        else
            log::info("%s", text);
    }
};

// Storage with static lifetime for objects built once at boot (no default constructors).
template <typename T>
struct Slot {
    alignas(T) unsigned char bytes[sizeof(T)];
    T* get() { return reinterpret_cast<T*>(bytes); }
};

HeapAllocator g_allocator;
RtcClock g_clock;
block::BounceBuffer g_bounce;
Slot<block::ExfatSectorDevice> g_devices[block::DiskSet::kMaxDisks];
char g_names[block::DiskSet::kMaxDisks][kNameBytes];
Slot<datastore::SectorWindow> g_window;
Slot<datastore::Datastore> g_datastore_slot;
datastore::Datastore* g_datastore = nullptr;
bool g_attempted = false;

unsigned long long mib(uint64_t bytes) {
    return static_cast<unsigned long long>(bytes >> 20);
}

} // namespace

vhdx::Allocator& core_library_allocator() {
    return g_allocator;
}

datastore::Datastore* core_datastore() {
    return g_datastore;
}

void mount_datastore(const config::BootConfig& config) {
    if (g_attempted)
        return;
    g_attempted = true;
    if (config.datastore.mode == config::DatastoreMode::none) {
        log::info("datastore: none (datastore = none)");
        return;
    }
    block::DiskSet* disks = block::core_disks();
    drivers::DmaAllocator* dma = block::core_storage_dma();
    const size_t count = disks != nullptr ? disks->disks().size() : 0;
    if (count == 0 || dma == nullptr) {
        if (config.datastore.mode == config::DatastoreMode::device)
            log::error("datastore: not mounted: no disks were started");
        else
            log::info("datastore: none (no disks)");
        return;
    }
    if (auto allocated = g_bounce.allocate(*dma, kBounceBytes); allocated.is_error()) {
        log::error("datastore: not mounted: no DMA memory for the bounce buffer (%s)",
                   allocated.error().message());
        return;
    }

    const uint64_t start = x86::rdtsc();
    datastore::Candidate candidates[block::DiskSet::kMaxDisks];
    for (size_t i = 0; i < count; ++i) {
        const block::DiskEntry& disk = disks->disks()[i];
        auto* device = new (g_devices[i].bytes) block::ExfatSectorDevice(*disk.device, g_bounce);
        block::format_disk_name(disk.device->info().kind, disk.address, disk.port, g_names[i],
                                kNameBytes);
        candidates[i] = datastore::Candidate{device,
                                             g_names[i],
                                             disk.address.bus,
                                             disk.address.device,
                                             disk.address.function,
                                             disk.port == block::kNoPort ? config::kNoDatastorePort
                                                                         : disk.port};
    }
    LogLines lines;
    auto located = datastore::locate_datastore(std::span(candidates, count), config.datastore,
                                               g_allocator, lines);
    if (located.is_error()) {
        if (located.error().code() == ErrorCode::not_found &&
            config.datastore.mode == config::DatastoreMode::automatic)
            log::info("datastore: none (%s)", located.error().message());
        else
            log::error("datastore: not mounted: %s", located.error().message());
        return;
    }
    const datastore::Location& location = located.value();
    char place[kNameBytes + 16];
    if (location.partition == 0)
        format::format(place, sizeof(place), "%s", g_names[location.candidate]);
    else
        format::format(place, sizeof(place), "%s partition %u", g_names[location.candidate],
                       location.partition);

    exfat::SectorDevice* device = candidates[location.candidate].device;
    if (location.partition != 0)
        device = new (g_window.bytes)
            datastore::SectorWindow(*device, location.first_sector, location.sector_count);
    auto* store = new (g_datastore_slot.bytes) datastore::Datastore(*device, g_allocator, g_clock);
    if (auto mounted = store->mount(device->read_only()); mounted.is_error()) {
        // Mount validates everything before it writes anything: the volume is as it was.
        log::error("datastore: %s: exFAT volume \"%s\" not mounted (left untouched): %s", place,
                   location.probe.label, mounted.error().message());
        return;
    }
    g_datastore = store;
    const exfat::VolumeInfo& info = store->info();
    const uint64_t elapsed = x86::rdtsc() - start;
    const uint64_t hz = x86::tsc::frequency_hz();
    log::info("datastore: %s exFAT %s, %llu MiB, %llu MiB free%s (mounted in %llu ms)", place,
              info.label[0] != '\0' ? info.label : "(no label)", mib(store->size_bytes()),
              mib(store->free_bytes()), info.read_only ? ", read-only" : "",
              static_cast<unsigned long long>(hz != 0 ? elapsed / (hz / 1000) : 0));
    if (info.was_dirty) {
        const exfat::CheckReport& check = info.check;
        log::warn("datastore: the volume was not cleanly unmounted; %s: %llu leaked "
                  "clusters, %u over-long chains, %u stray entries, %u duplicate entries",
                  check.repaired ? "repaired" : "found (read-only, not repaired)",
                  static_cast<unsigned long long>(check.leaked_clusters), check.excess_chains,
                  check.stray_entries, check.duplicate_entries);
    }
}

} // namespace halcyon::worker
