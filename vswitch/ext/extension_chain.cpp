#include "vswitch/ext/extension_chain.hpp"

#include "vswitch/packet/parser.hpp"

namespace halcyon::vswitch {

ErrorOr<void> ExtensionChain::append(const Entry& entry) {
    if (count_ == kMaxExtensions)
        return Error(ErrorCode::out_of_memory, "extension chain is full");
    for (uint32_t i = 0; i < count_; ++i)
        if (entries_[i].capturing == entry.capturing && entries_[i].filtering == entry.filtering)
            return Error(ErrorCode::already_exists, "extension already attached");
    entries_[count_++] = entry;
    return {};
}

ErrorOr<void> ExtensionChain::attach_capturing(CapturingExtension& extension) {
    return append({Kind::capturing, &extension, nullptr});
}

ErrorOr<void> ExtensionChain::attach_filtering(FilteringExtension& extension) {
    return append({Kind::filtering, nullptr, &extension});
}

ErrorOr<void> ExtensionChain::attach_forwarding(ForwardingExtension& extension) {
    if (forwarding_ != nullptr)
        return Error(ErrorCode::already_exists,
                     "a forwarding extension is already attached to this switch");
    forwarding_ = &extension;
    return {};
}

ErrorOr<void> ExtensionChain::detach(const void* extension) {
    if (extension != nullptr && extension == forwarding_) {
        forwarding_ = nullptr;
        return {};
    }
    for (uint32_t i = 0; i < count_; ++i) {
        const Entry& entry = entries_[i];
        const void* address = entry.kind == Kind::capturing
                                  ? static_cast<const void*>(entry.capturing)
                                  : static_cast<const void*>(entry.filtering);
        if (address != extension)
            continue;
        for (uint32_t j = i + 1; j < count_; ++j)
            entries_[j - 1] = entries_[j];
        --count_;
        return {};
    }
    return Error(ErrorCode::not_found, "extension is not attached");
}

namespace {

// Folds one filtering extension's verdict into the chain's result. A modified frame is re-parsed
// so the next extension (and the switch) see headers matching the bytes; a filter that produced
// a malformed frame has in effect dropped it. Returns false when the frame must be dropped.
bool absorb(FilterVerdict verdict, Frame& frame, FilterVerdict& result) {
    if (verdict == FilterVerdict::drop)
        return false;
    if (verdict == FilterVerdict::modified) {
        if (parse_headers(frame).is_error())
            return false;
        result = FilterVerdict::modified;
    }
    return true;
}

} // namespace

FilterVerdict ExtensionChain::run_ingress(const ExtensionContext& context, Frame& frame) const {
    FilterVerdict result = FilterVerdict::pass;
    for (uint32_t i = 0; i < count_; ++i) {
        const Entry& entry = entries_[i];
        if (entry.kind == Kind::capturing) {
            // A const view: the capturing interface cannot change what it is shown.
            entry.capturing->on_ingress(context, static_cast<const Frame&>(frame));
            continue;
        }
        if (!absorb(entry.filtering->on_ingress(context, frame), frame, result))
            return FilterVerdict::drop;
    }
    return result;
}

FilterVerdict ExtensionChain::run_egress(const ExtensionContext& context, Frame& frame) const {
    FilterVerdict result = FilterVerdict::pass;
    for (uint32_t i = count_; i-- > 0;) {
        const Entry& entry = entries_[i];
        if (entry.kind == Kind::capturing) {
            entry.capturing->on_egress(context, static_cast<const Frame&>(frame));
            continue;
        }
        if (!absorb(entry.filtering->on_egress(context, frame), frame, result))
            return FilterVerdict::drop;
    }
    return result;
}

} // namespace halcyon::vswitch
