// Which disk and partition hold the datastore, by halcyon.cfg's `datastore` key
// (docs/datastore.md, "Finding the datastore"):
//
//   auto       the first disk, in probe order, whose whole device or one of whose partitions
//              (GPT or MBR, in table order) holds a valid exFAT volume labelled HALCYON-DS
//              (case-insensitive). A HALCYON-DS volume whose boot region is damaged stops the
//              search with an error rather than falling through to another disk.
//   bb:dd.f[/P]  that disk (AHCI port P): its whole device when it holds an exFAT volume, else
//              its first partition that does, whatever the label.
//   none       no datastore.
//
// Only sector 0, partition tables, boot regions and the first root directory cluster are read;
// nothing is ever written. Every disk or partition passed over for a reason worth knowing (an
// unreadable table, a damaged exFAT boot region) is reported through `log`.
#pragma once

#include "boot/config/config.hpp"
#include "lib/base/error_or.hpp"
#include "mgmt/datastore/exfat/memory.hpp"
#include "mgmt/datastore/exfat/sector_device.hpp"
#include "mgmt/datastore/volume_probe.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::datastore {

struct Candidate {
    exfat::SectorDevice* device = nullptr;
    const char* name = ""; // "nvme 00:04.0", for messages
    uint8_t bus = 0;
    uint8_t device_number = 0;
    uint8_t function = 0;
    uint32_t port = config::kNoDatastorePort; // AHCI port, else kNoDatastorePort
};

struct Location {
    uint32_t candidate = 0;
    uint32_t partition = 0; // 0: the whole device, else the table's 1-based number
    uint64_t first_sector = 0;
    uint64_t sector_count = 0;
    VolumeProbe probe;
};

class LocateLog {
public:
    // `problem`: worth a warning rather than information.
    virtual void line(bool problem, const char* text) = 0;

protected:
    ~LocateLog() = default;
};

// not_found when there is nothing to mount (with a message saying what was looked for); corrupt
// when the chosen volume's boot region is damaged (the message is the validation's).
[[nodiscard]] ErrorOr<Location> locate_datastore(std::span<const Candidate> candidates,
                                                 const config::DatastoreConfig& selector,
                                                 exfat::Allocator& allocator, LocateLog& log);

} // namespace halcyon::datastore
