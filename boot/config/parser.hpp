// The state of one parse of halcyon.cfg, shared by the line driver (config.cpp) and the key
// handlers (keys.cpp). Internal to boot/config.
#pragma once

#include "boot/config/config.hpp"
#include "boot/config/text.hpp"

namespace halcyon::config::detail {

enum class Section : uint8_t {
    global,     // before any [section] header
    management, // [management]
    vm,         // [vm NAME]
    ignored,    // after a bad header: its keys are skipped (the header was already reported)
};

inline constexpr size_t kMaxKeysPerSection = 16;
// Position of `kernel` in the [vm NAME] key table (checked in keys.cpp): a VM whose kernel line
// was present but wrong already has a diagnostic, so "no kernel" is reported only when absent.
inline constexpr size_t kVmKernelKey = 0;

struct Parser;
using KeyHandler = void (*)(Parser& parser, const text::Value& value);

struct KeySpec {
    const char* name;
    KeyHandler handle;
    bool repeatable; // may appear more than once (disk)
};

struct SectionKeys {
    const KeySpec* keys;
    size_t count;
};

// The keys of each section kind, defined in keys.cpp.
[[nodiscard]] SectionKeys keys_of(Section section);

struct Parser {
    BootConfig& out;
    Diagnostics& diagnostics;
    uint32_t added = 0; // diagnostics reported by this parse (stored or dropped)

    uint32_t line = 0;
    Section section = Section::global;
    VmConfig* vm = nullptr; // the VM of the current [vm NAME] section

    // Line where each key was first set, per section instance, for duplicate reports.
    uint32_t global_lines[kMaxKeysPerSection] = {};
    uint32_t management_lines[kMaxKeysPerSection] = {};
    uint32_t vm_lines[kMaxVms][kMaxKeysPerSection] = {};
    uint32_t disk_lines[kMaxVms][kMaxDisksPerVm] = {};
    uint32_t management_header_line = 0;
    uint32_t gateway_line = 0;

    Parser(BootConfig& config, Diagnostics& sink) : out(config), diagnostics(sink) {}

    // Adds a diagnostic for the current line (or `at`), printf-style.
    __attribute__((format(printf, 2, 3))) void report(const char* fmt, ...);
    __attribute__((format(printf, 3, 4))) void report_at(uint32_t at, const char* fmt, ...);

    // "[vm demo]", "[management]" or "the global section", for messages.
    void describe_section(char* buffer, size_t size) const;

    [[nodiscard]] size_t vm_index() const { return static_cast<size_t>(vm - out.vms); }
};

// Longest user text quoted in a message, so every message fits Diagnostic::message.
inline constexpr int kQuoteLimit = 40;
[[nodiscard]] inline int quote_length(std::string_view text) {
    return text.size() < static_cast<size_t>(kQuoteLimit) ? static_cast<int>(text.size())
                                                          : kQuoteLimit;
}

} // namespace halcyon::config::detail

// Arguments for "%.*s" with a string_view, cut to kQuoteLimit characters.
#define QUOTED(view) ::halcyon::config::detail::quote_length(view), (view).data()
