// Files from the TFTP server the machine network-booted from, through the firmware's PXE base
// code: the server is the one DHCP named (siaddr), the directory that of the DHCP boot file.
#pragma once

#include "boot/uefi/efi/pxe.hpp"
#include "boot/uefi/file_source.hpp"

namespace halcyon::loader {

class PxeFileSource final : public FileSource {
public:
    [[nodiscard]] ErrorOr<void> open(efi::PxeBaseCodeProtocol* pxe);

    [[nodiscard]] ErrorOr<LoadedFile> load(const char* path, uint32_t memory_type) override;
    [[nodiscard]] handoff::BootSource kind() const override { return handoff::BootSource::pxe; }
    [[nodiscard]] const char* location() const override { return location_; }

private:
    // TFTP "tsize": the file's size without transferring it.
    [[nodiscard]] ErrorOr<uint64_t> query_size(const char* full_path);
    // One READ_FILE of the whole `size`-byte file into `buffer`.
    [[nodiscard]] ErrorOr<void> read_into(const char* full_path, void* buffer, uint64_t size);
    // The size from the server itself: our own TFTP read request with the tsize option, sent
    // through the base code's UDP functions, abandoned as soon as the server answers.
    [[nodiscard]] ErrorOr<uint64_t> query_size_over_udp(const char* full_path);

    efi::PxeBaseCodeProtocol* pxe_ = nullptr;
    efi::IpAddress server_ = {};
    char directory_[128] = {};
    char location_[160] = {};
    // TFTP block size: large blocks (one Ethernet frame) cut round trips about threefold; 0
    // falls back to the protocol's default of 512 when a server or firmware refuses it.
    efi::Uintn block_size_ = 1468;
    // Whether the firmware's own GET_FILE_SIZE works; once it said "unsupported", go straight
    // to query_size_over_udp.
    bool firmware_size_query_ = true;
};

} // namespace halcyon::loader
