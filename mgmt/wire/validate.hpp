// What the API checks before it calls the host (mgmt/api/vm_json.hpp, vhd_json.hpp), checked
// again by the core for requests from the management partition: the VM manager relies on specs
// within these rules (vm_host.hpp: "the spec is already validated"), and the partition is not
// trusted to have applied them.
#pragma once

#include "lib/base/error_or.hpp"
#include "mgmt/api/vhd_host.hpp"
#include "mgmt/api/vm_host.hpp"

#include <string_view>

namespace halcyon::mgmt::wire {

[[nodiscard]] ErrorOr<void> check_vm_spec(const VmSpec& spec);
[[nodiscard]] ErrorOr<void> check_vm_changes(const VmChanges& changes);
// A file the host stores (write_file) or a VHD path (canonical "ds:/..."): valid_file_path.
[[nodiscard]] ErrorOr<void> check_file_path(std::string_view path);
[[nodiscard]] ErrorOr<void> check_vhd_spec(const VhdSpec& spec);

} // namespace halcyon::mgmt::wire
