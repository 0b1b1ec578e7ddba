#include "boot/multiboot2/console.hpp"

#include "boot/common/cpu.hpp"
#include "boot/multiboot2/legacy_pc.hpp"
#include "boot/multiboot2/power_off.hpp"
#include "drivers/uart/uart_16550.hpp"
#include "lib/format/format.hpp"

#include <stdarg.h>

namespace halcyon::multiboot2 {

namespace {

drivers::Uart16550 g_serial;

// The VGA text screen: 16-bit cells (character, attribute), written like a teletype.
struct TextScreen {
    volatile uint16_t* cells = nullptr;
    uint32_t columns = 0, rows = 0;
    uint32_t column = 0, row = 0;
};
TextScreen g_screen;
constexpr uint16_t kLightGreyOnBlack = 0x07 << 8;

uint64_t g_rsdp = 0;

void screen_newline() {
    g_screen.column = 0;
    if (++g_screen.row < g_screen.rows)
        return;
    // Scroll up one line and clear the last.
    for (uint32_t i = 0; i < (g_screen.rows - 1) * g_screen.columns; ++i)
        g_screen.cells[i] = g_screen.cells[i + g_screen.columns];
    for (uint32_t i = 0; i < g_screen.columns; ++i)
        g_screen.cells[(g_screen.rows - 1) * g_screen.columns + i] = kLightGreyOnBlack | ' ';
    g_screen.row = g_screen.rows - 1;
}

void screen_write(const char* text) {
    if (g_screen.cells == nullptr)
        return;
    for (const char* p = text; *p; ++p) {
        if (*p == '\n') {
            screen_newline();
            continue;
        }
        if (g_screen.column == g_screen.columns)
            screen_newline();
        g_screen.cells[g_screen.row * g_screen.columns + g_screen.column++] =
            kLightGreyOnBlack | static_cast<uint8_t>(*p);
    }
}

void write_line_va(const char* prefix, const char* format, va_list arguments) {
    char line[512];
    // vformat returns the untruncated length (like vsnprintf): clamp to what the buffer holds.
    size_t length = format::format(line, sizeof(line), "%s", prefix);
    if (length >= sizeof(line))
        length = sizeof(line) - 1;
    length += format::vformat(line + length, sizeof(line) - length, format, arguments);
    if (length >= sizeof(line) - 1)
        length = sizeof(line) - 2;
    line[length++] = '\n';
    line[length] = '\0';
    g_serial.write(line, length);
    screen_write(line);
}

} // namespace

void console_init() {
    // Failure leaves the UART silent; the screen (if any) still shows what happens.
    (void)g_serial.init(drivers::Uart16550::kCom1, 115200);
}

void console_use_text_screen(uint64_t buffer, uint32_t columns, uint32_t rows) {
    if (buffer == 0 || columns == 0 || rows == 0 || columns > 256 || rows > 256)
        return;
    g_screen.cells = reinterpret_cast<volatile uint16_t*>(buffer);
    g_screen.columns = columns;
    g_screen.rows = rows;
    for (uint32_t i = 0; i < columns * rows; ++i)
        g_screen.cells[i] = kLightGreyOnBlack | ' ';
    g_screen.column = g_screen.row = 0;
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

void set_power_off_rsdp(uint64_t rsdp_physical) {
    g_rsdp = rsdp_physical;
}

void fail(const char* reason, const char* detail) {
    if (detail != nullptr)
        log("error: %s", detail);
    print_line("HALCYON BOOT FAILED: %s", reason);
    delay_milliseconds(2000);
    if (g_rsdp != 0) {
        if (auto result = acpi_power_off(g_rsdp); result.is_error())
            log("cannot power off: %s", result.error().message());
    }
    loader::cpu::halt_forever();
}

void fail(const char* reason, Error error) {
    fail(reason, error.message());
}

} // namespace halcyon::multiboot2
