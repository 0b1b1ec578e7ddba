// The entry of privileged hypercalls, and the calls on partitions (docs/management-partition.md).
#include "lib/format/format.hpp"
#include "vmm/core/log.hpp"
#include "vmm/root/calls.hpp"
#include "vmm/root/codec.hpp"
#include "vmm/root/dispatch/handlers.hpp"
#include "vmm/root/dispatch/root_partition.hpp"

namespace halcyon::vmm::root {
namespace {

// Refusals logged per partition; a partition hammering the interface must not flood the log.
constexpr uint32_t kLoggedRefusals = 32;
// Address-space ids of child partitions (the backend maps them to hardware ASIDs / VPIDs and
// flushes when two partitions share one): after those of the worker's VMs.
uint32_t g_next_address_space = 0x100;

CallResult done(Status status, uint16_t reps = 0) {
    return CallResult{status, reps};
}

// The child named by a call whose input is just a partition id, initialized or not.
ChildRecord* read_partition_id(CallContext& context, Status& status) {
    uint8_t block[size::kPartitionIdBlock];
    if (!context.params.read_header(block)) {
        status = Status::invalid_alignment;
        return nullptr;
    }
    return find_child(context.state, decode_partition_id(block), false, status);
}

CallResult run(const ValidatedCall& call, CallContext& context) {
    switch (call.control.code) {
    case call::kCreatePartition:
        return create_partition(context);
    case call::kInitializePartition:
        return initialize_partition(context);
    case call::kDeletePartition:
        return delete_partition(context);
    case call::kGetPartitionId:
        return get_partition_id(context);
    case call::kDepositMemory:
        return deposit_memory(context);
    case call::kWithdrawMemory:
        return withdraw_memory(context);
    case call::kMapGpaPages:
        return map_gpa_pages(context);
    case call::kUnmapGpaPages:
        return unmap_gpa_pages(context);
    case call::kInstallIntercept:
        return install_intercept(context);
    case call::kCreateVp:
        return create_vp(context);
    case call::kGetVpRegisters:
        return get_vp_registers(context);
    case call::kSetVpRegisters:
        return set_vp_registers(context);
    case call::kAssertVirtualInterrupt:
        return assert_virtual_interrupt(context);
    case call::kSignalEventDirect:
        return signal_event_direct(context);
    case call::kDispatchVp:
        return dispatch_vp(context);
    case call::kHalcyonManagement:
        return halcyon_management(context);
    default:
        return done(Status::invalid_hypercall_code);
    }
}

} // namespace

Completion privileged_hypercall(Partition& caller, uint32_t vp, const hyperv::HypercallInput& input,
                                uint64_t deadline, uint32_t& refusals) {
    const uint16_t code = hyperv::decode_control(input.control).code;
    RootState* state = find_root_state(caller);
    // The vendor call is the management partition's alone: any other root is refused like a
    // partition without the privilege (a plain read: it is set before the root first runs).
    if (state != nullptr && code == call::kHalcyonManagement && state->management == nullptr)
        state = nullptr;
    if (state == nullptr) {
        // Counted per partition (its vCPUs may race here: atomically), logged up to a limit.
        if (__atomic_load_n(&refusals, __ATOMIC_RELAXED) <= kLoggedRefusals) {
            const uint32_t seen = __atomic_fetch_add(&refusals, 1, __ATOMIC_RELAXED);
            if (seen < kLoggedRefusals)
                log::warn("vm %s: privileged hypercall 0x%04x refused (not the %s partition)",
                          caller.name(), code,
                          code == call::kHalcyonManagement ? "management" : "root");
            else if (seen == kLoggedRefusals)
                log::warn("vm %s: further refused privileged hypercalls are not logged",
                          caller.name());
        }
        return Completion{result_value(done(Status::access_denied))};
    }
    mm::SpinLockGuard guard(state->lock);
    // Parameter blocks must lie in the root's physical address space: its RAM as it started
    // (a page it gave away since fails when the block is read).
    // The management partition's RAM is identity-mapped, far above its ledger's size.
    const uint64_t ledger_space = uint64_t{state->ledger.large_pages()} * kLargePageBytes;
    const uint64_t ram_limit = caller.ram_limit();
    const uint64_t address_space = ram_limit > ledger_space ? ram_limit : ledger_space;
    const ValidatedCall call = validate_call(input, address_space);
    if (call.status != Status::success)
        return Completion{result_value(done(call.status))};
    const Params params(caller, input, *call.descriptor, call.control);
    CallContext context{*state, params, vp, deadline};
    const CallResult result = run(call, context);
    return Completion{result_value(result), context.ran_child, context.yield};
}

ChildRecord* find_child(RootState& state, uint64_t id, bool initialized, Status& status) {
    ChildRecord* record = state.table.find(id);
    if (record == nullptr) {
        status = Status::invalid_partition_id;
        return nullptr;
    }
    if (initialized && record->state != ChildState::initialized) {
        status = Status::invalid_partition_state;
        return nullptr;
    }
    status = Status::success;
    return record;
}

CallResult create_partition(CallContext& context) {
    CreatePartitionInput input;
    if (const Status status =
            read_input<size::kCreatePartitionInput>(context.params, decode_create_partition, input);
        status != Status::success)
        return done(status);
    ChildRecord* record = nullptr;
    if (const Status status = context.state.table.create(record); status != Status::success)
        return done(status);
    uint8_t output[size::kPartitionIdBlock];
    encode_u64(record->id, output);
    if (!context.params.write_output(output)) {
        context.state.table.remove(*record);
        return done(Status::invalid_alignment);
    }
    log::info("vm %s: partition %llu created", context.state.root.name(),
              static_cast<unsigned long long>(record->id));
    return done(Status::success);
}

CallResult initialize_partition(CallContext& context) {
    Status status;
    ChildRecord* record = read_partition_id(context, status);
    if (record == nullptr)
        return done(status);
    if (record->state != ChildState::created)
        return done(Status::invalid_partition_state);
    if (status = record->charge(kPartitionChargePages); status != Status::success)
        return done(status);
    char name[32];
    format::format(name, sizeof(name), "%s.p%llu", context.state.root.name(),
                   static_cast<unsigned long long>(record->id));
    const uint32_t address_space = __atomic_fetch_add(&g_next_address_space, 1, __ATOMIC_RELAXED);
    auto made = Partition::create(name, address_space, context.state.frames);
    if (made.is_error()) {
        record->charged_pages -= kPartitionChargePages;
        log::warn("vm %s: partition %llu: %s", context.state.root.name(),
                  static_cast<unsigned long long>(record->id), made.error().message());
        return done(Status::insufficient_memory);
    }
    record->partition = made.value();
    ChildCpuid& cpuid = context.state.cpuid[context.state.table.index_of(*record)];
    cpuid.bind(record);
    record->partition->set_cpuid_interceptor(&cpuid);
    record->state = ChildState::initialized;
    log::info("vm %s: partition %llu initialized as %s", context.state.root.name(),
              static_cast<unsigned long long>(record->id), name);
    return done(Status::success);
}

CallResult delete_partition(CallContext& context) {
    Status status;
    ChildRecord* record = read_partition_id(context, status);
    if (record == nullptr)
        return done(status);
    delete_child(context.state, *record, true);
    return done(Status::success);
}

CallResult get_partition_id(CallContext& context) {
    uint8_t output[size::kPartitionIdBlock];
    encode_u64(kRootPartitionId, output);
    return done(context.params.write_output(output) ? Status::success : Status::invalid_alignment);
}

} // namespace halcyon::vmm::root
