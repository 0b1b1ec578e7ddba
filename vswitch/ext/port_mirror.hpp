// Port mirroring as a built-in capturing extension: frames a monitored port sends or receives are
// copied to the monitor port(s), the way the seeds' mirroring delivers "monitored traffic" to a
// designated virtual port. Being a capturing extension it never changes or drops the original.
#pragma once

#include "vswitch/core/port_set.hpp"
#include "vswitch/ext/extension.hpp"

#include <stdint.h>

namespace halcyon::vswitch {

enum class MirrorMode : uint8_t { none, source, destination };

class PortMirror final : public CapturingExtension {
public:
    // A port in `source` mode is monitored (both directions); copies go to every `destination`.
    void set_mode(PortId port, MirrorMode mode);
    [[nodiscard]] MirrorMode mode(PortId port) const;

    void on_ingress(const ExtensionContext& context, const Frame& frame) override;
    void on_egress(const ExtensionContext& context, const Frame& frame) override;

    [[nodiscard]] uint64_t mirrored() const { return mirrored_; }
    [[nodiscard]] uint64_t failed() const { return failed_; }

private:
    void copy_to_monitors(const ExtensionContext& context, const Frame& frame, PortId exclude);

    PortSet sources_;
    PortSet destinations_;
    uint64_t mirrored_ = 0;
    uint64_t failed_ = 0;
};

} // namespace halcyon::vswitch
