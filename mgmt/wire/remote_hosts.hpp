// VmHost and VhdHost for the management partition: every call becomes a request message
// (message.hpp) handed to a ManagementTransport (the HvCallHalcyonManagement hypercall in the
// partition, an in-process call in the tests), whose response is decoded and checked as
// strictly as the core checks requests.
//
// Errors: an error the core's host returned arrives with its code and message. A transport
// failure is ErrorCode::io ("the management call to the core failed: ..."), a response that does
// not decode is ErrorCode::io ("malformed response from the core: ..."). Because Error holds a
// `const char*`, the message text lives in the ManagementChannel and stays valid until the next
// call through that channel (either host) — the API server never keeps references across calls
// (vm_host.hpp).
//
// Not thread-safe: one call at a time per channel, as the API server makes them.
#pragma once

#include "lib/base/error_or.hpp"
#include "mgmt/api/vhd_host.hpp"
#include "mgmt/api/vm_host.hpp"
#include "mgmt/wire/codec.hpp"
#include "mgmt/wire/message.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::mgmt::wire {

// Carries one request to the core and its response back. Returns the response's length (<=
// response.size()); an error means the call itself failed (no response).
class ManagementTransport {
public:
    [[nodiscard]] virtual ErrorOr<size_t> call(std::span<const uint8_t> request,
                                               std::span<uint8_t> response) = 0;

protected:
    ~ManagementTransport() = default;
};

// The state the remote hosts share: the transport, the two message buffers (owned by the
// caller, each at least kManagementMessageMax bytes — in the partition they are static arrays
// in its identity-mapped RAM, so their addresses are what the hypercall takes), the sequence
// number and the last error's text.
class ManagementChannel {
public:
    ManagementChannel(ManagementTransport& transport, std::span<uint8_t> request_buffer,
                      std::span<uint8_t> response_buffer);
    ManagementChannel(const ManagementChannel&) = delete;
    ManagementChannel& operator=(const ManagementChannel&) = delete;

    // For the remote hosts: a request with `opcode`'s header written.
    [[nodiscard]] WireWriter begin(Opcode opcode);
    // Sends the request, checks the response's header (magic, version, opcode, sequence,
    // length) and status. On success the reader is positioned at the result's first field; an
    // error response becomes an Error whose message is kept in this channel.
    [[nodiscard]] ErrorOr<WireReader> call(WireWriter& request);
    // After the result was read: every byte consumed and valid, else a malformed-response error.
    [[nodiscard]] ErrorOr<void> finish(WireReader& response);
    // An io error "malformed response from the core: <why>".
    [[nodiscard]] Error malformed(const char* why);

    [[nodiscard]] uint32_t calls() const { return sequence_; }

private:
    [[nodiscard]] Error keep_error(ErrorCode code, const char* prefix, std::string_view text);

    ManagementTransport& transport_;
    std::span<uint8_t> request_buffer_;
    std::span<uint8_t> response_buffer_;
    Opcode pending_ = Opcode::invalid;
    uint32_t sequence_ = 0;
    char error_text_[kErrorMessageMax + 64] = {};
};

class RemoteVmHost final : public VmHost {
public:
    explicit RemoteVmHost(ManagementChannel& channel) : channel_(channel) {}

    ErrorOr<HostInfo> host_info() override;
    // The interface has no error here: a failed call counts as 0 VMs.
    uint32_t vm_count() override;
    ErrorOr<VmInfo> vm_at(uint32_t index) override;
    ErrorOr<VmInfo> find_vm(std::string_view name) override;
    ErrorOr<void> create_vm(const VmSpec& spec) override;
    ErrorOr<void> set_vm(std::string_view name, const VmChanges& changes) override;
    ErrorOr<void> remove_vm(std::string_view name) override;
    ErrorOr<void> start_vm(std::string_view name) override;
    ErrorOr<void> stop_vm(std::string_view name, StopMode mode) override;
    ErrorOr<void> restart_vm(std::string_view name) override;
    ErrorOr<void> suspend_vm(std::string_view name) override;
    ErrorOr<void> resume_vm(std::string_view name) override;
    // At most kStreamDataMax bytes per call (a shorter read is a valid StreamRead).
    ErrorOr<StreamRead> read_log(uint64_t since, std::span<char> out) override;
    ErrorOr<StreamRead> read_console(std::string_view name, uint64_t since,
                                     std::span<char> out) override;
    // Inputs longer than kWireDataMax go as several calls.
    ErrorOr<size_t> write_console(std::string_view name, std::span<const uint8_t> input) override;
    ErrorOr<FileStatus> write_file(std::string_view path, uint64_t offset, uint64_t total_size,
                                   std::span<const uint8_t> data) override;

private:
    ErrorOr<void> name_call(Opcode opcode, std::string_view name);
    ErrorOr<StreamRead> stream_call(WireWriter& request, std::span<char> out);

    ManagementChannel& channel_;
};

class RemoteVhdHost final : public VhdHost {
public:
    explicit RemoteVhdHost(ManagementChannel& channel) : channel_(channel) {}

    ErrorOr<VhdInfo> create_vhd(const VhdSpec& spec) override;
    ErrorOr<VhdInfo> get_vhd(std::string_view path) override;
    ErrorOr<VhdInfo> resize_vhd(std::string_view path, uint64_t size_bytes) override;
    // At most kWireDrivesMax drives are fetched; the returned total is the core's.
    ErrorOr<uint32_t> vm_disks(std::string_view vm, std::span<VmHardDiskDrive> out) override;
    ErrorOr<VmHardDiskDrive> add_vm_disk(std::string_view vm, std::string_view path,
                                         bool read_only) override;
    ErrorOr<void> remove_vm_disk(std::string_view vm, uint32_t lun) override;
    ErrorOr<uint32_t> integration_services(std::string_view vm,
                                           std::span<IntegrationService> out) override;

private:
    ErrorOr<VhdInfo> vhd_info_call(WireWriter& request);

    ManagementChannel& channel_;
};

} // namespace halcyon::mgmt::wire
