// The pipeline's hooks for the switch's policy components: port ACLs (vswitch/acl/), QoS and
// metering (vswitch/qos/), and NVGRE network virtualization (vswitch/nvgre/). The switch calls them
// at fixed points (see the order below); a component implements the interface and is attached with
// Switch::set_acl_hook / set_qos_hook / set_nvgre_hook. With nothing attached every hook passes.
//
// Per frame, the pipeline runs:
//   parse -> ingress VLAN classification (tag stripped, frame.vlan_id set) -> protection guards
//   -> storm limit -> MAC learning -> ingress extensions (capture, filter)
//   -> AclHook::check(from_port) -> QosHook::ingress
//   -> NvgreHook::from_provider (frames received on an external port)
//      or NvgreHook::from_customer (frames from a port with a VSID)
//   -> forwarding decision (forwarding extension or MAC table) -> per destination port:
//      egress extensions -> AclHook::check(to_port) -> egress VLAN tagging -> MTU check
//      -> QosHook::egress -> output.
// What every hook sees: frame.headers parsed (offsets from frame.data()), VLAN tags already
// stripped (frame.vlan_id / frame.priority carry them), frame.vsid the frame's virtual subnet (0 if
// none), frame.ingress_port the port the frame entered on.
//
// A burst goes through this order stage by stage (admission and learning, the ingress hooks,
// forwarding, then egress once per destination port) rather than frame by frame. Each hook sees
// the burst's frames in arrival order and each port receives them in arrival order, but the calls
// of different stages (the ingress ACL of a later frame, the egress ACL of an earlier one) are not
// interleaved frame by frame. With any extension attached the switch runs the stages frame by
// frame instead, as extensions may observe that order.
#pragma once

#include "vswitch/packet/drop_reason.hpp"
#include "vswitch/packet/frame.hpp"

#include <stdint.h>

namespace halcyon::vswitch {

// Direction as seen from a port, like Hyper-V port ACLs: `from_port` is traffic the port sends
// into the switch (the VM's outbound), `to_port` is traffic the switch delivers to it (inbound).
enum class Direction : uint8_t { from_port, to_port };

struct HookContext {
    PortId port = kNoPort;         // the port the hook runs for (source or destination)
    PortId ingress_port = kNoPort; // where the frame entered the switch
    Direction direction = Direction::from_port;
    uint64_t now_ns = 0; // the caller's clock, as passed to Switch::process()
};

struct HookResult {
    bool pass = true;
    DropReason reason = DropReason::acl_deny; // meaningful only when !pass

