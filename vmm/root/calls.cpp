#include "vmm/root/calls.hpp"

#include "vmm/root/codec.hpp"
#include "vmm/root/management_codec.hpp"

namespace halcyon::vmm::root {
namespace {

using hyperv::HypercallDescriptor;

// Memory form unless said otherwise: the parameters are in a page of the root's memory.
constexpr HypercallDescriptor simple(uint16_t code, uint16_t input, uint16_t output) {
    return HypercallDescriptor{.code = code, .input_bytes = input, .output_bytes = output};
}
constexpr HypercallDescriptor rep(uint16_t code, uint16_t header, uint16_t element,
                                  uint16_t output_element) {
    return HypercallDescriptor{.code = code,
                               .rep = true,
                               .input_bytes = header,
                               .input_element_bytes = element,
                               .output_element_bytes = output_element};
}
// A partition id alone: also in RDX (fast form), as Linux's mshv calls them.
constexpr HypercallDescriptor partition_id_call(uint16_t code) {
    return HypercallDescriptor{
        .code = code, .fast_form = true, .input_bytes = size::kPartitionIdBlock};
}

constexpr HypercallDescriptor kImplemented[] = {
    simple(call::kCreatePartition, size::kCreatePartitionInput, size::kPartitionIdBlock),
    partition_id_call(call::kInitializePartition),
    partition_id_call(call::kDeletePartition),
    simple(call::kGetPartitionId, 0, size::kPartitionIdBlock),
    rep(call::kDepositMemory, size::kDepositHeader, size::kPageNumber, 0),
    rep(call::kWithdrawMemory, size::kWithdrawInput, 0, size::kPageNumber),
    rep(call::kMapGpaPages, size::kMapGpaHeader, size::kPageNumber, 0),
    rep(call::kUnmapGpaPages, size::kUnmapGpaHeader, 0, 0),
    simple(call::kInstallIntercept, size::kInstallInterceptInput, 0),
    simple(call::kCreateVp, size::kCreateVpInput, 0),
    rep(call::kGetVpRegisters, size::kVpRegistersHeader, size::kRegisterName, size::kRegisterValue),
    rep(call::kSetVpRegisters, size::kVpRegistersHeader, size::kRegisterAssoc, 0),
    simple(call::kAssertVirtualInterrupt, size::kAssertInterruptInput, 0),
    simple(call::kSignalEventDirect, size::kSignalEventDirectInput, size::kSignalEventDirectOutput),
    simple(call::kDispatchVp, size::kDispatchVpInput, size::kDispatchVpOutput),
    simple(call::kHalcyonManagement, size::kManagementInput, size::kManagementOutput),
};

struct Named {
    uint16_t code;
    const char* name;
};
// Every privileged code, implemented or not.
constexpr Named kPrivileged[] = {
    {call::kCreatePartition, "HvCreatePartition"},
    {call::kInitializePartition, "HvInitializePartition"},
    {call::kFinalizePartition, "HvFinalizePartition"},
    {call::kDeletePartition, "HvDeletePartition"},
    {call::kGetPartitionProperty, "HvGetPartitionProperty"},
    {call::kSetPartitionProperty, "HvSetPartitionProperty"},
    {call::kGetPartitionId, "HvGetPartitionId"},
    {call::kDepositMemory, "HvDepositMemory"},
    {call::kWithdrawMemory, "HvWithdrawMemory"},
    {call::kMapGpaPages, "HvMapGpaPages"},
    {call::kUnmapGpaPages, "HvUnmapGpaPages"},
    {call::kInstallIntercept, "HvInstallIntercept"},
    {call::kCreateVp, "HvCreateVp"},
    {call::kDeleteVp, "HvDeleteVp"},
    {call::kGetVpRegisters, "HvGetVpRegisters"},
    {call::kSetVpRegisters, "HvSetVpRegisters"},
    {call::kAssertVirtualInterrupt, "HvAssertVirtualInterrupt"},
    {call::kSignalEventDirect, "HvSignalEventDirect"},
    {call::kPostMessageDirect, "HvPostMessageDirect"},
    {call::kDispatchVp, "HvDispatchVp"},
    {call::kMapVpStatePage, "HvMapVpStatePage"},
    {call::kUnmapVpStatePage, "HvUnmapVpStatePage"},
    {call::kGetVpState, "HvGetVpState"},
    {call::kSetVpState, "HvSetVpState"},
    {call::kHalcyonManagement, "HvCallHalcyonManagement"},
};

} // namespace

const char* status_name(Status status) {
    switch (status) {
    case Status::success:
        return "SUCCESS";
    case Status::invalid_hypercall_code:
        return "INVALID_HYPERCALL_CODE";
    case Status::invalid_hypercall_input:
        return "INVALID_HYPERCALL_INPUT";
    case Status::invalid_alignment:
        return "INVALID_ALIGNMENT";
    case Status::invalid_parameter:
        return "INVALID_PARAMETER";
    case Status::access_denied:
        return "ACCESS_DENIED";
    case Status::invalid_partition_state:
        return "INVALID_PARTITION_STATE";
    case Status::insufficient_memory:
        return "INSUFFICIENT_MEMORY";
    case Status::invalid_partition_id:
        return "INVALID_PARTITION_ID";
    case Status::invalid_vp_index:
        return "INVALID_VP_INDEX";
    case Status::invalid_vp_state:
        return "INVALID_VP_STATE";
    case Status::invalid_synic_state:
        return "INVALID_SYNIC_STATE";
    case Status::no_resources:
        return "NO_RESOURCES";
    case Status::invalid_register_value:
        return "INVALID_REGISTER_VALUE";
    case Status::invalid_port_id: // the SynIC's statuses: never from the root's own calls
        return "INVALID_PORT_ID";
    case Status::invalid_connection_id:
        return "INVALID_CONNECTION_ID";
    case Status::insufficient_buffers:
        return "INSUFFICIENT_BUFFERS";
    }
    return "unknown";
}

bool is_privileged_call(uint16_t code) {
    for (const Named& entry : kPrivileged) {
        if (entry.code == code)
            return true;
    }
    return false;
}

const char* call_name(uint16_t code) {
    for (const Named& entry : kPrivileged) {
        if (entry.code == code)
            return entry.name;
    }
    return "unknown";
}

std::span<const hyperv::HypercallDescriptor> implemented_calls() {
    return kImplemented;
}

ValidatedCall validate_call(const hyperv::HypercallInput& input, uint64_t guest_physical_size) {
    const hyperv::ValidatedHypercall checked =
        hyperv::validate_hypercall(input, kImplemented, guest_physical_size);
    ValidatedCall result;
    result.status = checked.status;
    result.descriptor = checked.descriptor;
    result.control = checked.control;
    return result;
}

uint64_t result_value(const CallResult& result) {
    return hyperv::hypercall_result(result.status, result.reps_completed);
}

} // namespace halcyon::vmm::root
