#include "boot/multiboot2/boot_information.hpp"

namespace halcyon::multiboot2 {

namespace {

template <typename T>
[[nodiscard]] T read(std::span<const uint8_t> bytes, size_t offset) {
    T value;
    __builtin_memcpy(&value, bytes.data() + offset, sizeof(T));
    return value;
}

// The NUL-terminated string in [offset, end) of `bytes`; an error when it is not terminated
// there (the tag's size must include the NUL).
[[nodiscard]] ErrorOr<std::string_view> read_string(std::span<const uint8_t> bytes, size_t offset,
                                                    size_t end) {
    for (size_t i = offset; i < end; ++i) {
        if (bytes[i] == 0)
            return std::string_view(reinterpret_cast<const char*>(bytes.data() + offset),
                                    i - offset);
    }
    return Error(ErrorCode::corrupt, "Multiboot2 string is not NUL terminated within its tag");
}

[[nodiscard]] bool is_byte_layout(const RgbColorInfo& c, uint8_t red, uint8_t green, uint8_t blue) {
    return c.red_size == 8 && c.green_size == 8 && c.blue_size == 8 && c.red_position == red &&
           c.green_position == green && c.blue_position == blue;
}

// The hand-off describes 32-bit pixels with 8-bit channels in RGBX or BGRX byte order (what
// every UEFI GOP and almost every VBE mode uses); anything else is left undescribed.
void read_framebuffer(std::span<const uint8_t> tag, BootInformation& out) {
    auto header = read<FramebufferTag>(tag, 0);
    if (header.framebuffer_type == kFramebufferEgaText) {
        out.display = Display::text;
        out.text_buffer = header.address;
        out.text_columns = header.width;
        out.text_rows = header.height;
        return;
    }
    out.display = Display::other;
    if (header.framebuffer_type != kFramebufferRgb || header.bits_per_pixel != 32 ||
        tag.size() < sizeof(FramebufferTag) + sizeof(RgbColorInfo) || header.address == 0 ||
        header.pitch % 4 != 0 || header.pitch / 4 < header.width)
        return;
    auto colors = read<RgbColorInfo>(tag, sizeof(FramebufferTag));
    handoff::PixelFormat format;
    if (is_byte_layout(colors, 0, 8, 16))
        format = handoff::PixelFormat::rgbx;
    else if (is_byte_layout(colors, 16, 8, 0))
        format = handoff::PixelFormat::bgrx;
    else
        return;
    out.display = Display::linear;
    out.framebuffer = handoff::Framebuffer{
        .physical_base = header.address,
        .size = uint64_t{header.pitch} * header.height,
        .width = header.width,
        .height = header.height,
        .pixels_per_scanline = header.pitch / 4,
        .format = format,
    };
}

[[nodiscard]] ErrorOr<void> read_tag(std::span<const uint8_t> bytes, size_t offset, TagHeader tag,
                                     BootInformation& out, bool& have_new_rsdp) {
    const size_t end = offset + tag.size;
    auto payload = bytes.subspan(offset, tag.size);
    switch (static_cast<TagType>(tag.type)) {
    case TagType::command_line:
        out.command_line = TRY(read_string(bytes, offset + sizeof(TagHeader), end));
        break;
    case TagType::boot_loader_name:
        out.boot_loader_name = TRY(read_string(bytes, offset + sizeof(TagHeader), end));
        break;
    case TagType::module: {
        if (tag.size < sizeof(ModuleTag))
            return Error(ErrorCode::corrupt, "Multiboot2 module tag is too small");
        auto module = read<ModuleTag>(bytes, offset);
        if (module.module_end < module.module_start)
            return Error(ErrorCode::corrupt, "Multiboot2 module ends before it starts");
        if (out.module_count == kMaxModules)
            return Error(ErrorCode::out_of_range, "more Multiboot2 modules than Halcyon takes");
        out.modules[out.module_count++] = Module{
            .start = module.module_start,
            .end = module.module_end,
            .name = TRY(read_string(bytes, offset + sizeof(ModuleTag), end)),
        };
        break;
    }
    case TagType::bios_boot_device:
        if (tag.size < sizeof(BiosBootDeviceTag))
            return Error(ErrorCode::corrupt, "Multiboot2 boot device tag is too small");
        out.has_bios_boot_device = true;
        out.bios_boot_drive = read<BiosBootDeviceTag>(bytes, offset).bios_drive;
        break;
    case TagType::memory_map: {
        if (tag.size < sizeof(MemoryMapTag))
            return Error(ErrorCode::corrupt, "Multiboot2 memory map tag is too small");
        auto map = read<MemoryMapTag>(bytes, offset);
        if (map.entry_size < sizeof(MemoryMapEntry) || map.entry_size % 8 != 0)
            return Error(ErrorCode::corrupt, "Multiboot2 memory map entry size is invalid");
        out.memory_map = payload.subspan(sizeof(MemoryMapTag));
        out.memory_map_entry_size = map.entry_size;
        out.memory_map_entry_count = out.memory_map.size() / map.entry_size;
        break;
    }
    case TagType::framebuffer:
        if (tag.size < sizeof(FramebufferTag))
            return Error(ErrorCode::corrupt, "Multiboot2 framebuffer tag is too small");
        read_framebuffer(payload, out);
        break;
    case TagType::acpi_new_rsdp:
        out.rsdp = payload.subspan(sizeof(TagHeader));
        have_new_rsdp = true;
        break;
    case TagType::acpi_old_rsdp:
        if (!have_new_rsdp)
            out.rsdp = payload.subspan(sizeof(TagHeader));
        break;
    default:
        break; // tags Halcyon has no use for
    }
    return {};
}

} // namespace

MemoryMapEntry BootInformation::memory_map_entry(size_t index) const {
    return read<MemoryMapEntry>(memory_map, index * memory_map_entry_size);
}

ErrorOr<void> parse_boot_information(std::span<const uint8_t> bytes, BootInformation& out) {
    out = BootInformation{};
    if (bytes.size() < sizeof(InformationHeader))
        return Error(ErrorCode::corrupt, "Multiboot2 boot information is truncated");
    auto header = read<InformationHeader>(bytes, 0);
    if (header.total_size < sizeof(InformationHeader) + sizeof(TagHeader) ||
        header.total_size > bytes.size())
        return Error(ErrorCode::corrupt, "Multiboot2 boot information has an invalid size");
    bytes = bytes.first(header.total_size);
    out.total_size = header.total_size;

    bool have_new_rsdp = false;
    size_t offset = sizeof(InformationHeader);
    while (true) {
        if (bytes.size() - offset < sizeof(TagHeader))
            return Error(ErrorCode::corrupt, "Multiboot2 boot information has no end tag");
        auto tag = read<TagHeader>(bytes, offset);
        if (tag.size < sizeof(TagHeader) || tag.size > bytes.size() - offset)
            return Error(ErrorCode::corrupt, "Multiboot2 tag size runs past the information");
        if (static_cast<TagType>(tag.type) == TagType::end)
            break;
        TRY(read_tag(bytes, offset, tag, out, have_new_rsdp));
        // The next tag starts at the next 8-byte boundary; the padding may end the information
        // only if an end tag still fits (checked at the top of the loop).
        size_t advance = (tag.size + kTagAlignment - 1) & ~size_t{kTagAlignment - 1};
        if (advance > bytes.size() - offset)
            return Error(ErrorCode::corrupt, "Multiboot2 boot information has no end tag");
        offset += advance;
    }
    if (out.memory_map_entry_count == 0)
        return Error(ErrorCode::not_found, "the boot loader passed no memory map");
    return {};
}

} // namespace halcyon::multiboot2
