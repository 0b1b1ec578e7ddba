// The switch's extension interface: the seeds' three kinds of extensions, as a stable C++ ABI.
//   capturing  - sees every frame at ingress and at egress, cannot change or drop it (sFlow-style
//                monitoring; port mirroring is one, see port_mirror.hpp);
//   filtering  - may drop or modify frames at ingress and at egress (security filters);
//   forwarding - decides the destination ports instead of the MAC table; at most one per switch.
// Extensions run in the order attached on ingress and in reverse order on egress (a stack, as the
// seeds' ingress/egress picture has it). They are called with the frame's VLAN tags stripped and
// headers parsed; a filter that rewrites bytes returns `modified` so the switch re-parses.
#pragma once

#include "vswitch/core/port_set.hpp"
#include "vswitch/packet/frame.hpp"

#include <stdint.h>

namespace halcyon::vswitch {

// What the switch offers extensions.
class ExtensionServices {
public:
    // Delivers a copy of `frame` to `port`, outside normal forwarding (mirroring, injection). The
    // copy gets the port's egress VLAN treatment. False if the copy could not be made or queued.
    virtual bool inject_copy(PortId port, const Frame& frame) = 0;

protected:
    ~ExtensionServices() = default;
};

struct ExtensionContext {
    PortId ingress_port = kNoPort;
    PortId egress_port = kNoPort; // kNoPort on the ingress side
    uint64_t now_ns = 0;
    ExtensionServices* services = nullptr;
};

class CapturingExtension {
public:
    virtual void on_ingress(const ExtensionContext& context, const Frame& frame) = 0;
    virtual void on_egress(const ExtensionContext& context, const Frame& frame) = 0;

protected:
    ~CapturingExtension() = default;
};

enum class FilterVerdict : uint8_t { pass, modified, drop };

class FilteringExtension {
public:
    [[nodiscard]] virtual FilterVerdict on_ingress(const ExtensionContext& context,
                                                   Frame& frame) = 0;
    [[nodiscard]] virtual FilterVerdict on_egress(const ExtensionContext& context,
                                                  Frame& frame) = 0;

protected:
    ~FilteringExtension() = default;
};

struct ForwardingDecision {
    enum class Kind : uint8_t {
        default_switching, // let the switch's MAC table decide
        ports,             // deliver to `ports` (intersected with the ports the VLAN/PVLAN/VSID
                           // rules allow: an extension cannot break isolation)
        drop,
    };
    Kind kind = Kind::default_switching;
    PortSet ports;
};

class ForwardingExtension {
public:
    // `eligible`: the ports this frame may legally reach (its VLAN/PVLAN/VSID domain, minus the
    // ingress port).
    [[nodiscard]] virtual ForwardingDecision forward(const ExtensionContext& context,
                                                     const Frame& frame, PortSet eligible) = 0;

protected:
    ~ForwardingExtension() = default;
};

} // namespace halcyon::vswitch
