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

namespace {

[[nodiscard]] acl::Direction acl_direction(vswitch::Direction direction) {
    return direction == vswitch::Direction::from_port ? acl::Direction::outbound
                                                      : acl::Direction::inbound;
}

// The full evaluation, out of the burst loop (a cache miss, a stateful flow, a frame that is not
// IPv4).
[[gnu::noinline]] bool evaluated(PortAcl& acl, const Frame& frame, Direction direction,
                                 uint64_t now_ns) {
    return acl.evaluate(packet_facts_of(frame, direction), now_ns).allowed;
}

// The verdict for one frame: from the classification cache when its key (narrow when the rules
// allow, built straight from the frame) is there, else from evaluate().
[[nodiscard, gnu::always_inline]] inline bool allowed(PortAcl& acl, const NarrowMask& narrow,
                                                      const Frame& frame, Direction direction,
                                                      uint64_t now_ns) {
    CacheKey key;
    Verdict verdict;
    if (narrow.usable) {
        if (narrow_cache_key_of(frame, narrow, key) &&
            acl.evaluate_cached_narrow(key, key.hash(), frame.length, verdict)) [[likely]]
            return verdict.allowed;
    } else if (ipv4_cache_key_of(frame, direction, key) &&
               acl.evaluate_cached(key, key.hash(), frame.length, verdict)) [[likely]] {
        return verdict.allowed;
    }
    return evaluated(acl, frame, direction, now_ns);
}

// allowed() for every frame of a burst; the refused ones as a mask (PortAclHook::check_burst()).
// `narrow_keys` is narrow.usable as a constant, so each loop holds only its own kind of key.
template <bool narrow_keys>
[[nodiscard]] uint64_t refused_of(PortAcl& acl, const NarrowMask& narrow, Frame* const* frames,
                                  uint32_t count, Direction direction, uint64_t now_ns,
                                  HookResult* results) {
    uint64_t refused = 0;
    for (uint32_t i = 0; i < count; ++i) {
        const Frame& frame = *frames[i];
        CacheKey key;
        Verdict verdict;
        bool allow;
        if (narrow_keys ? narrow_cache_key_of(frame, narrow, key) &&
                              acl.evaluate_cached_narrow(key, key.hash(), frame.length, verdict)
                        : ipv4_cache_key_of(frame, direction, key) &&
                              acl.evaluate_cached(key, key.hash(), frame.length, verdict))
            [[likely]]
            allow = verdict.allowed;
        else
            allow = evaluated(acl, frame, direction, now_ns);
        if (!allow) {
            results[i] = HookResult::drop(DropReason::acl_deny);
            refused |= uint64_t{1} << i;
        }
    }
    return refused;
}

// refused_of() for an ACL without a classification cache: evaluate() every frame.
[[nodiscard]] uint64_t refused_uncached(PortAcl& acl, Frame* const* frames, uint32_t count,
                                        Direction direction, uint64_t now_ns, HookResult* results) {
    uint64_t refused = 0;
    for (uint32_t i = 0; i < count; ++i) {
        if (evaluated(acl, *frames[i], direction, now_ns))
            continue;
        results[i] = HookResult::drop(DropReason::acl_deny);
        refused |= uint64_t{1} << i;
    }
    return refused;
}

} // namespace

HookResult PortAclHook::check(const HookContext& context, const Frame& frame) {
    PortAcl* acl = acl_of(context.port);
    if (!acl)
        return HookResult::allow();
    const Direction direction = acl_direction(context.direction);
    if (!acl->classification_cache_enabled())
        return evaluated(*acl, frame, direction, context.now_ns)
                   ? HookResult::allow()
                   : HookResult::drop(DropReason::acl_deny);
    return allowed(*acl, acl->narrow_mask(direction_slot(direction)), frame, direction,
                   context.now_ns)
               ? HookResult::allow()
               : HookResult::drop(DropReason::acl_deny);
}

uint64_t PortAclHook::check_burst(const HookContext& context, Frame* const* frames, uint32_t count,
                                  HookResult* results) {
    PortAcl* acl = acl_of(context.port);
    if (!acl)
        return 0;
    const Direction direction = acl_direction(context.direction);
    if (!acl->classification_cache_enabled())
        return refused_uncached(*acl, frames, count, direction, context.now_ns, results);
    // A copy: the rules cannot change while the burst is checked, and a local keeps the masks
    // in registers.
    const NarrowMask narrow = acl->narrow_mask(direction_slot(direction));
    if (narrow.usable)
        return refused_of<true>(*acl, narrow, frames, count, direction, context.now_ns, results);
    return refused_of<false>(*acl, narrow, frames, count, direction, context.now_ns, results);
}

} // namespace halcyon::vswitch::acl
