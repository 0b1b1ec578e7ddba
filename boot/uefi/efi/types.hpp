// Basic UEFI data types (UEFI Specification 2.10, section 2.3.1 "Data Types"), written for
// Halcyon. The loader is built for x86_64-windows-gnu, whose default calling convention is the
// Microsoft x64 one UEFI uses; HALCYON_EFIAPI makes that explicit so these headers also compile (as
// plain data) in the host world for unit tests.
#pragma once

#include <stddef.h>
#include <stdint.h>

#define HALCYON_EFIAPI __attribute__((ms_abi))

namespace halcyon::efi {

using Handle = void*;
using Event = void*;
using PhysicalAddress = uint64_t;
using VirtualAddress = uint64_t;
using Uintn = uint64_t; // UINTN: 64 bits on x86-64 (never `unsigned long`, which is 32 bits here)
using Boolean = uint8_t;
using Char16 = char16_t;

struct Guid {
    uint32_t data1;
    uint16_t data2;
    uint16_t data3;
    uint8_t data4[8];

    [[nodiscard]] bool operator==(const Guid& other) const {
        if (data1 != other.data1 || data2 != other.data2 || data3 != other.data3)
            return false;
        for (int i = 0; i < 8; ++i) {
            if (data4[i] != other.data4[i])
                return false;
        }
        return true;
    }
};
static_assert(sizeof(Guid) == 16);

// EFI_STATUS: errors have the top bit set (Appendix D "Status Codes").
enum class Status : uint64_t {
    success = 0,
    load_error = (1ull << 63) | 1,
    invalid_parameter = (1ull << 63) | 2,
    unsupported = (1ull << 63) | 3,
    bad_buffer_size = (1ull << 63) | 4,
    buffer_too_small = (1ull << 63) | 5,
    not_ready = (1ull << 63) | 6,
    device_error = (1ull << 63) | 7,
    write_protected = (1ull << 63) | 8,
    out_of_resources = (1ull << 63) | 9,
    not_found = (1ull << 63) | 14,
    access_denied = (1ull << 63) | 15,
    no_response = (1ull << 63) | 16,
    timeout = (1ull << 63) | 18,
    aborted = (1ull << 63) | 21,
    icmp_error = (1ull << 63) | 22,
    tftp_error = (1ull << 63) | 23,
    protocol_error = (1ull << 63) | 24,
};

[[nodiscard]] inline bool is_error(Status status) {
    return (static_cast<uint64_t>(status) >> 63) != 0;
}

// EFI_TABLE_HEADER: the common prefix of the system, boot services and runtime services tables.
struct TableHeader {
    uint64_t signature;
    uint32_t revision;
    uint32_t header_size;
    uint32_t crc32;
    uint32_t reserved;
};
static_assert(sizeof(TableHeader) == 24);

// EFI_TIME (section 8.3).
struct Time {
    uint16_t year;
    uint8_t month;
    uint8_t day;
    uint8_t hour;
    uint8_t minute;
    uint8_t second;
    uint8_t pad1;
    uint32_t nanosecond;
    int16_t time_zone;
    uint8_t daylight;
    uint8_t pad2;
};
static_assert(sizeof(Time) == 16);

// EFI_IP_ADDRESS: an IPv4 or IPv6 address in network byte order, 4-byte aligned.
union IpAddress {
    uint32_t words[4];
    uint8_t v4[4];
    uint8_t v6[16];
};
static_assert(sizeof(IpAddress) == 16);

} // namespace halcyon::efi
