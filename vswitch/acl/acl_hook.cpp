#include "vswitch/acl/acl_hook.hpp"

#include "vswitch/acl/frame_facts.hpp"

namespace halcyon::vswitch::acl {

ErrorOr<void> PortAclHook::attach(PortId port, PortAcl* acl) {
    if (port >= kMaxPorts)
        return Error(ErrorCode::out_of_range,
                     "ACL attached to a port id beyond the switch's ports");
    acls_[port] = acl;
    return {};
}

HookResult PortAclHook::check(const HookContext& context, const Frame& frame) {
    PortAcl* acl = acl_of(context.port);
    if (!acl)
        return HookResult::allow();
    const acl::Direction direction = context.direction == vswitch::Direction::from_port
                                         ? acl::Direction::outbound
                                         : acl::Direction::inbound;
    const Verdict verdict = acl->evaluate(packet_facts_of(frame, direction), context.now_ns);
    return verdict.allowed ? HookResult::allow() : HookResult::drop(DropReason::acl_deny);
}

} // namespace halcyon::vswitch::acl
