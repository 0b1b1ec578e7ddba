// EFI_SYSTEM_TABLE and its configuration table (UEFI 2.10, sections 4.3 and 4.6), plus the
// configuration-table GUIDs the loader looks for (the ACPI RSDP).
#pragma once

#include "boot/uefi/efi/boot_services.hpp"
#include "boot/uefi/efi/runtime_services.hpp"
#include "boot/uefi/efi/text_output.hpp"
#include "boot/uefi/efi/types.hpp"

namespace halcyon::efi {

struct ConfigurationTable {
    Guid vendor_guid;
    void* vendor_table;
};

struct SystemTable {
    TableHeader header;
    const Char16* firmware_vendor;
    uint32_t firmware_revision;
    Handle console_in_handle;
    void* console_in;
    Handle console_out_handle;
    SimpleTextOutputProtocol* console_out;
    Handle standard_error_handle;
    SimpleTextOutputProtocol* standard_error;
    RuntimeServices* runtime_services;
    BootServices* boot_services;
    Uintn configuration_table_count;
    ConfigurationTable* configuration_table;
};

// EFI_ACPI_20_TABLE_GUID: RSDP revision 2+ (with the XSDT). Preferred.
inline constexpr Guid kAcpi20TableGuid = {
    0x8868E871, 0xE4F1, 0x11D3, {0xBC, 0x22, 0x00, 0x80, 0xC7, 0x3C, 0x88, 0x81}};
// ACPI_TABLE_GUID: the ACPI 1.0 RSDP (RSDT only), for old firmware.
inline constexpr Guid kAcpi10TableGuid = {
    0xEB9D2D30, 0x2D88, 0x11D3, {0x9A, 0x16, 0x00, 0x90, 0x27, 0x3F, 0xC1, 0x4D}};

} // namespace halcyon::efi
