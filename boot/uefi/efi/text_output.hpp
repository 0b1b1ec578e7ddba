// EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL (UEFI 2.10, section 12.4): the firmware console. OVMF mirrors
// it to the serial port, which is how the loader's progress lines reach a test log.
#pragma once

#include "boot/uefi/efi/types.hpp"

namespace halcyon::efi {

struct SimpleTextOutputProtocol {
    void* reset;
    Status(HALCYON_EFIAPI* output_string)(SimpleTextOutputProtocol* self, const Char16* string);
    void* test_string;
    void* query_mode;
    void* set_mode;
    void* set_attribute;
    void* clear_screen;
    void* set_cursor_position;
    void* enable_cursor;
    void* mode;
};

} // namespace halcyon::efi
