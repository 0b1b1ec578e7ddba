#include "lib/elf/elf_image.hpp"

#include "lib/elf/elf_format.hpp"

namespace halcyon::elf {

namespace {

// True when [offset, offset + size) lies inside a buffer of `total` bytes, without overflowing.
[[nodiscard]] bool range_fits(uint64_t offset, uint64_t size, uint64_t total) {
    return offset <= total && size <= total - offset;
}

// True when `count` entries of `entry_size` bytes starting at `offset` fit in `total` bytes.
[[nodiscard]] bool table_fits(uint64_t offset, uint64_t count, uint64_t entry_size,
                              uint64_t total) {
    if (entry_size != 0 && count > total / entry_size)
        return false;
    return range_fits(offset, count * entry_size, total);
}

// Reads a T at `offset` (which the caller has bounds-checked). memcpy because ELF offsets need
// not be aligned for T.
template <typename T>
[[nodiscard]] T read_at(std::span<const uint8_t> file, uint64_t offset) {
    T value;
    __builtin_memcpy(&value, file.data() + offset, sizeof(T));
    return value;
}

} // namespace

ErrorOr<Image> Image::parse(std::span<const uint8_t> file) {
    if (file.size() < sizeof(format::FileHeader))
        return Error(ErrorCode::corrupt, "ELF file is shorter than its header");
    auto header = read_at<format::FileHeader>(file, 0);
    if (__builtin_memcmp(header.ident, format::kMagic, sizeof(format::kMagic)) != 0)
        return Error(ErrorCode::corrupt, "not an ELF file (bad magic)");
    if (header.ident[4] != format::kClass64)
        return Error(ErrorCode::not_supported, "ELF file is not 64-bit");
    if (header.ident[5] != format::kDataLittle)
        return Error(ErrorCode::not_supported, "ELF file is not little-endian");
    if (header.ident[6] != format::kVersionCurrent || header.version != format::kVersionCurrent)
        return Error(ErrorCode::not_supported, "unknown ELF version");
    if (header.machine != format::kMachineX86_64)
        return Error(ErrorCode::not_supported, "ELF file is not for x86-64");
    if (header.type != format::kTypeExecutable && header.type != format::kTypeShared)
        return Error(ErrorCode::not_supported, "ELF file is not an executable");

    Image image;
    image.file_ = file;
    image.entry_ = header.entry;

    image.section_headers_offset_ = header.section_header_offset;
    image.section_header_count_ = header.section_header_count;
    image.section_header_size_ = header.section_header_size;
    image.program_headers_offset_ = header.program_header_offset;
    image.program_header_count_ = header.program_header_count;
    image.program_header_size_ = header.program_header_size;

    // Extended numbering: with too many sections or segments for the 16-bit header fields, the
    // real counts live in section header 0 (sh_size and sh_info).
    bool extended_sections = header.section_header_offset != 0 && header.section_header_count == 0;
    bool extended_segments = header.program_header_count == format::kProgramHeaderCountExtended;
    if (extended_sections || extended_segments) {
        if (header.section_header_offset == 0 ||
            header.section_header_size < sizeof(format::SectionHeader) ||
            !range_fits(header.section_header_offset, sizeof(format::SectionHeader), file.size()))
            return Error(ErrorCode::corrupt, "ELF extended numbering without section header 0");
        auto first = read_at<format::SectionHeader>(file, header.section_header_offset);
        if (extended_sections)
            image.section_header_count_ = first.size;
        if (extended_segments)
            image.program_header_count_ = first.info;
    }

    TRY(image.parse_program_headers());
    TRY(image.parse_section_headers());
    return image;
}

ErrorOr<void> Image::parse_program_headers() {
    if (program_header_count_ == 0)
        return {};
    if (program_header_size_ < sizeof(format::ProgramHeader))
        return Error(ErrorCode::corrupt, "ELF program header entries are too small");
    if (!table_fits(program_headers_offset_, program_header_count_, program_header_size_,
                    file_.size()))
        return Error(ErrorCode::corrupt, "ELF program header table lies outside the file");

    for (size_t i = 0; i < program_header_count_; ++i) {
        auto segment = read_at<format::ProgramHeader>(file_, program_headers_offset_ +
                                                                 i * program_header_size_);
        if (segment.type != format::kSegmentLoad)
            continue;
        if (segment.file_size > segment.memory_size)
            return Error(ErrorCode::corrupt, "ELF segment has more file bytes than memory bytes");
        if (!range_fits(segment.offset, segment.file_size, file_.size()))
            return Error(ErrorCode::corrupt, "ELF segment data lies outside the file");
        if (segment.virtual_address + segment.memory_size < segment.virtual_address)
            return Error(ErrorCode::corrupt, "ELF segment wraps around the address space");
        ++load_segment_count_;
    }
    return {};
}

ErrorOr<void> Image::parse_section_headers() {
    if (section_headers_offset_ == 0 || section_header_count_ == 0)
        return {};
    if (section_header_size_ < sizeof(format::SectionHeader))
        return Error(ErrorCode::corrupt, "ELF section header entries are too small");
    if (!table_fits(section_headers_offset_, section_header_count_, section_header_size_,
                    file_.size()))
        return Error(ErrorCode::corrupt, "ELF section header table lies outside the file");

    for (size_t i = 0; i < section_header_count_; ++i) {
        auto section = read_at<format::SectionHeader>(file_, section_headers_offset_ +
                                                                 i * section_header_size_);
        if (section.type != format::kSectionSymbolTable)
            continue;
        // The first symbol table is the static one (.symtab); there is only ever one.
        if (section.entry_size < sizeof(format::Symbol))
            return Error(ErrorCode::corrupt, "ELF symbol table entries are too small");
        if (!range_fits(section.offset, section.size, file_.size()))
            return Error(ErrorCode::corrupt, "ELF symbol table lies outside the file");
        if (section.link >= section_header_count_)
            return Error(ErrorCode::corrupt, "ELF symbol table names a missing string table");
        auto strings = read_at<format::SectionHeader>(
            file_, section_headers_offset_ + section.link * section_header_size_);
        if (strings.type != format::kSectionStringTable)
            return Error(ErrorCode::corrupt, "ELF symbol table's link is not a string table");
        if (!range_fits(strings.offset, strings.size, file_.size()))
            return Error(ErrorCode::corrupt, "ELF string table lies outside the file");

        symbols_offset_ = section.offset;
        symbol_size_ = section.entry_size;
        symbol_count_ = section.size / section.entry_size;
        strings_offset_ = strings.offset;
        strings_size_ = strings.size;
        break;
    }
    return {};
}

LoadSegment Image::load_segment(size_t index) const {
    size_t seen = 0;
    for (size_t i = 0; i < program_header_count_; ++i) {
        auto segment = read_at<format::ProgramHeader>(file_, program_headers_offset_ +
                                                                 i * program_header_size_);
        if (segment.type != format::kSegmentLoad)
            continue;
        if (seen++ != index)
            continue;
        return LoadSegment{
            .virtual_address = segment.virtual_address,
            .file_offset = segment.offset,
            .file_size = segment.file_size,
            .memory_size = segment.memory_size,
            .writable = (segment.flags & format::kSegmentFlagWrite) != 0,
            .executable = (segment.flags & format::kSegmentFlagExecute) != 0,
        };
    }
    // Out-of-range index: a caller bug. An empty segment is harmless to every caller.
    return LoadSegment{0, 0, 0, 0, false, false};
}

std::optional<std::string_view> Image::symbol_name(uint32_t string_offset) const {
    if (string_offset >= strings_size_)
        return std::nullopt;
    const auto* start = reinterpret_cast<const char*>(file_.data() + strings_offset_);
    // The name must end with a NUL inside the string table.
    size_t limit = strings_size_ - string_offset;
    size_t length = 0;
    while (length < limit && start[string_offset + length] != '\0')
        ++length;
    if (length == limit)
        return std::nullopt;
    return std::string_view(start + string_offset, length);
}

std::optional<Symbol> Image::symbolize(uint64_t address) const {
    std::optional<format::Symbol> best;
    for (size_t i = 0; i < symbol_count_; ++i) {
        auto symbol = read_at<format::Symbol>(file_, symbols_offset_ + i * symbol_size_);
        if ((symbol.info & 0xF) != format::kSymbolTypeFunction)
            continue;
        if (symbol.section_index == format::kSectionIndexUndefined)
            continue;
        if (address < symbol.value)
            continue;
        uint64_t offset = address - symbol.value;
        // A sized function covers [value, value + size); an unsized one only its first byte.
        bool inside = symbol.size == 0 ? offset == 0 : offset < symbol.size;
        if (!inside)
            continue;
        // With overlapping (aliased or nested) symbols, the innermost one is the most precise.
        if (best && best->value >= symbol.value)
            continue;
        if (!symbol_name(symbol.name))
            continue;
        best = symbol;
    }
    if (!best)
        return std::nullopt;
    return Symbol{.name = *symbol_name(best->name), .offset = address - best->value};
}

} // namespace halcyon::elf
