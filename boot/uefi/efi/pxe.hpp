// EFI_PXE_BASE_CODE_PROTOCOL (UEFI 2.10, section 24.3): after a network boot, the firmware's
// DHCP results (which server, which boot file) and its TFTP client, which the loader uses to
// fetch its remaining files from the same server and directory.
#pragma once

#include "boot/uefi/efi/types.hpp"

namespace halcyon::efi {

// EFI_PXE_BASE_CODE_DHCPV4_PACKET: a BOOTP/DHCP message as received.
struct DhcpV4Packet {
    uint8_t opcode;
    uint8_t hardware_type;
    uint8_t hardware_address_length;
    uint8_t gate_hops;
    uint32_t transaction_id;
    uint16_t seconds;
    uint16_t flags;
    uint8_t client_ip[4];
    uint8_t your_ip[4];
    uint8_t server_ip[4]; // siaddr: the boot (TFTP) server
    uint8_t gateway_ip[4];
    uint8_t hardware_address[16];
    uint8_t server_name[64];
    uint8_t boot_file[128]; // NUL-terminated unless all 128 bytes are used
    uint32_t magic;
    uint8_t options[56];
};
static_assert(sizeof(DhcpV4Packet) == 296);
static_assert(__builtin_offsetof(DhcpV4Packet, server_ip) == 20);
static_assert(__builtin_offsetof(DhcpV4Packet, boot_file) == 108);

// EFI_PXE_BASE_CODE_PACKET.
union PxePacket {
    uint8_t raw[1472];
    DhcpV4Packet dhcp_v4;
};
static_assert(sizeof(PxePacket) == 1472);

// EFI_PXE_BASE_CODE_MODE, up to the packets the loader reads. The firmware owns this structure
// (it continues with filters, ARP and route caches and error packets); we only read through a
// pointer to it, never size or copy it.
struct PxeMode {
    Boolean started;
    Boolean ipv6_available;
    Boolean ipv6_supported;
    Boolean using_ipv6;
    Boolean bis_supported;
    Boolean bis_detected;
    Boolean auto_arp;
    Boolean send_guid;
    Boolean dhcp_discover_valid;
    Boolean dhcp_ack_received;
    Boolean proxy_offer_received;
    Boolean pxe_discover_valid;
    Boolean pxe_reply_received;
    Boolean pxe_bis_reply_received;
    Boolean icmp_error_received;
    Boolean tftp_error_received;
    Boolean make_callbacks;
    uint8_t ttl;
    uint8_t tos;
    IpAddress station_ip;
    IpAddress subnet_mask;
    PxePacket dhcp_discover;
    PxePacket dhcp_ack;
    PxePacket proxy_offer;
    PxePacket pxe_discover;
    PxePacket pxe_reply;
    PxePacket pxe_bis_reply;
};
static_assert(__builtin_offsetof(PxeMode, station_ip) == 20);
static_assert(__builtin_offsetof(PxeMode, dhcp_ack) == 52 + 1472);

// EFI_PXE_BASE_CODE_TFTP_OPCODE.
enum class TftpOpcode : uint32_t {
    tftp_get_file_size = 1,
    tftp_read_file = 2,
    tftp_write_file = 3,
    tftp_read_directory = 4,
    mtftp_get_file_size = 5,
    mtftp_read_file = 6,
    mtftp_read_directory = 7,
};

// EFI_PXE_BASE_CODE_UDP_OPFLAGS_*.
inline constexpr uint16_t kUdpAnySourceIp = 0x0001;
inline constexpr uint16_t kUdpAnySourcePort = 0x0002;
inline constexpr uint16_t kUdpAnyDestinationIp = 0x0004;
inline constexpr uint16_t kUdpAnyDestinationPort = 0x0008;

struct PxeBaseCodeProtocol {
    uint64_t revision;
    void* start;
    void* stop;
    void* dhcp;
    void* discover;
    Status(HALCYON_EFIAPI* mtftp)(PxeBaseCodeProtocol* self, TftpOpcode operation, void* buffer,
                                  Boolean overwrite, uint64_t* buffer_size, const Uintn* block_size,
                                  const IpAddress* server_ip, const uint8_t* file_name,
                                  const void* mtftp_info, Boolean dont_use_buffer);
    Status(HALCYON_EFIAPI* udp_write)(PxeBaseCodeProtocol* self, uint16_t flags,
                                      const IpAddress* destination_ip,
                                      const uint16_t* destination_port, const IpAddress* gateway_ip,
                                      const IpAddress* source_ip, uint16_t* source_port,
                                      const Uintn* header_size, const void* header,
                                      const Uintn* buffer_size, const void* buffer);
    Status(HALCYON_EFIAPI* udp_read)(PxeBaseCodeProtocol* self, uint16_t flags,
                                     IpAddress* destination_ip, uint16_t* destination_port,
                                     IpAddress* source_ip, uint16_t* source_port,
                                     Uintn* header_size, void* header, Uintn* buffer_size,
                                     void* buffer);
    void* set_ip_filter;
    void* arp;
    void* set_parameters;
    void* set_station_ip;
    void* set_packets;
    PxeMode* mode;
};

inline constexpr Guid kPxeBaseCodeProtocolGuid = {
    0x03C4E603, 0xAC28, 0x11D3, {0x9A, 0x2D, 0x00, 0x90, 0x27, 0x3F, 0xC1, 0x4D}};

} // namespace halcyon::efi
