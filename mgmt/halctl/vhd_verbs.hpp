// halctl's storage and integration-service verbs (issue #7 item 6), Hyper-V's cmdlets:
//   New-VHD [-Path] ds:/PATH.vhdx -SizeBytes SIZE [-Dynamic | -Fixed] [-BlockSizeBytes SIZE]
//           [-LogicalSectorSizeBytes 512|4096] [-PhysicalSectorSizeBytes 512|4096]
//   Get-VHD [-Path] PATH                       Resize-VHD [-Path] PATH -SizeBytes SIZE [-Passthru]
//   Get-VMHardDiskDrive [-VMName] NAME
//   Add-VMHardDiskDrive [-VMName] NAME -Path PATH [-ReadOnly] [-Passthru]
//   Remove-VMHardDiskDrive [-VMName] NAME -ControllerLocation LUN
//   Get-VMIntegrationService [-VMName] NAME [-Name SERVICE]
// The request bodies, targets and output formats are here so the unit tests check them without
// a server (mgmt_halctl_vhd_test.cpp).
#pragma once

#include "mgmt/api/json_reader.hpp"
#include "mgmt/halctl/arguments.hpp"

#include <string>
#include <vector>

namespace halcyon::halctl {

// "/v1/vhds/vms/web/disk.vhdx" for "ds:/vms/web/disk.vhdx" (or "vms/web/disk.vhdx").
[[nodiscard]] std::string vhd_target(const std::string& path);

// The bodies of New-VHD, Resize-VHD and Add-VMHardDiskDrive; `error` is set for bad values.
[[nodiscard]] std::string new_vhd_body(const Invocation& invocation, std::string& error);
[[nodiscard]] std::string resize_vhd_body(const Invocation& invocation, std::string& error);
[[nodiscard]] std::string add_drive_body(const Invocation& invocation);

// Get-VHD's "Name : value" list, the drive table and the integration-service table.
[[nodiscard]] std::string format_vhd(mgmt::JsonValue vhd);
[[nodiscard]] std::string format_drive_table(const std::vector<mgmt::JsonValue>& drives);
[[nodiscard]] std::string format_integration_table(const std::vector<mgmt::JsonValue>& services);

} // namespace halcyon::halctl
