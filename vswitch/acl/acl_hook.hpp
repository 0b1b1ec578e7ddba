// Plugs port ACLs into the switch pipeline (vswitch/core/hooks.hpp): one PortAcl per port, looked
// up by the port the hook runs for. A port without an ACL passes everything.
#pragma once

#include "vswitch/acl/port_acl.hpp"
#include "vswitch/core/hooks.hpp"
#include "vswitch/core/port_set.hpp"

#include <array>

namespace halcyon::vswitch::acl {

class PortAclHook final : public AclHook {
public:
    // Attaches `acl` (owned by the caller, outliving the hook) to `port`; nullptr detaches.
    [[nodiscard]] ErrorOr<void> attach(PortId port, PortAcl* acl);
    [[nodiscard]] PortAcl* acl_of(PortId port) const {
        return port < kMaxPorts ? acls_[port] : nullptr;
    }

    // from_port is the VM's outbound traffic, to_port its inbound traffic.
    [[nodiscard]] HookResult check(const HookContext& context, const Frame& frame) override;
    // The port's ACL looked up once; each IPv4 frame whose classification is cached is decided
    // from its cache key alone (PortAcl::evaluate_cached()), the rest by PortAcl::evaluate().
    uint64_t check_burst(const HookContext& context, Frame* const* frames, uint32_t count,
                         HookResult* results) override;
    // Only ports with an ACL: the switch skips the others without calling check().
    [[nodiscard]] bool inspects(PortId port) const override { return acl_of(port) != nullptr; }

private:
    std::array<PortAcl*, kMaxPorts> acls_{};
};

} // namespace halcyon::vswitch::acl
