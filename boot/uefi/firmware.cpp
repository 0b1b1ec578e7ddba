#include "boot/uefi/firmware.hpp"

#include "boot/common/cpu.hpp"
#include "lib/format/format.hpp"

#include <stdarg.h>

namespace halcyon::loader {

namespace {

Firmware g_firmware;

// Sends UTF-8/ASCII text to the UEFI console, which wants UCS-2 with CR LF line ends.
void console_write(const char* text) {
    efi::SystemTable* system_table = g_firmware.system_table;
    if (system_table == nullptr || system_table->console_out == nullptr)
        return;
    char16_t chunk[129];
    size_t used = 0;
    auto flush = [&] {
        chunk[used] = 0;
        (void)system_table->console_out->output_string(system_table->console_out, chunk);
        used = 0;
    };
    for (const char* p = text; *p; ++p) {
        if (used + 2 >= 128)
            flush();
        if (*p == '\n')
            chunk[used++] = u'\r';
        chunk[used++] = static_cast<char16_t>(static_cast<unsigned char>(*p));
    }
    if (used != 0)
        flush();
}

// After ExitBootServices the console is gone; a fatal message still deserves to be seen, so it
// goes to COM1 directly (which the firmware has already initialised).
void serial_write(const char* text) {
    constexpr uint16_t kCom1 = 0x3F8;
    constexpr uint16_t kLineStatus = kCom1 + 5;
    constexpr uint8_t kTransmitterEmpty = 1 << 5;
    for (const char* p = text; *p; ++p) {
        if (*p == '\n')
            serial_write("\r");
        for (int spin = 0; spin < 100000 && (cpu::in8(kLineStatus) & kTransmitterEmpty) == 0;
             ++spin) {
        }
        cpu::out8(kCom1, static_cast<uint8_t>(*p));
    }
}

void write_text(const char* text) {
    if (g_firmware.boot_services != nullptr)
        console_write(text);
    else
        serial_write(text);
}

void write_line_va(const char* prefix, const char* format, va_list arguments) {
    char line[512];
    // vformat returns the untruncated length (like vsnprintf): clamp to what the buffer holds.
    size_t length = format::format(line, sizeof(line), "%s", prefix);
    if (length >= sizeof(line))
        length = sizeof(line) - 1;
    length += format::vformat(line + length, sizeof(line) - length, format, arguments);
    if (length >= sizeof(line))
        length = sizeof(line) - 1;
    if (length + 1 < sizeof(line)) {
        line[length++] = '\n';
        line[length] = '\0';
    }
    write_text(line);
}

} // namespace

Firmware& firmware() {
    return g_firmware;
}

void log(const char* format, ...) {
    va_list arguments;
    va_start(arguments, format);
    write_line_va("halcyon-loader: ", format, arguments);
    va_end(arguments);
}

void print_line(const char* format, ...) {
    va_list arguments;
    va_start(arguments, format);
    write_line_va("", format, arguments);
    va_end(arguments);
}

void fail(const char* reason, const char* detail) {
    if (detail != nullptr)
        log("error: %s", detail);
    print_line("HALCYON BOOT FAILED: %s", reason);
    efi::SystemTable* system_table = g_firmware.system_table;
    if (g_firmware.boot_services != nullptr)
        (void)g_firmware.boot_services->stall(2'000'000);
    else
        for (uint64_t start = cpu::read_tsc(); cpu::read_tsc() - start < 4'000'000'000ull;) {
            // No Stall() after ExitBootServices: roughly two seconds of TSC at typical clocks.
        }
    if (system_table != nullptr && system_table->runtime_services != nullptr)
        system_table->runtime_services->reset_system(efi::ResetType::shutdown, efi::Status::aborted,
                                                     0, nullptr);
    // ResetSystem does not return; if broken firmware lets it, stop here for good.
    for (;;)
        asm volatile("cli; hlt");
}

void fail(const char* reason, Error error) {
    fail(reason, error.message());
}

ErrorOr<uint64_t> allocate_pages(uint64_t page_count, uint32_t memory_type) {
    efi::PhysicalAddress address = 0;
    auto status = g_firmware.boot_services->allocate_pages(efi::AllocateType::any_pages,
                                                           memory_type, page_count, &address);
    if (efi::is_error(status))
        return status_error(status, "out of memory allocating pages");
    __builtin_memset(reinterpret_cast<void*>(address), 0, page_count * efi::kPageSize);
    return address;
}

ErrorOr<uint64_t> allocate_pages_below(uint64_t limit, uint64_t page_count, uint32_t memory_type) {
    // AllocateMaxAddress takes the highest address the allocation may touch (inclusive).
    efi::PhysicalAddress address = limit - 1;
    auto status = g_firmware.boot_services->allocate_pages(efi::AllocateType::max_address,
                                                           memory_type, page_count, &address);
    if (efi::is_error(status))
        return status_error(status, "no free pages below the requested address");
    __builtin_memset(reinterpret_cast<void*>(address), 0, page_count * efi::kPageSize);
    return address;
}

void free_pages(uint64_t physical_address, uint64_t page_count) {
    if (page_count != 0)
        (void)g_firmware.boot_services->free_pages(physical_address, page_count);
}

const char* status_name(efi::Status status) {
    switch (status) {
    case efi::Status::success:
        return "success";
    case efi::Status::load_error:
        return "EFI_LOAD_ERROR";
    case efi::Status::invalid_parameter:
        return "EFI_INVALID_PARAMETER";
    case efi::Status::unsupported:
        return "EFI_UNSUPPORTED";
    case efi::Status::bad_buffer_size:
        return "EFI_BAD_BUFFER_SIZE";
    case efi::Status::buffer_too_small:
        return "EFI_BUFFER_TOO_SMALL";
    case efi::Status::not_ready:
        return "EFI_NOT_READY";
    case efi::Status::device_error:
        return "EFI_DEVICE_ERROR";
    case efi::Status::write_protected:
        return "EFI_WRITE_PROTECTED";
    case efi::Status::out_of_resources:
        return "EFI_OUT_OF_RESOURCES";
    case efi::Status::not_found:
        return "EFI_NOT_FOUND";
    case efi::Status::access_denied:
        return "EFI_ACCESS_DENIED";
    case efi::Status::no_response:
        return "EFI_NO_RESPONSE";
    case efi::Status::timeout:
        return "EFI_TIMEOUT";
    case efi::Status::aborted:
        return "EFI_ABORTED";
    case efi::Status::icmp_error:
        return "EFI_ICMP_ERROR";
    case efi::Status::tftp_error:
        return "EFI_TFTP_ERROR";
    case efi::Status::protocol_error:
        return "EFI_PROTOCOL_ERROR";
    }
    return "unknown EFI status";
}

Error status_error(efi::Status status, const char* message) {
    switch (status) {
    case efi::Status::not_found:
        return Error(ErrorCode::not_found, message);
    case efi::Status::out_of_resources:
        return Error(ErrorCode::out_of_memory, message);
    case efi::Status::timeout:
    case efi::Status::no_response:
        return Error(ErrorCode::timeout, message);
    case efi::Status::unsupported:
        return Error(ErrorCode::not_supported, message);
    case efi::Status::access_denied:
        return Error(ErrorCode::permission, message);
    case efi::Status::invalid_parameter:
    case efi::Status::bad_buffer_size:
    case efi::Status::buffer_too_small:
        return Error(ErrorCode::invalid_argument, message);
    default:
        return Error(ErrorCode::io, message);
    }
}

} // namespace halcyon::loader
