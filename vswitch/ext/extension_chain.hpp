// The ordered chain of extensions attached to one switch (per-switch, as the seeds' "extension
// uniqueness" requires). Fixed capacity; attaching never allocates.
#pragma once

#include "lib/base/error_or.hpp"
#include "vswitch/ext/extension.hpp"

#include <array>
#include <stdint.h>

namespace halcyon::vswitch {

inline constexpr uint32_t kMaxExtensions = 16;

class ExtensionChain {
public:
    [[nodiscard]] ErrorOr<void> attach_capturing(CapturingExtension& extension);
    [[nodiscard]] ErrorOr<void> attach_filtering(FilteringExtension& extension);
    // Fails with already_exists if a forwarding extension is attached: only one may decide.
    [[nodiscard]] ErrorOr<void> attach_forwarding(ForwardingExtension& extension);
    // Removes an attached extension (any kind); not_found if it is not in the chain.
    [[nodiscard]] ErrorOr<void> detach(const void* extension);

    [[nodiscard]] ForwardingExtension* forwarding() const { return forwarding_; }
    [[nodiscard]] uint32_t size() const { return count_; }
    [[nodiscard]] bool empty() const { return count_ == 0; }

    // Runs the ingress side in attach order. Returns drop as soon as a filter drops; `modified` if
    // any filter changed the frame.
    [[nodiscard]] FilterVerdict run_ingress(const ExtensionContext& context, Frame& frame) const;
    // Runs the egress side in reverse attach order.
    [[nodiscard]] FilterVerdict run_egress(const ExtensionContext& context, Frame& frame) const;

private:
    enum class Kind : uint8_t { capturing, filtering };
    struct Entry {
        Kind kind;
        CapturingExtension* capturing;
        FilteringExtension* filtering;
    };

    [[nodiscard]] ErrorOr<void> append(const Entry& entry);

    std::array<Entry, kMaxExtensions> entries_{};
    uint32_t count_ = 0;
    ForwardingExtension* forwarding_ = nullptr;
};

} // namespace halcyon::vswitch
