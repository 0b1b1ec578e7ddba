#include "mgmt/wire/records.hpp"

namespace halcyon::mgmt::wire {

namespace {

// Presence byte + value.
template <typename T, typename Write>
void write_optional(WireWriter& out, const std::optional<T>& value, Write write) {
    out.boolean(value.has_value());
    if (value)
        write(*value);
}

// A disk list: the count as it is (a reader refuses more than kVmDisksMax), then the entries
// that exist.
void write_disks(WireWriter& out, uint32_t count, const VmDisk (&disks)[kVmDisksMax]) {
    out.u32(count);
    for (uint32_t i = 0; i < count && i < kVmDisksMax; ++i)
        write_record(out, disks[i]);
}

uint32_t read_disks(WireReader& in, VmDisk (&disks)[kVmDisksMax]) {
    uint32_t count = in.count(kVmDisksMax);
    for (uint32_t i = 0; i < count; ++i)
        read_record(in, disks[i]);
    return count;
}

template <size_t N>
FixedString<N> read_string(WireReader& in) {
    FixedString<N> text;
    in.string(text);
    return text;
}

} // namespace

void write_record(WireWriter& out, const VmDisk& disk) {
    out.string(disk.path);
    out.boolean(disk.read_only);
}

void read_record(WireReader& in, VmDisk& disk) {
    in.string(disk.path);
    disk.read_only = in.boolean();
}

void write_record(WireWriter& out, const VmSpec& spec) {
    out.string(spec.name);
    out.u64(spec.memory_bytes);
    out.u32(spec.vcpus);
    out.string(spec.kernel);
    out.string(spec.initrd);
    out.string(spec.command_line);
    write_disks(out, spec.disk_count, spec.disks);
    out.boolean(spec.vmbus);
}

void read_record(WireReader& in, VmSpec& spec) {
    in.string(spec.name);
    spec.memory_bytes = in.u64();
    spec.vcpus = in.u32();
    in.string(spec.kernel);
    in.string(spec.initrd);
    in.string(spec.command_line);
    spec.disk_count = read_disks(in, spec.disks);
    spec.vmbus = in.boolean();
}

void write_record(WireWriter& out, const VmChanges& changes) {
    write_optional(out, changes.memory_bytes, [&](uint64_t value) { out.u64(value); });
    write_optional(out, changes.vcpus, [&](uint32_t value) { out.u32(value); });
    write_optional(out, changes.kernel, [&](const FilePath& value) { out.string(value); });
    write_optional(out, changes.initrd, [&](const FilePath& value) { out.string(value); });
    write_optional(out, changes.command_line, [&](const CommandLine& value) { out.string(value); });
    out.boolean(changes.disks_present);
    write_disks(out, changes.disk_count, changes.disks);
    write_optional(out, changes.vmbus, [&](bool value) { out.boolean(value); });
}

void read_record(WireReader& in, VmChanges& changes) {
    in.optional(changes.memory_bytes, [](WireReader& r) { return r.u64(); });
    in.optional(changes.vcpus, [](WireReader& r) { return r.u32(); });
    in.optional(changes.kernel, read_string<kFilePathMax>);
    in.optional(changes.initrd, read_string<kFilePathMax>);
    in.optional(changes.command_line, read_string<kCommandLineMax>);
    changes.disks_present = in.boolean();
    changes.disk_count = read_disks(in, changes.disks);
    in.optional(changes.vmbus, [](WireReader& r) { return r.boolean(); });
}

void write_record(WireWriter& out, const VmGuestInfo& guest) {
    out.string(guest.heartbeat);
    out.string(guest.computer_name);
    out.string(guest.ipv4_addresses);
    out.string(guest.ipv6_addresses);
}

void read_record(WireReader& in, VmGuestInfo& guest) {
    in.string(guest.heartbeat);
    in.string(guest.computer_name);
    in.string(guest.ipv4_addresses);
    in.string(guest.ipv6_addresses);
}

void write_record(WireWriter& out, const VmInfo& info) {
    write_record(out, info.spec);
    out.u8(uint8_t(info.state));
    out.u64(info.uptime_ms);
    write_record(out, info.guest);
    out.string(info.status);
}

void read_record(WireReader& in, VmInfo& info) {
    read_record(in, info.spec);
    info.state = in.enumeration(VmState::crashed);
    info.uptime_ms = in.u64();
    read_record(in, info.guest);
    in.string(info.status);
}

void write_record(WireWriter& out, const HostInfo& info) {
    out.string(info.name);
    out.string(info.version);
    out.u32(info.logical_processors);
    out.u64(info.memory_bytes);
    out.u64(info.memory_free_bytes);
    out.u64(info.uptime_ms);
    out.string(info.virtualization);
}

void read_record(WireReader& in, HostInfo& info) {
    in.string(info.name);
    in.string(info.version);
    info.logical_processors = in.u32();
    info.memory_bytes = in.u64();
    info.memory_free_bytes = in.u64();
    info.uptime_ms = in.u64();
    in.string(info.virtualization);
}

void write_record(WireWriter& out, const VhdSpec& spec) {
    out.string(spec.path);
    out.u64(spec.size_bytes);
    out.u8(uint8_t(spec.type));
    out.u32(spec.block_size_bytes);
    out.u32(spec.logical_sector_bytes);
    out.u32(spec.physical_sector_bytes);
}

void read_record(WireReader& in, VhdSpec& spec) {
    in.string(spec.path);
    spec.size_bytes = in.u64();
    spec.type = in.enumeration(VhdType::differencing);
    spec.block_size_bytes = in.u32();
    spec.logical_sector_bytes = in.u32();
    spec.physical_sector_bytes = in.u32();
}

void write_record(WireWriter& out, const VhdAttachment& attachment) {
    out.string(attachment.vm);
    out.u32(attachment.lun);
    out.boolean(attachment.read_only);
    out.boolean(attachment.online);
}

void read_record(WireReader& in, VhdAttachment& attachment) {
    in.string(attachment.vm);
    attachment.lun = in.u32();
    attachment.read_only = in.boolean();
    attachment.online = in.boolean();
}

void write_record(WireWriter& out, const VhdInfo& info) {
    out.string(info.path);
    out.u8(uint8_t(info.type));
    out.u64(info.size_bytes);
    out.u64(info.file_size_bytes);
    out.u32(info.block_size_bytes);
    out.u32(info.logical_sector_bytes);
    out.u32(info.physical_sector_bytes);
    out.u64(info.blocks);
    out.u64(info.allocated_blocks);
    out.string(info.disk_id);
    // attachment_count may exceed the array (the VMs past it are not listed): it travels as it
    // is, followed by the listed entries only.
    out.u32(info.attachment_count);
    for (uint32_t i = 0; i < info.attachment_count && i < kVhdAttachmentsMax; ++i)
        write_record(out, info.attachments[i]);
}

void read_record(WireReader& in, VhdInfo& info) {
    in.string(info.path);
    info.type = in.enumeration(VhdType::differencing);
    info.size_bytes = in.u64();
    info.file_size_bytes = in.u64();
    info.block_size_bytes = in.u32();
    info.logical_sector_bytes = in.u32();
    info.physical_sector_bytes = in.u32();
    info.blocks = in.u64();
    info.allocated_blocks = in.u64();
    in.string(info.disk_id);
    info.attachment_count = in.u32();
    for (uint32_t i = 0; i < info.attachment_count && i < kVhdAttachmentsMax; ++i)
        read_record(in, info.attachments[i]);
}

void write_record(WireWriter& out, const VmHardDiskDrive& drive) {
    out.u32(drive.lun);
    out.string(drive.path);
    out.boolean(drive.read_only);
    out.boolean(drive.online);
}

void read_record(WireReader& in, VmHardDiskDrive& drive) {
    drive.lun = in.u32();
    in.string(drive.path);
    drive.read_only = in.boolean();
    drive.online = in.boolean();
}

void write_record(WireWriter& out, const IntegrationService& service) {
    out.string(service.name);
    out.boolean(service.enabled);
    out.u8(uint8_t(service.status));
    out.u16(service.version_major);
    out.u16(service.version_minor);
    out.string(service.detail);
}

void read_record(WireReader& in, IntegrationService& service) {
    in.string(service.name);
    service.enabled = in.boolean();
    service.status = in.enumeration(IntegrationStatus::protocol_mismatch);
    service.version_major = in.u16();
    service.version_minor = in.u16();
    in.string(service.detail);
}

} // namespace halcyon::mgmt::wire
