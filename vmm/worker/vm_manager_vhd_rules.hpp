// The VHD verbs' pure rules (vm_manager_vhd.hpp), header-only so the host unit tests check them
// (worker_vhd_rules_test.cpp): when two names are one datastore file, which attachments of one
// file may coexist, and how an integration service's channel state reads as Hyper-V's status.
#pragma once

#include "boot/config/config.hpp"
#include "mgmt/api/vhd_host.hpp"
#include "vmm/vmbus/ic/heartbeat_ic.hpp"
#include "vmm/vmbus/ic/ic_service.hpp"

#include <string_view>

namespace halcyon::worker {

// "ds:/VMS/a.vhdx" and "ds:vms/A.VHDX" are one file: the datastore's paths, compared as exFAT
// compares names (ASCII letters without case; the API lets only printable ASCII through).
// Names that are not on the datastore (boot modules) are never the same datastore file.
[[nodiscard]] constexpr bool same_datastore_file(std::string_view a, std::string_view b) {
    if (!config::is_datastore_path(a) || !config::is_datastore_path(b))
        return false;
    a = config::datastore_path(a);
    b = config::datastore_path(b);
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        x = x >= 'A' && x <= 'Z' ? static_cast<char>(x - 'A' + 'a') : x;
        y = y >= 'A' && y <= 'Z' ? static_cast<char>(y - 'A' + 'a') : y;
        if (x != y)
            return false;
    }
    return true;
}

// Whether a file already named by a VM's disk list (`existing_read_only`) may be named once more
// (`adding_read_only`): two writers, or a writer and a reader, would corrupt the VHDX or read
// it torn. Only readers share.
[[nodiscard]] constexpr bool may_share(bool existing_read_only, bool adding_read_only) {
    return existing_read_only && adding_read_only;
}

// Hyper-V's PrimaryStatusDescription for a service of a running VM, from its channel.
[[nodiscard]] inline mgmt::IntegrationStatus integration_status(const vmm::vmbus::ic::IcStatus& s) {
    using vmm::vmbus::ic::IcState;
    switch (s.state) {
    case IcState::ready:
        // An answer overdue: the guest stopped answering (a late one puts it back to OK).
        return s.request_overdue ? mgmt::IntegrationStatus::lost_communication
                                 : mgmt::IntegrationStatus::ok;
    case IcState::incompatible:
        return mgmt::IntegrationStatus::protocol_mismatch;
    case IcState::closed:
    case IcState::negotiating:
    case IcState::no_answer:
        break;
    }
    // Not talking now: never did (no driver yet), or did and went away (driver unloaded,
    // channel faulted, guest hung).
    return s.responses > 0 ? mgmt::IntegrationStatus::lost_communication
                           : mgmt::IntegrationStatus::no_contact;
}

// The heartbeat service judges contact by its own beats: its status wins over the channel's.
[[nodiscard]] inline mgmt::IntegrationStatus
heartbeat_status(const vmm::vmbus::ic::IcStatus& channel, vmm::vmbus::ic::HeartbeatStatus beats) {
    using vmm::vmbus::ic::HeartbeatStatus;
    if (channel.state == vmm::vmbus::ic::IcState::incompatible)
        return mgmt::IntegrationStatus::protocol_mismatch;
    switch (beats) {
    case HeartbeatStatus::lost_communication:
    case HeartbeatStatus::error: // the guest answered malformed beats
        return mgmt::IntegrationStatus::lost_communication;
    case HeartbeatStatus::no_contact:
        return integration_status(channel); // never answered, or the channel went away
    case HeartbeatStatus::ok:
        break;
    }
    return mgmt::IntegrationStatus::ok;
}

} // namespace halcyon::worker
