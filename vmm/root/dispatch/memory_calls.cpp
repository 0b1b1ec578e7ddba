// The calls that move the root's memory (docs/management-partition.md, "Memory"): a large page
// leaves the root's view and is mapped into a child (HvMapGpaPages) or held for a child's
// overhead (HvDepositMemory), and comes back (HvUnmapGpaPages, HvWithdrawMemory, the child's
// deletion). Rep calls: each element is checked and moved on its own; on a failure the reps
// completed say how far the call got, everything before stays done.
#include "vmm/core/log.hpp"
#include "vmm/root/codec.hpp"
#include "vmm/root/dispatch/handlers.hpp"

namespace halcyon::vmm::root {
namespace {

CallResult done(Status status, uint32_t reps = 0) {
    return CallResult{status, static_cast<uint16_t>(reps)};
}

uint64_t megabytes(uint64_t large_pages) {
    return large_pages * (kLargePageBytes >> 20);
}

// Moves frames that left one view into another; if that fails, back where they came from, and
// if even that fails (no memory for nested tables), to the frame allocator: the root loses the
// page, the core never loses frames.
bool move_or_restore(RootState& state, Partition& to, uint64_t to_address, Partition& from,
                     uint64_t from_address, uint64_t host) {
    if (!to.attach_memory(to_address, host).is_error())
        return true;
    if (auto restored = from.attach_memory(from_address, host); restored.is_error()) {
        log::error("vm %s: memory at 0x%llx could not be put back (%s): freed", state.root.name(),
                   static_cast<unsigned long long>(from_address), restored.error().message());
        (void)state.frames.free(host, kPagesPerLargePage);
    }
    return false;
}

// The child addresses of a map/unmap call: large pages from `gfn` (a 4 KiB page number).
bool child_base(uint64_t gfn, uint64_t& base) {
    if (gfn >= (kChildAddressLimit >> 12))
        return false;
    base = gfn << 12;
    return true;
}

// The header of HvMapGpaPages / HvUnmapGpaPages: the initialized child it names and, in
// `base`, the child address of the range's first large page. nullptr with `status` set if any
// of it is refused.
template <size_t Bytes, typename Decoder>
ChildRecord* read_gpa_range(CallContext& context, Decoder decode, uint64_t& base, Status& status) {
    GpaRangeHeader header;
    ChildRecord* record = read_child_input<Bytes>(context, decode, header, status);
    if (record != nullptr && !child_base(header.target_gpa_base, base)) {
        status = Status::invalid_parameter;
        return nullptr;
    }
    return record;
}

} // namespace

CallResult deposit_memory(CallContext& context) {
    RootState& state = context.state;
    uint8_t header[size::kDepositHeader];
    if (!context.params.read_header(header))
        return done(Status::invalid_alignment);
    Status status;
    ChildRecord* record = find_child(state, decode_partition_id(header), false, status);
    if (record == nullptr)
        return done(status);
    const uint32_t first = context.params.rep_start();
    for (uint32_t i = first; i < context.params.rep_count(); ++i) {
        uint8_t element[size::kPageNumber];
        if (!context.params.read_element(i, element))
            return done(Status::invalid_alignment, i);
        uint32_t index;
        if (status = state.ledger.check_root_page(load_u64(element, 0), index);
            status != Status::success)
            return done(status, i);
        auto host = state.root.detach_memory(MemoryLedger::root_address(index));
        if (host.is_error())
            return done(Status::invalid_parameter, i);
        state.ledger.record_deposited(index, record->id, host.value());
        record->deposited_pages += kPagesPerLargePage;
    }
    log::info("vm %s: partition %llu: %llu MiB deposited (%llu MiB in all)", state.root.name(),
              static_cast<unsigned long long>(record->id),
              static_cast<unsigned long long>(megabytes(context.params.rep_count() - first)),
              static_cast<unsigned long long>(record->deposited_pages * kPageBytes >> 20));
    return done(Status::success, context.params.rep_count());
}

CallResult withdraw_memory(CallContext& context) {
    RootState& state = context.state;
    uint8_t header[size::kWithdrawInput];
    if (!context.params.read_header(header))
        return done(Status::invalid_alignment);
    Status status;
    ChildRecord* record = find_child(state, decode_partition_id(header), false, status);
    if (record == nullptr)
        return done(status);
    for (uint32_t i = context.params.rep_start(); i < context.params.rep_count(); ++i) {
        // What the charges do not need can go back; the rest stays (as Hyper-V: fewer pages
        // than asked for and HV_STATUS_NO_RESOURCES).
        const auto index = state.ledger.find_deposited(record->id);
        if (!record->can_withdraw_large_page() || !index)
            return done(Status::no_resources, i);
        const uint64_t address = MemoryLedger::root_address(*index);
        uint8_t element[size::kPageNumber];
        encode_u64(address / kPageBytes, element);
        if (!context.params.write_element(i, element))
            return done(Status::invalid_alignment, i);
        if (state.root.attach_memory(address, state.ledger.entry(*index).host_physical).is_error())
            return done(Status::insufficient_memory, i);
        state.ledger.record_returned(*index);
        record->deposited_pages -= kPagesPerLargePage;
    }
    return done(Status::success, context.params.rep_count());
}

CallResult map_gpa_pages(CallContext& context) {
    RootState& state = context.state;
    uint64_t base;
    Status status;
    ChildRecord* record =
        read_gpa_range<size::kMapGpaHeader>(context, decode_map_gpa_header, base, status);
    if (record == nullptr)
        return done(status);
    const uint32_t first = context.params.rep_start();
    for (uint32_t i = first; i < context.params.rep_count(); ++i) {
        uint8_t element[size::kPageNumber];
        if (!context.params.read_element(i, element))
            return done(Status::invalid_alignment, i);
        const uint64_t child_address = base + uint64_t{i} * kLargePageBytes;
        uint32_t index;
        if (status = state.ledger.check_root_page(load_u64(element, 0), index);
            status != Status::success)
            return done(status, i);
        if (status = state.ledger.check_child_address(record->id, child_address);
            status != Status::success)
            return done(status, i);
        const uint64_t root_address = MemoryLedger::root_address(index);
        auto host = state.root.detach_memory(root_address);
        if (host.is_error())
            return done(Status::invalid_parameter, i);
        if (!move_or_restore(state, *record->partition, child_address, state.root, root_address,
                             host.value()))
            return done(Status::insufficient_memory, i);
        state.ledger.record_mapped(index, record->id, child_address, host.value());
    }
    log::info("vm %s: partition %llu: %llu MiB of the root's memory mapped at 0x%llx",
              state.root.name(), static_cast<unsigned long long>(record->id),
              static_cast<unsigned long long>(megabytes(context.params.rep_count() - first)),
              static_cast<unsigned long long>(base + uint64_t{first} * kLargePageBytes));
    return done(Status::success, context.params.rep_count());
}

CallResult unmap_gpa_pages(CallContext& context) {
    RootState& state = context.state;
    uint64_t base;
    Status status;
    ChildRecord* record =
        read_gpa_range<size::kUnmapGpaHeader>(context, decode_unmap_gpa_header, base, status);
    if (record == nullptr)
        return done(status);
    for (uint32_t i = context.params.rep_start(); i < context.params.rep_count(); ++i) {
        const uint64_t child_address = base + uint64_t{i} * kLargePageBytes;
        const auto index = state.ledger.find_mapped(record->id, child_address);
        if (!index)
            return done(Status::invalid_parameter, i); // not a large page the root mapped there
        auto host = record->partition->detach_memory(child_address);
        if (host.is_error())
            return done(Status::invalid_parameter, i);
        if (!move_or_restore(state, state.root, MemoryLedger::root_address(*index),
                             *record->partition, child_address, host.value()))
            return done(Status::insufficient_memory, i);
        state.ledger.record_returned(*index);
    }
    return done(Status::success, context.params.rep_count());
}

} // namespace halcyon::vmm::root
