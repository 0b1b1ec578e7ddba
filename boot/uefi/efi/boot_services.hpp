// EFI_BOOT_SERVICES (UEFI 2.10, section 4.4). Only the services the loader calls are typed;
// the rest keep their slot as an opaque pointer so the layout matches the specification.
#pragma once

#include "boot/uefi/efi/memory.hpp"
#include "boot/uefi/efi/types.hpp"

namespace halcyon::efi {

// EFI_LOCATE_SEARCH_TYPE.
enum class LocateSearchType : uint32_t { all_handles = 0, by_register_notify = 1, by_protocol = 2 };

struct BootServices {
    TableHeader header;

    void* raise_tpl;
    void* restore_tpl;

    Status(HALCYON_EFIAPI* allocate_pages)(AllocateType type, uint32_t memory_type,
                                           Uintn page_count, PhysicalAddress* memory);
    Status(HALCYON_EFIAPI* free_pages)(PhysicalAddress memory, Uintn page_count);
    Status(HALCYON_EFIAPI* get_memory_map)(Uintn* map_size, MemoryDescriptor* map, Uintn* map_key,
                                           Uintn* descriptor_size, uint32_t* descriptor_version);
    Status(HALCYON_EFIAPI* allocate_pool)(uint32_t memory_type, Uintn size, void** buffer);
    Status(HALCYON_EFIAPI* free_pool)(void* buffer);

    void* create_event;
    void* set_timer;
    void* wait_for_event;
    void* signal_event;
    void* close_event;
    void* check_event;

    void* install_protocol_interface;
    void* reinstall_protocol_interface;
    void* uninstall_protocol_interface;
    Status(HALCYON_EFIAPI* handle_protocol)(Handle handle, const Guid* protocol, void** interface);
    void* reserved;
    void* register_protocol_notify;
    void* locate_handle;
    void* locate_device_path;
    void* install_configuration_table;

    void* load_image;
    void* start_image;
    void* exit;
    void* unload_image;
    Status(HALCYON_EFIAPI* exit_boot_services)(Handle image, Uintn map_key);

    void* get_next_monotonic_count;
    Status(HALCYON_EFIAPI* stall)(Uintn microseconds);
    Status(HALCYON_EFIAPI* set_watchdog_timer)(Uintn timeout_seconds, uint64_t watchdog_code,
                                               Uintn data_size, const Char16* data);

    void* connect_controller;
    void* disconnect_controller;

    void* open_protocol;
    void* close_protocol;
    void* open_protocol_information;

    void* protocols_per_handle;
    void* locate_handle_buffer;
    Status(HALCYON_EFIAPI* locate_protocol)(const Guid* protocol, void* registration,
                                            void** interface);
    void* install_multiple_protocol_interfaces;
    void* uninstall_multiple_protocol_interfaces;

    void* calculate_crc32;

    void* copy_mem;
    void* set_mem;
    void* create_event_ex;
};

} // namespace halcyon::efi
