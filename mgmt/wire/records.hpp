// The value types of VmHost and VhdHost on the wire, field by field in declaration order
// (docs/management-wire.md lists them). Readers check every bound; a reader that failed leaves
// the record partly filled, and the caller's WireReader::finish() reports why.
#pragma once

#include "mgmt/api/vhd_host.hpp"
#include "mgmt/api/vm_host.hpp"
#include "mgmt/wire/codec.hpp"

namespace halcyon::mgmt::wire {

void write_record(WireWriter& out, const VmDisk& disk);
void write_record(WireWriter& out, const VmSpec& spec);
void write_record(WireWriter& out, const VmChanges& changes);
void write_record(WireWriter& out, const VmGuestInfo& guest);
void write_record(WireWriter& out, const VmInfo& info);
void write_record(WireWriter& out, const HostInfo& info);
void write_record(WireWriter& out, const VhdSpec& spec);
void write_record(WireWriter& out, const VhdAttachment& attachment);
void write_record(WireWriter& out, const VhdInfo& info);
void write_record(WireWriter& out, const VmHardDiskDrive& drive);
void write_record(WireWriter& out, const IntegrationService& service);

void read_record(WireReader& in, VmDisk& disk);
void read_record(WireReader& in, VmSpec& spec);
void read_record(WireReader& in, VmChanges& changes);
void read_record(WireReader& in, VmGuestInfo& guest);
void read_record(WireReader& in, VmInfo& info);
void read_record(WireReader& in, HostInfo& info);
void read_record(WireReader& in, VhdSpec& spec);
void read_record(WireReader& in, VhdAttachment& attachment);
void read_record(WireReader& in, VhdInfo& info);
void read_record(WireReader& in, VmHardDiskDrive& drive);
void read_record(WireReader& in, IntegrationService& service);

} // namespace halcyon::mgmt::wire
