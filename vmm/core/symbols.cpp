#include "vmm/core/symbols.hpp"

#include "lib/elf/elf_image.hpp"
#include "lib/format/format.hpp"
#include "vmm/arch/x86_64/backtrace.hpp"

#include <optional>

namespace halcyon::symbols {
namespace {

std::optional<elf::Image> g_image;

} // namespace

ErrorOr<void> init(std::span<const uint8_t> core_elf) {
    auto image = elf::Image::parse(core_elf);
    if (image.is_error())
        return image.release_error();
    g_image.emplace(image.release_value());
    return {};
}

bool available() {
    return g_image.has_value();
}

void describe(uint64_t address, bool is_return_address, char* out, size_t capacity) {
    if (capacity == 0)
        return;
    out[0] = '\0';
    if (!g_image) {
        format::format(out, capacity, "?");
        return;
    }
    const uint64_t lookup = is_return_address ? address - 1 : address;
    const std::optional<elf::Symbol> symbol = g_image->symbolize(lookup);
    if (!symbol) {
        format::format(out, capacity, "?");
        return;
    }
    const uint64_t offset = symbol->offset + (address - lookup);
    format::format(out, capacity, "%.*s+0x%llx", static_cast<int>(symbol->name.size()),
                   symbol->name.data(), static_cast<unsigned long long>(offset));
}

void print_backtrace(log::EmergencyOutput& out, const char* prefix, uint64_t pc,
                     bool pc_is_return_address, uint64_t rbp) {
    char name[128];
    describe(pc, pc_is_return_address, name, sizeof(name));
    out.print("%s   #0 0x%016llx %s\n", prefix, static_cast<unsigned long long>(pc), name);

    uint64_t return_addresses[kMaxFrames - 1];
    const size_t count = x86::walk_frame_pointers(rbp, return_addresses, kMaxFrames - 1);
    for (size_t i = 0; i < count; ++i) {
        describe(return_addresses[i], true, name, sizeof(name));
        out.print("%s   #%zu 0x%016llx %s\n", prefix, i + 1,
                  static_cast<unsigned long long>(return_addresses[i]), name);
    }
}

} // namespace halcyon::symbols
