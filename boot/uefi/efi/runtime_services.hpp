// EFI_RUNTIME_SERVICES (UEFI 2.10, section 4.5). The loader only needs ResetSystem, to power
// the machine off after a fatal error so that a test harness (or QEMU) never hangs.
#pragma once

#include "boot/uefi/efi/types.hpp"

namespace halcyon::efi {

// EFI_RESET_TYPE.
enum class ResetType : uint32_t { cold = 0, warm = 1, shutdown = 2, platform_specific = 3 };

struct RuntimeServices {
    TableHeader header;

    void* get_time;
    void* set_time;
    void* get_wakeup_time;
    void* set_wakeup_time;

    void* set_virtual_address_map;
    void* convert_pointer;

    void* get_variable;
    void* get_next_variable_name;
    void* set_variable;

    void* get_next_high_monotonic_count;
    void(HALCYON_EFIAPI* reset_system)(ResetType type, Status status, Uintn data_size,
                                       const void* data);

    void* update_capsule;
    void* query_capsule_capabilities;
    void* query_variable_info;
};

} // namespace halcyon::efi
