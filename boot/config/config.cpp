// halcyon.cfg: the line driver. Reads the file line by line, tracks the current section, hands
// each `key = value` to its handler (keys.cpp) and, at the end, checks what only the whole file
// can tell (a VM without a kernel, a gateway without a static address, a disk shared read-write).
// Every problem becomes a diagnostic and parsing goes on, so one run reports them all.
#include "boot/config/config.hpp"
#include "boot/config/parser.hpp"
#include "lib/format/format.hpp"

#include <stdarg.h>

namespace halcyon::config {
namespace detail {
namespace {

using text::slice;
using text::trim;

void add(Parser& parser, uint32_t line, const char* fmt, va_list args) {
    ++parser.added;
    Diagnostics& diagnostics = parser.diagnostics;
    if (diagnostics.count >= kMaxDiagnostics) {
        ++diagnostics.dropped;
        return;
    }
    Diagnostic& entry = diagnostics.entries[diagnostics.count++];
    entry.line = line;
    format::vformat(entry.message, sizeof(entry.message), fmt, args);
}

bool is_key_character(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

bool is_vm_name_character(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

const char* section_name(Section section) {
    return section == Section::management ? "[management]" : "[vm NAME]";
}

// An unknown key: point at the section it belongs to, or at a near miss in this one.
void report_unknown_key(Parser& p, std::string_view key) {
    char where[48];
    p.describe_section(where, sizeof(where));
    for (Section other : {Section::global, Section::management, Section::vm}) {
        if (other == p.section)
            continue;
        SectionKeys keys = keys_of(other);
        for (size_t i = 0; i < keys.count; ++i) {
            if (key == keys.keys[i].name) {
                if (other == Section::global)
                    p.report("key '%.*s' belongs before the first [section], not in %s",
                             QUOTED(key), where);
                else
                    p.report("key '%.*s' belongs in %s, not in %s", QUOTED(key),
                             section_name(other), where);
                return;
            }
        }
    }
    SectionKeys keys = keys_of(p.section);
    const char* best = nullptr;
    size_t best_distance = 3; // suggest only near misses (typos, swapped letters)
    for (size_t i = 0; i < keys.count; ++i) {
        size_t distance = text::edit_distance(key, keys.keys[i].name, best_distance);
        if (distance < best_distance) {
            best_distance = distance;
            best = keys.keys[i].name;
        }
    }
    if (best)
        p.report("unknown key '%.*s' in %s (did you mean '%s'?)", QUOTED(key), where, best);
    else
        p.report("unknown key '%.*s' in %s", QUOTED(key), where);
}

uint32_t* first_lines(Parser& p) {
    switch (p.section) {
    case Section::global:
        return p.global_lines;
    case Section::management:
        return p.management_lines;
    case Section::vm:
        return p.vm_lines[p.vm_index()];
    case Section::ignored:
        break;
    }
    return nullptr;
}

void key_value_line(Parser& p, std::string_view line, size_t equals) {
    std::string_view key = trim(slice(line, 0, equals));
    std::string_view raw = trim(slice(line, equals + 1));
    if (p.section == Section::ignored)
        return; // the section header was reported; its keys would only repeat that
    if (key.empty()) {
        p.report("missing key before '='");
        return;
    }
    for (char c : key) {
        if (!is_key_character(c)) {
            p.report("malformed key '%.*s': keys are lowercase letters, digits and '_'",
                     QUOTED(key));
            return;
        }
    }
    SectionKeys keys = keys_of(p.section);
    size_t index = keys.count;
    for (size_t i = 0; i < keys.count; ++i) {
        if (key == keys.keys[i].name)
            index = i;
    }
    if (index == keys.count) {
        report_unknown_key(p, key);
        return;
    }
    const KeySpec& spec = keys.keys[index];
    uint32_t* lines = first_lines(p);
    if (!spec.repeatable && lines[index] != 0) {
        p.report("'%s' is already set on line %u", spec.name, lines[index]);
        return;
    }
    lines[index] = p.line;
    if (raw.empty()) {
        p.report("'%s' has no value", spec.name);
        return;
    }
    text::Value value;
    const char* error;
    if (!text::split_value(raw, value, error)) {
        p.report("%s", error);
        return;
    }
    spec.handle(p, value);
}

void vm_header(Parser& p, std::string_view name) {
    p.section = Section::ignored;
    if (name.empty()) {
        p.report("a VM section needs a name: [vm NAME]");
        return;
    }
    if (name.size() >= kMaxName) {
        p.report("VM name '%.*s' is longer than %zu characters", QUOTED(name), kMaxName - 1);
        return;
    }
    for (char c : name) {
        if (!is_vm_name_character(c)) {
            p.report("VM name '%.*s' may only contain letters, digits, '_' and '-'", QUOTED(name));
            return;
        }
    }
    for (uint32_t i = 0; i < p.out.vm_count; ++i) {
        if (name == p.out.vms[i].name) {
            p.report("a VM named '%.*s' is already defined on line %u", QUOTED(name),
                     p.out.vms[i].first_line);
            return;
        }
    }
    if (p.out.vm_count == kMaxVms) {
        p.report("too many VMs: at most %zu are supported", kMaxVms);
        return;
    }
    VmConfig& vm = p.out.vms[p.out.vm_count++];
    for (size_t i = 0; i < name.size(); ++i)
        vm.name[i] = name[i];
    vm.name[name.size()] = '\0';
    vm.first_line = p.line;
    p.vm = &vm;
    p.section = Section::vm;
}

void section_line(Parser& p, std::string_view line) {
    size_t close = line.find(']');
    if (close == std::string_view::npos) {
        p.section = Section::ignored;
        p.report("section header is missing its closing ']'");
        return;
    }
    std::string_view after = trim(slice(line, close + 1));
    std::string_view inside = trim(slice(line, 1, close - 1));
    if (!after.empty()) {
        p.section = Section::ignored;
        p.report("unexpected '%.*s' after the section header", QUOTED(after));
        return;
    }
    if (inside == "management") {
        if (p.management_header_line != 0)
            p.report("[management] already appears on line %u; its keys are merged",
                     p.management_header_line);
        else
            p.management_header_line = p.line;
        p.section = Section::management;
        return;
    }
    if (inside == "vm" ||
        (inside.size() > 2 && slice(inside, 0, 2) == "vm" && text::is_space(inside[2]))) {
        vm_header(p, trim(slice(inside, 2)));
        return;
    }
    p.section = Section::ignored;
    p.report("unknown section [%.*s] (expected [management] or [vm NAME])", QUOTED(inside));
}

void parse_line(Parser& p, std::string_view line) {
    line = trim(text::strip_comment(line));
    if (line.empty())
        return;
    if (line.front() == '[') {
        section_line(p, line);
        return;
    }
    size_t equals = line.find('=');
    if (equals == std::string_view::npos) {
        p.report("expected 'key = value' or '[section]', not '%.*s'", QUOTED(line));
        return;
    }
    key_value_line(p, line, equals);
}

// "ds:/a" and "ds:a" are one file on the datastore.
bool same_file(std::string_view a, std::string_view b) {
    if (is_datastore_path(a) && is_datastore_path(b))
        return datastore_path(a) == datastore_path(b);
    return a == b;
}

// What only the whole file can tell.
void check_whole_file(Parser& p) {
    for (uint32_t i = 0; i < p.out.vm_count; ++i) {
        const VmConfig& vm = p.out.vms[i];
        if (p.vm_lines[i][kVmKernelKey] == 0)
            p.report_at(vm.first_line, "[vm %s] has no kernel (add 'kernel = FILE')", vm.name);
        if (vm.privileged && vm.vcpus != 1)
            p.report_at(vm.first_line,
                        "[vm %s] is privileged: a root partition has exactly one "
                        "vCPU for now",
                        vm.name);
    }

    const ManagementNetwork& net = p.out.management;
    if (p.gateway_line != 0 && net.mode != AddressMode::static_ipv4) {
        p.report_at(p.gateway_line, "gateway is only used with a static address (address = "
                                    "A.B.C.D/PREFIX)");
    } else if (p.gateway_line != 0) {
        uint32_t mask = ~uint32_t{0} << (32 - net.ipv4_prefix_length);
        if ((net.ipv4_gateway & mask) != (net.ipv4_address & mask))
            p.report_at(p.gateway_line, "gateway is outside the subnet of the management "
                                        "address");
    }

    // Two VMs writing one disk would corrupt it; sharing is only safe read-only.
    for (uint32_t a = 0; a < p.out.vm_count; ++a) {
        for (uint32_t b = a + 1; b < p.out.vm_count; ++b) {
            const VmConfig& first = p.out.vms[a];
            const VmConfig& second = p.out.vms[b];
            for (uint32_t i = 0; i < first.disk_count; ++i) {
                for (uint32_t j = 0; j < second.disk_count; ++j) {
                    const VmDisk& x = first.disks[i];
                    const VmDisk& y = second.disks[j];
                    if (!same_file(x.path, y.path) || (x.read_only && y.read_only))
                        continue;
                    p.report_at(p.disk_lines[b][j],
                                "disk '%s' is also used by [vm %s]; a shared disk must be "
                                "'ro' in every VM",
                                y.path, first.name);
                }
            }
        }
    }
}

// check_whole_file() reports after the line-by-line pass; put everything back in line order
// (stable, so several messages on one line keep their order) for the reader.
void sort_by_line(Diagnostics& diagnostics) {
    for (uint32_t i = 1; i < diagnostics.count; ++i) {
        Diagnostic moving = diagnostics.entries[i];
        uint32_t j = i;
        for (; j > 0 && diagnostics.entries[j - 1].line > moving.line; --j)
            diagnostics.entries[j] = diagnostics.entries[j - 1];
        diagnostics.entries[j] = moving;
    }
}

} // namespace

void Parser::report(const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    add(*this, line, fmt, args);
    va_end(args);
}

void Parser::report_at(uint32_t at, const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    add(*this, at, fmt, args);
    va_end(args);
}

void Parser::describe_section(char* buffer, size_t size) const {
    switch (section) {
    case Section::global:
        format::format(buffer, size, "the global section");
        break;
    case Section::management:
        format::format(buffer, size, "[management]");
        break;
    case Section::vm:
        format::format(buffer, size, "[vm %s]", vm->name);
        break;
    case Section::ignored:
        format::format(buffer, size, "an ignored section");
        break;
    }
}

} // namespace detail

bool parse(std::string_view text, BootConfig& out, Diagnostics& diagnostics) {
    detail::Parser parser(out, diagnostics);
    text::LineReader lines(text);
    std::string_view line;
    while (lines.next(line, parser.line))
        detail::parse_line(parser, line);
    detail::check_whole_file(parser);
    detail::sort_by_line(diagnostics);
    return parser.added == 0;
}

const char* log_level_name(LogLevel level) {
    switch (level) {
    case LogLevel::error:
        return "error";
    case LogLevel::warn:
        return "warn";
    case LogLevel::info:
        return "info";
    case LogLevel::debug:
        return "debug";
    case LogLevel::trace:
        return "trace";
    }
    return "unknown";
}

} // namespace halcyon::config
