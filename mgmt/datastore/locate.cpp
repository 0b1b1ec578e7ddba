#include "mgmt/datastore/locate.hpp"

#include "lib/format/format.hpp"
#include "mgmt/datastore/partition_table.hpp"
#include "mgmt/datastore/sector_window.hpp"

namespace halcyon::datastore {
namespace {

constexpr size_t kLineBytes = 200;

bool matches(const Candidate& candidate, const config::DatastoreConfig& selector) {
    return candidate.bus == selector.bus && candidate.device_number == selector.device &&
           candidate.function == selector.function && candidate.port == selector.port;
}

void where(const Candidate& candidate, uint32_t partition, char* out, size_t size) {
    if (partition == 0)
        format::format(out, size, "%s", candidate.name);
    else
        format::format(out, size, "%s partition %u", candidate.name, partition);
}

enum class Verdict { skip, take, stop };

// What to do with the volume (if any) a probe found on one device or partition.
Verdict judge(const VolumeProbe& probe, bool automatic, const char* place, LocateLog& log) {
    char text[kLineBytes];
    if (!probe.exfat)
        return Verdict::skip;
    if (!probe.valid) {
        format::format(text, sizeof(text),
                       "datastore: %s: exFAT volume with a damaged boot "
                       "region: %s",
                       place, probe.problem);
        log.line(true, text);
        // Explicitly chosen: that is the datastore, and it must not be used. Automatic: a
        // volume whose label cannot even be read may not be a datastore at all.
        return automatic ? Verdict::skip : Verdict::stop;
    }
    if (automatic && !label_equals(probe.label, config::kDatastoreLabel)) {
        format::format(text, sizeof(text), "datastore: %s: exFAT volume \"%s\" is not labelled %s",
                       place, probe.label, config::kDatastoreLabel);
        log.line(false, text);
        return Verdict::skip;
    }
    return Verdict::take;
}

// Looks at one disk: the whole device, then its partitions. `found` is set when a volume is
// taken; an error stops the whole search.
ErrorOr<bool> search_disk(const Candidate& candidate, uint32_t index, bool automatic,
                          exfat::Allocator& allocator, LocateLog& log, Location& out) {
    char place[64];
    char text[kLineBytes];
    exfat::SectorDevice& device = *candidate.device;
    auto whole = probe_volume(device, allocator);
    if (whole.is_error()) {
        format::format(text, sizeof(text), "datastore: %s: cannot read sector 0: %s",
                       candidate.name, whole.error().message());
        log.line(true, text);
        return false;
    }
    where(candidate, 0, place, sizeof(place));
    switch (judge(whole.value(), automatic, place, log)) {
    case Verdict::take:
        out = Location{index, 0, 0, device.sector_count(), whole.value()};
        return true;
    case Verdict::stop:
        return Error(ErrorCode::corrupt, whole.value().problem);
    case Verdict::skip:
        break;
    }
    if (whole.value().exfat)
        return false; // a whole-device volume has no partition table

    auto table = read_partition_table(device);
    if (table.is_error()) {
        format::format(text, sizeof(text), "datastore: %s: partition table not searched: %s",
                       candidate.name, table.error().message());
        log.line(true, text);
        return false;
    }
    for (uint32_t i = 0; i < table.value().count; ++i) {
        const Partition& partition = table.value().partitions[i];
        SectorWindow window(device, partition.first_sector, partition.sector_count);
        auto probe = probe_volume(window, allocator);
        where(candidate, partition.number, place, sizeof(place));
        if (probe.is_error()) {
            format::format(text, sizeof(text), "datastore: %s: cannot be read: %s", place,
                           probe.error().message());
            log.line(true, text);
            continue;
        }
        switch (judge(probe.value(), automatic, place, log)) {
        case Verdict::take:
            out = Location{index, partition.number, partition.first_sector, partition.sector_count,
                           probe.value()};
            return true;
        case Verdict::stop:
            return Error(ErrorCode::corrupt, probe.value().problem);
        case Verdict::skip:
            break;
        }
    }
    return false;
}

} // namespace

ErrorOr<Location> locate_datastore(std::span<const Candidate> candidates,
                                   const config::DatastoreConfig& selector,
                                   exfat::Allocator& allocator, LocateLog& log) {
    if (selector.mode == config::DatastoreMode::none)
        return Error(ErrorCode::not_found, "none configured (datastore = none)");
    const bool automatic = selector.mode == config::DatastoreMode::automatic;
    Location location;
    for (uint32_t i = 0; i < candidates.size(); ++i) {
        if (!automatic && !matches(candidates[i], selector))
            continue;
        if (TRY(search_disk(candidates[i], i, automatic, allocator, log, location)))
            return location;
        if (!automatic)
            return Error(ErrorCode::not_found,
                         "the configured disk holds no exFAT volume (whole device or partition)");
    }
    if (automatic)
        return Error(ErrorCode::not_found, "no disk holds an exFAT volume labelled HALCYON-DS");
    return Error(ErrorCode::not_found, "no started disk has the configured PCI address (and port)");
}

} // namespace halcyon::datastore
