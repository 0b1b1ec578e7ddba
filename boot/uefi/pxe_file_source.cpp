#include "boot/uefi/pxe_file_source.hpp"

#include "boot/common/cpu.hpp"
#include "boot/uefi/firmware.hpp"
#include "boot/uefi/tftp_packet.hpp"
#include "lib/format/format.hpp"

namespace halcyon::loader {

ErrorOr<void> PxeFileSource::open(efi::PxeBaseCodeProtocol* pxe) {
    pxe_ = pxe;
    const efi::PxeMode* mode = pxe->mode;
    if (mode == nullptr || !mode->started)
        return Error(ErrorCode::not_supported, "the PXE base code is not started");
    if (mode->using_ipv6)
        return Error(ErrorCode::not_supported, "network boot over IPv6 is not supported yet");
    // With a proxyDHCP server, the boot server and file come from its offer, not the ACK.
    const efi::DhcpV4Packet* packet = nullptr;
    if (mode->proxy_offer_received)
        packet = &mode->proxy_offer.dhcp_v4;
    else if (mode->dhcp_ack_received)
        packet = &mode->dhcp_ack.dhcp_v4;
    else
        return Error(ErrorCode::not_found, "no DHCP answer recorded by the PXE base code");

    for (int i = 0; i < 4; ++i)
        server_.v4[i] = packet->server_ip[i];
    if ((server_.v4[0] | server_.v4[1] | server_.v4[2] | server_.v4[3]) == 0)
        return Error(ErrorCode::not_found, "DHCP did not name a boot server (siaddr is 0)");

    // The directory is everything up to the last '/' of the boot file name.
    char boot_file[129];
    size_t length = 0;
    for (; length < sizeof(packet->boot_file) && packet->boot_file[length]; ++length)
        boot_file[length] = static_cast<char>(packet->boot_file[length]);
    boot_file[length] = '\0';
    size_t directory_length = 0;
    for (size_t i = 0; i < length; ++i) {
        if (boot_file[i] == '/')
            directory_length = i + 1;
    }
    for (size_t i = 0; i < directory_length; ++i)
        directory_[i] = boot_file[i];
    directory_[directory_length] = '\0';

    (void)format::format(location_, sizeof(location_), "tftp://%u.%u.%u.%u/%s", server_.v4[0],
                         server_.v4[1], server_.v4[2], server_.v4[3], directory_);
    log("network boot: server %u.%u.%u.%u, boot file '%s'", server_.v4[0], server_.v4[1],
        server_.v4[2], server_.v4[3], boot_file);
    return {};
}

ErrorOr<uint64_t> PxeFileSource::query_size(const char* full_path) {
    while (firmware_size_query_) {
        uint64_t size = 0;
        auto status = pxe_->mtftp(pxe_, efi::TftpOpcode::tftp_get_file_size, nullptr, false, &size,
                                  block_size_ ? &block_size_ : nullptr, &server_,
                                  reinterpret_cast<const uint8_t*>(full_path), nullptr, false);
        if (!efi::is_error(status))
            return size;
        if (status == efi::Status::unsupported) {
            firmware_size_query_ = false;
            break;
        }
        if (block_size_ != 0 && status != efi::Status::tftp_error) {
            log("tftp: %s with block size %llu failed (%s), retrying with 512", full_path,
                static_cast<unsigned long long>(block_size_), status_name(status));
            block_size_ = 0; // maybe the blksize option was refused: retry without it
            continue;
        }
        log("tftp: cannot get the size of %s: %s", full_path, status_name(status));
        return status_error(status, "cannot get a file's size from the TFTP server");
    }
    return query_size_over_udp(full_path);
}

ErrorOr<uint64_t> PxeFileSource::query_size_over_udp(const char* full_path) {
    uint8_t request[320];
    efi::Uintn request_length = TRY(tftp::build_size_request(full_path, request));
    // A fresh local port (our TFTP "transfer ID") per query, so that a late reply to an earlier
    // query cannot be taken for this one.
    uint16_t local_port = static_cast<uint16_t>(49152 + (cpu::read_tsc() >> 4) % 16000);
    efi::BootServices* boot_services = firmware().boot_services;

    for (int attempt = 0; attempt < 4; ++attempt) {
        uint16_t server_port = tftp::kServerPort;
        auto status = pxe_->udp_write(pxe_, 0, &server_, &server_port, nullptr, nullptr,
                                      &local_port, nullptr, nullptr, &request_length, request);
        if (efi::is_error(status)) {
            log("tftp: cannot send a request for %s: %s", full_path, status_name(status));
            return status_error(status, "cannot send a TFTP request");
        }
        // Wait up to a second for the answer, polling: some base codes return at once when no
        // packet is queued.
        for (int poll = 0; poll < 100; ++poll) {
            alignas(8) uint8_t reply[1536];
            efi::Uintn reply_length = sizeof(reply);
            efi::IpAddress destination = {};
            uint16_t destination_port = local_port;
            efi::IpAddress source = server_;
            uint16_t source_port = 0;
            status = pxe_->udp_read(pxe_, efi::kUdpAnyDestinationIp | efi::kUdpAnySourcePort,
                                    &destination, &destination_port, &source, &source_port, nullptr,
                                    nullptr, &reply_length, reply);
            if (status == efi::Status::timeout) {
                (void)boot_services->stall(10'000);
                continue;
            }
            if (efi::is_error(status))
                continue; // e.g. a stray oversized packet: keep listening
            auto parsed = tftp::parse_size_reply({reply, reply_length});
            if (parsed.is_error())
                continue;
            tftp::SizeReply answer = parsed.value();
            if (answer.kind != tftp::SizeReply::Kind::error) {
                // Tell the server we are done, so it does not keep resending to us.
                uint8_t abort[32];
                efi::Uintn abort_length = tftp::build_abort(abort);
                (void)pxe_->udp_write(pxe_, 0, &server_, &source_port, nullptr, nullptr,
                                      &local_port, nullptr, nullptr, &abort_length, abort);
            }
            switch (answer.kind) {
            case tftp::SizeReply::Kind::size:
                return answer.size;
            case tftp::SizeReply::Kind::no_size:
                log("tftp: the server did not report the size of %s", full_path);
                return Error(ErrorCode::not_supported,
                             "the TFTP server does not report file sizes (tsize option)");
            case tftp::SizeReply::Kind::error:
                log("tftp: %s: server error %u", full_path, answer.error_code);
                return answer.error_code == 1
                           ? Error(ErrorCode::not_found, "file not found on the TFTP server")
                           : Error(ErrorCode::io, "the TFTP server refused a file");
            }
        }
    }
    log("tftp: no answer from the server for %s", full_path);
    return Error(ErrorCode::timeout, "the TFTP server does not answer");
}

ErrorOr<void> PxeFileSource::read_into(const char* full_path, void* buffer, uint64_t size) {
    uint64_t transferred = size;
    auto status = pxe_->mtftp(pxe_, efi::TftpOpcode::tftp_read_file, buffer, false, &transferred,
                              block_size_ ? &block_size_ : nullptr, &server_,
                              reinterpret_cast<const uint8_t*>(full_path), nullptr, false);
    if (status == efi::Status::buffer_too_small || transferred != size) {
        log("tftp: %s changed size while loading", full_path);
        return Error(ErrorCode::io, "a file changed size on the TFTP server while loading");
    }
    if (efi::is_error(status)) {
        log("tftp: cannot read %s: %s", full_path, status_name(status));
        return status_error(status, "cannot read a file from the TFTP server");
    }
    return {};
}

ErrorOr<LoadedFile> PxeFileSource::load(const char* path, uint32_t memory_type) {
    char full[256];
    TRY(join_path(directory_, path, '/', full, sizeof(full)));
    uint64_t size = TRY(query_size(full));
    uint64_t page_count = pages_for(size == 0 ? 1 : size);
    uint64_t base = TRY(allocate_pages(page_count, memory_type));
    if (size != 0) {
        // One READ_FILE transfers the whole file straight into its final place.
        auto read = read_into(full, reinterpret_cast<void*>(base), size);
        if (read.is_error()) {
            free_pages(base, page_count);
            return read.release_error();
        }
    }
    return LoadedFile{.physical_base = base, .size = size, .page_count = page_count};
}

} // namespace halcyon::loader