    [[nodiscard]] static constexpr HookResult allow() { return {true, DropReason::acl_deny}; }
    [[nodiscard]] static constexpr HookResult drop(DropReason why) { return {false, why}; }
};

// Port ACLs. check() runs once at ingress for the source port (Direction::from_port) and once per
// destination port before delivery (Direction::to_port). Metering and stateful flow tracking are
// the hook's own state. Drops should use acl_deny / acl_stateful_deny / acl_meter_exceeded.
class AclHook {
public:
    [[nodiscard]] virtual HookResult check(const HookContext& context, const Frame& frame) = 0;
    // check() for each of `count` frames, in order, all for context.port in context.direction
    // at context.now_ns; each frame's own ingress_port stands for context.ingress_port. Returns
    // the frames that did not pass as a mask (bit i for frames[i]; count <= 64) and sets
    // results[i] for exactly those. The switch calls this for a burst's frames to one port, so an
    // implementation can look up the port's state once, and a burst that passes whole costs the
    // switch one test. The default calls check() per frame.
    virtual uint64_t check_burst(const HookContext& context, Frame* const* frames, uint32_t count,
                                 HookResult* results) {
        HookContext each = context;
        uint64_t refused = 0;
        for (uint32_t i = 0; i < count; ++i) {
            each.ingress_port = frames[i]->ingress_port;
            const HookResult result = check(each, *frames[i]);
            if (!result.pass) {
                results[i] = result;
                refused |= uint64_t{1} << i;
            }
        }
        return refused;
    }
    // False if check() would pass every frame for `port` (in both directions) without recording
    // anything, e.g. because the port has no ACL: the switch then skips the calls for that port.
    // Asked once per burst (ingress) and once per destination port (egress).
    [[nodiscard]] virtual bool inspects(PortId port) const {
        (void)port;
        return true;
    }

protected:
    ~AclHook() = default;
};

enum class QosAction : uint8_t {
    pass,   // deliver now
    drop,   // drop, counted under `reason`
    queued, // the hook kept the frame (a scheduler); it hands it back later with
            // Switch::transmit(port, frame), which delivers and counts it
};

struct QosResult {
    QosAction action = QosAction::pass;
    DropReason reason = DropReason::qos_drop;
};

// QoS and metering. ingress() polices what a port sends (maximum bandwidth, metering of the
// source); egress() runs last per destination, with the frame exactly as it will leave the port
// (VLAN tag included), so byte counts match the wire.
class QosHook {
public:
    [[nodiscard]] virtual HookResult ingress(const HookContext& context, const Frame& frame) = 0;
    [[nodiscard]] virtual QosResult egress(const HookContext& context, Frame& frame) = 0;

protected:
    ~QosHook() = default;
};

enum class NvgreAction : uint8_t {
    not_nvgre,     // not the hook's business: switch the frame normally
    forward_local, // switch the (possibly rewritten) frame to local ports of VSID frame.vsid
    to_provider,   // the frame is now the encapsulated PA frame: send it out the external port(s)
                   // in VLAN frame.vlan_id (set it; 0 = untagged)
    reply,         // the frame was rewritten into an answer (ARP from policy): send it back out
                   // the ingress port
    drop,          // drop, counted under `reason` (nvgre_* reasons)
};

struct NvgreResult {
    NvgreAction action = NvgreAction::not_nvgre;
    DropReason reason = DropReason::nvgre_no_policy;
};

// NVGRE network virtualization. The frame may be rewritten in place (push_front/pull_front use the
// frame's headroom); after a rewrite frame.headers must match the new bytes (re-run
// parse_headers(), or update them as encapsulate() does).
class NvgreHook {
public:
    // Every frame received on an external port. For NVGRE (GRE, K bit, protocol 0x6558):
    // decapsulate, check the VSID and the CA/PA pair against policy, set frame.vsid and
    // frame.vlan_id = 0, and return forward_local; or drop. Anything else: not_nvgre.
    [[nodiscard]] virtual NvgreResult from_provider(const HookContext& context, Frame& frame) = 0;
    // Every frame from a port bound to a virtual subnet (PortConfig::vsid != 0; frame.vsid is
    // that VSID). Decide: forward_local (destination CA on this host, possibly after routing to
    // another VSID of the routing domain: rewrite the MACs and set frame.vsid), to_provider
    // (encapsulated), reply (ARP answered from policy), or drop.
    [[nodiscard]] virtual NvgreResult from_customer(const HookContext& context, Frame& frame) = 0;

    // The same for every frame of a burst received on one port (results[i] for frames[i], in
    // order), so an implementation can resolve what the frames share (the virtual subnet, the
    // sender, a peer) once per burst. The defaults call the per-frame functions in order.
    virtual void from_provider_burst(const HookContext& context, Frame* const* frames,
                                     uint32_t count, NvgreResult* results) {
        for (uint32_t i = 0; i < count; ++i)
            results[i] = from_provider(context, *frames[i]);
    }
    virtual void from_customer_burst(const HookContext& context, Frame* const* frames,
                                     uint32_t count, NvgreResult* results) {
        for (uint32_t i = 0; i < count; ++i)
            results[i] = from_customer(context, *frames[i]);
    }

protected:
    ~NvgreHook() = default;
};

} // namespace halcyon::vswitch
