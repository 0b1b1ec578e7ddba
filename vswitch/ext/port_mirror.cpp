#include "vswitch/ext/port_mirror.hpp"

namespace halcyon::vswitch {

void PortMirror::set_mode(PortId port, MirrorMode mode) {
    sources_.remove(port);
    destinations_.remove(port);
    if (mode == MirrorMode::source)
        sources_.add(port);
    else if (mode == MirrorMode::destination)
        destinations_.add(port);
}

MirrorMode PortMirror::mode(PortId port) const {
    if (sources_.contains(port))
        return MirrorMode::source;
    if (destinations_.contains(port))
        return MirrorMode::destination;
    return MirrorMode::none;
}

void PortMirror::copy_to_monitors(const ExtensionContext& context, const Frame& frame,
                                  PortId exclude) {
    if (context.services == nullptr)
        return;
    PortSet monitors = destinations_;
    // A monitor that is itself the frame's source or destination already sees it.
    monitors.remove(exclude);
    monitors.remove(context.ingress_port);
    while (!monitors.empty()) {
        PortId monitor = monitors.pop();
        if (context.services->inject_copy(monitor, frame))
            ++mirrored_;
        else
            ++failed_;
    }
}

void PortMirror::on_ingress(const ExtensionContext& context, const Frame& frame) {
    if (sources_.contains(context.ingress_port))
        copy_to_monitors(context, frame, kNoPort);
}

void PortMirror::on_egress(const ExtensionContext& context, const Frame& frame) {
    // Traffic to a monitored port; skip frames whose source is monitored too, already copied on
    // ingress (one copy per frame, not two).
    if (sources_.contains(context.egress_port) && !sources_.contains(context.ingress_port))
        copy_to_monitors(context, frame, context.egress_port);
}

} // namespace halcyon::vswitch
