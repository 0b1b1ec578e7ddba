// A validated view of an ELF64 x86-64 file: its loadable segments, its entry point and its
// function symbols. parse() checks every offset and size against the file, so once an Image
// exists none of its accessors can read outside the span it was given — hostile or truncated
// files are rejected up front with an error, never by a wild read. The Image does not own the
// bytes; the span must outlive it.
#pragma once

#include "lib/base/error_or.hpp"

#include <optional>
#include <span>
#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace halcyon::elf {

struct LoadSegment {
    uint64_t virtual_address;
    uint64_t file_offset;
    uint64_t file_size;
    uint64_t memory_size;
    bool writable;
    bool executable;
};

struct Symbol {
    std::string_view name;
    uint64_t offset; // offset of the address inside the symbol
};

class Image {
public:
    [[nodiscard]] static ErrorOr<Image> parse(std::span<const uint8_t> file);

    [[nodiscard]] uint64_t entry() const { return entry_; }
    [[nodiscard]] size_t load_segment_count() const { return load_segment_count_; }
    // index < load_segment_count(); segments in program header order.
    [[nodiscard]] LoadSegment load_segment(size_t index) const;
    // The function symbol (STT_FUNC, from .symtab/.strtab) containing `address`, if any.
    [[nodiscard]] std::optional<Symbol> symbolize(uint64_t address) const;

private:
    Image() = default;

    [[nodiscard]] ErrorOr<void> parse_program_headers();
    [[nodiscard]] ErrorOr<void> parse_section_headers();
    [[nodiscard]] std::optional<std::string_view> symbol_name(uint32_t string_offset) const;

    std::span<const uint8_t> file_;
    uint64_t entry_ = 0;

    uint64_t program_headers_offset_ = 0;
    size_t program_header_count_ = 0;
    size_t program_header_size_ = 0;
    size_t load_segment_count_ = 0;

    uint64_t section_headers_offset_ = 0;
    size_t section_header_count_ = 0;
    size_t section_header_size_ = 0;

    // .symtab and its string table; symbol_count_ == 0 when the file is stripped.
    uint64_t symbols_offset_ = 0;
    size_t symbol_count_ = 0;
    size_t symbol_size_ = 0;
    uint64_t strings_offset_ = 0;
    uint64_t strings_size_ = 0;
};

} // namespace halcyon::elf
