// ELF64 parser tests: hand-assembled files (valid, stripped and hostile), every truncation of a
// valid file, byte-level mutations, and the real ELF files of the host (this test binary itself
// carries a .symtab, so symbolization is checked against the linker's own output).
#include "lib/elf/elf_format.hpp"
#include "lib/elf/elf_image.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <link.h>
#include <string>
#include <vector>

using halcyon::ErrorCode;
using halcyon::elf::Image;
namespace format = halcyon::elf::format;

namespace {

struct TestSymbol {
    std::string name;
    uint64_t value;
    uint64_t size;
    uint8_t type;
    uint16_t section_index;
};

struct TestSegment {
    uint64_t virtual_address;
    std::vector<uint8_t> bytes;
    uint64_t memory_size;
    uint32_t flags;
};

// Assembles an ELF64 file: header, program headers, segment bytes, .strtab, .symtab, and
// section headers [null, .symtab, .strtab] at the very end (so any truncation cuts them).
struct ElfBuilder {
    uint64_t entry = 0xFFFFFFFF80001000;
    std::vector<TestSegment> segments;
    std::vector<TestSymbol> symbols;
    bool with_sections = true;

    // Offsets of interesting structures in the last build(), for tests that corrupt them.
    size_t program_headers_offset = 0;
    size_t section_headers_offset = 0;
    size_t strings_offset = 0;
    size_t strings_size = 0;

    template <typename T>
    static void put(std::vector<uint8_t>& out, size_t offset, const T& value) {
        std::memcpy(out.data() + offset, &value, sizeof(T));
    }

    std::vector<uint8_t> build() {
        std::vector<uint8_t> out(sizeof(format::FileHeader));
        program_headers_offset = out.size();
        out.resize(out.size() + segments.size() * sizeof(format::ProgramHeader));
        for (size_t i = 0; i < segments.size(); ++i) {
            const auto& segment = segments[i];
            format::ProgramHeader header{};
            header.type = format::kSegmentLoad;
            header.flags = segment.flags;
            header.offset = out.size();
            header.virtual_address = segment.virtual_address;
            header.physical_address = segment.virtual_address;
            header.file_size = segment.bytes.size();
            header.memory_size = segment.memory_size;
            header.alignment = 0x1000;
            put(out, program_headers_offset + i * sizeof(format::ProgramHeader), header);
            out.insert(out.end(), segment.bytes.begin(), segment.bytes.end());
        }

        format::FileHeader header{};
        std::memcpy(header.ident, format::kMagic, 4);
        header.ident[4] = format::kClass64;
        header.ident[5] = format::kDataLittle;
        header.ident[6] = format::kVersionCurrent;
        header.type = format::kTypeExecutable;
        header.machine = format::kMachineX86_64;
        header.version = format::kVersionCurrent;
        header.entry = entry;
        header.program_header_offset = segments.empty() ? 0 : program_headers_offset;
        header.header_size = sizeof(format::FileHeader);
        header.program_header_size = sizeof(format::ProgramHeader);
        header.program_header_count = static_cast<uint16_t>(segments.size());

        if (with_sections) {
            strings_offset = out.size();
            out.push_back(0);
            std::vector<uint32_t> name_offsets;
            for (const auto& symbol : symbols) {
                name_offsets.push_back(static_cast<uint32_t>(out.size() - strings_offset));
                out.insert(out.end(), symbol.name.begin(), symbol.name.end());
                out.push_back(0);
            }
            strings_size = out.size() - strings_offset;

            size_t symbols_offset = out.size();
            out.resize(out.size() + (symbols.size() + 1) * sizeof(format::Symbol)); // + null
            for (size_t i = 0; i < symbols.size(); ++i) {
                format::Symbol symbol{};
                symbol.name = name_offsets[i];
                symbol.info = symbols[i].type;
                symbol.section_index = symbols[i].section_index;
                symbol.value = symbols[i].value;
                symbol.size = symbols[i].size;
                put(out, symbols_offset + (i + 1) * sizeof(format::Symbol), symbol);
            }

            section_headers_offset = out.size();
            out.resize(out.size() + 3 * sizeof(format::SectionHeader));
            format::SectionHeader symtab{};
            symtab.type = format::kSectionSymbolTable;
            symtab.offset = symbols_offset;
            symtab.size = (symbols.size() + 1) * sizeof(format::Symbol);
            symtab.link = 2;
            symtab.entry_size = sizeof(format::Symbol);
            put(out, section_headers_offset + 1 * sizeof(format::SectionHeader), symtab);
            format::SectionHeader strtab{};
            strtab.type = format::kSectionStringTable;
            strtab.offset = strings_offset;
            strtab.size = strings_size;
            put(out, section_headers_offset + 2 * sizeof(format::SectionHeader), strtab);

            header.section_header_offset = section_headers_offset;
            header.section_header_size = sizeof(format::SectionHeader);
            header.section_header_count = 3;
        }
        put(out, 0, header);
        return out;
    }
};

ElfBuilder typical_core() {
    ElfBuilder builder;
    builder.segments.push_back(
        {0xFFFFFFFF80001000, std::vector<uint8_t>(0x40, 0x90), 0x40, format::kSegmentFlagExecute});
    builder.segments.push_back(
        {0xFFFFFFFF80002000, std::vector<uint8_t>(0x10, 0xAB), 0x3000, format::kSegmentFlagWrite});
    builder.symbols = {
        {"core_entry", 0xFFFFFFFF80001000, 0x20, format::kSymbolTypeFunction, 1},
        {"panic", 0xFFFFFFFF80001020, 0x10, format::kSymbolTypeFunction, 1},
        {"unsized_stub", 0xFFFFFFFF80001038, 0, format::kSymbolTypeFunction, 1},
        {"some_data", 0xFFFFFFFF80002000, 0x10, 1 /* STT_OBJECT */, 2},
        {"imported", 0xFFFFFFFF80001030, 0x10, format::kSymbolTypeFunction,
         format::kSectionIndexUndefined},
    };
    return builder;
}

ErrorCode parse_error(const std::vector<uint8_t>& file) {
    auto result = Image::parse(file);
    EXPECT_TRUE(result.is_error());
    return result.is_error() ? result.error().code() : ErrorCode::invalid_argument;
}

template <typename T>
void patch(std::vector<uint8_t>& file, size_t offset, const T& value) {
    std::memcpy(file.data() + offset, &value, sizeof(T));
}

// Calls every accessor, so that under ASan any out-of-bounds read would abort the test.
void exercise(const Image& image) {
    for (size_t i = 0; i < image.load_segment_count(); ++i)
        (void)image.load_segment(i);
    for (uint64_t address :
         {uint64_t{0}, image.entry(), uint64_t{0xFFFFFFFF80001024}, uint64_t{0xFFFFFFFF80001038}})
        if (auto symbol = image.symbolize(address))
            (void)symbol->name.size();
}

std::vector<uint8_t> read_file(const char* path) {
    std::ifstream stream(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(stream), {});
}

} // namespace

TEST(ElfImage, ParsesSegmentsAndEntry) {
    auto builder = typical_core();
    auto file = builder.build();
    auto result = Image::parse(file);
    ASSERT_FALSE(result.is_error()) << result.error().message();
    const Image& image = result.value();
    EXPECT_EQ(image.entry(), 0xFFFFFFFF80001000u);
    ASSERT_EQ(image.load_segment_count(), 2u);

    auto text = image.load_segment(0);
    EXPECT_EQ(text.virtual_address, 0xFFFFFFFF80001000u);
    EXPECT_EQ(text.file_size, 0x40u);
    EXPECT_EQ(text.memory_size, 0x40u);
    EXPECT_TRUE(text.executable);
    EXPECT_FALSE(text.writable);
    EXPECT_EQ(file[text.file_offset], 0x90);

    auto data = image.load_segment(1);
    EXPECT_EQ(data.virtual_address, 0xFFFFFFFF80002000u);
    EXPECT_EQ(data.file_size, 0x10u);
    EXPECT_EQ(data.memory_size, 0x3000u);
    EXPECT_TRUE(data.writable);
    EXPECT_FALSE(data.executable);
    EXPECT_EQ(file[data.file_offset], 0xAB);

    auto past_end = image.load_segment(2);
    EXPECT_EQ(past_end.memory_size, 0u);
}

TEST(ElfImage, SkipsNonLoadSegments) {
    auto builder = typical_core();
    auto file = builder.build();
    patch(file, builder.program_headers_offset, uint32_t{4}); // first one becomes PT_NOTE
    auto result = Image::parse(file);
    ASSERT_FALSE(result.is_error());
    ASSERT_EQ(result.value().load_segment_count(), 1u);
    EXPECT_EQ(result.value().load_segment(0).virtual_address, 0xFFFFFFFF80002000u);
}

TEST(ElfImage, SymbolizesFunctions) {
    auto builder = typical_core();
    auto file = builder.build();
    auto result = Image::parse(file);
    ASSERT_FALSE(result.is_error());
    const Image& image = result.value();

    auto entry = image.symbolize(0xFFFFFFFF80001000);
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->name, "core_entry");
    EXPECT_EQ(entry->offset, 0u);

    auto inside = image.symbolize(0xFFFFFFFF8000101F);
    ASSERT_TRUE(inside);
    EXPECT_EQ(inside->name, "core_entry");
    EXPECT_EQ(inside->offset, 0x1Fu);

    auto panic = image.symbolize(0xFFFFFFFF80001025);
    ASSERT_TRUE(panic);
    EXPECT_EQ(panic->name, "panic");
    EXPECT_EQ(panic->offset, 5u);

    // Between functions, past the end of `panic`, inside an undefined symbol's range.
    EXPECT_FALSE(image.symbolize(0xFFFFFFFF80001030));
    // An unsized function matches only its own address.
    auto stub = image.symbolize(0xFFFFFFFF80001038);
    ASSERT_TRUE(stub);
    EXPECT_EQ(stub->name, "unsized_stub");
    EXPECT_FALSE(image.symbolize(0xFFFFFFFF80001039));
    // Data symbols are not functions.
    EXPECT_FALSE(image.symbolize(0xFFFFFFFF80002004));
    EXPECT_FALSE(image.symbolize(0));
}

TEST(ElfImage, PrefersTheInnermostOfNestedFunctions) {
    auto builder = typical_core();
    builder.symbols.push_back({"inner", 0xFFFFFFFF80001010, 0x8, format::kSymbolTypeFunction, 1});
    auto file = builder.build();
    auto result = Image::parse(file);
    ASSERT_FALSE(result.is_error());
    auto symbol = result.value().symbolize(0xFFFFFFFF80001012);
    ASSERT_TRUE(symbol);
    EXPECT_EQ(symbol->name, "inner");
    EXPECT_EQ(symbol->offset, 2u);
    EXPECT_EQ(result.value().symbolize(0xFFFFFFFF80001018)->name, "core_entry");
}

TEST(ElfImage, StrippedFileHasNoSymbols) {
    auto builder = typical_core();
    builder.with_sections = false;
    auto file = builder.build();
    auto result = Image::parse(file);
    ASSERT_FALSE(result.is_error());
    EXPECT_EQ(result.value().load_segment_count(), 2u);
    EXPECT_FALSE(result.value().symbolize(0xFFFFFFFF80001000));
}

TEST(ElfImage, RejectsWrongIdentity) {
    auto file = typical_core().build();
    EXPECT_EQ(parse_error({}), ErrorCode::corrupt);
    EXPECT_EQ(parse_error(std::vector<uint8_t>(file.begin(), file.begin() + 63)),
              ErrorCode::corrupt);

    auto bad_magic = file;
    bad_magic[1] = 'X';
    EXPECT_EQ(parse_error(bad_magic), ErrorCode::corrupt);
    auto elf32 = file;
    elf32[4] = 1;
    EXPECT_EQ(parse_error(elf32), ErrorCode::not_supported);
    auto big_endian = file;
    big_endian[5] = 2;
    EXPECT_EQ(parse_error(big_endian), ErrorCode::not_supported);
    auto aarch64 = file;
    patch(aarch64, offsetof(format::FileHeader, machine), uint16_t{183});
    EXPECT_EQ(parse_error(aarch64), ErrorCode::not_supported);
    auto relocatable = file;
    patch(relocatable, offsetof(format::FileHeader, type), uint16_t{1});
    EXPECT_EQ(parse_error(relocatable), ErrorCode::not_supported);
}

TEST(ElfImage, RejectsEveryTruncation) {
    auto file = typical_core().build();
    ASSERT_FALSE(Image::parse(file).is_error());
    for (size_t length = 0; length < file.size(); ++length) {
        // A copy of exactly `length` bytes, so ASan catches any read past it.
        std::vector<uint8_t> prefix(file.begin(), file.begin() + static_cast<long>(length));
        EXPECT_TRUE(Image::parse(prefix).is_error()) << "length " << length;
    }
}

TEST(ElfImage, RejectsBadProgramHeaderTable) {
    auto builder = typical_core();
    auto file = builder.build();

    auto small_entries = file;
    patch(small_entries, offsetof(format::FileHeader, program_header_size), uint16_t{32});
    EXPECT_EQ(parse_error(small_entries), ErrorCode::corrupt);

    auto far_table = file;
    patch(far_table, offsetof(format::FileHeader, program_header_offset), uint64_t{~0ull - 8});
    EXPECT_EQ(parse_error(far_table), ErrorCode::corrupt);

    auto many_entries = file;
    patch(many_entries, offsetof(format::FileHeader, program_header_count), uint16_t{0xFFFE});
    EXPECT_EQ(parse_error(many_entries), ErrorCode::corrupt);

    // PN_XNUM asks for section header 0, whose sh_info (0 here) is then the count.
    auto extended = file;
    patch(extended, offsetof(format::FileHeader, program_header_count), uint16_t{0xFFFF});
    auto result = Image::parse(extended);
    ASSERT_FALSE(result.is_error());
    EXPECT_EQ(result.value().load_segment_count(), 0u);
    patch(extended, builder.section_headers_offset + offsetof(format::SectionHeader, info),
          uint32_t{2});
    auto counted = Image::parse(extended);
    ASSERT_FALSE(counted.is_error());
    EXPECT_EQ(counted.value().load_segment_count(), 2u);
    patch(extended, builder.section_headers_offset + offsetof(format::SectionHeader, info),
          uint32_t{0xFFFFFFFF});
    EXPECT_EQ(parse_error(extended), ErrorCode::corrupt);

    auto extended_without_sections = typical_core();
    extended_without_sections.with_sections = false;
    auto no_sections = extended_without_sections.build();
    patch(no_sections, offsetof(format::FileHeader, program_header_count), uint16_t{0xFFFF});
    EXPECT_EQ(parse_error(no_sections), ErrorCode::corrupt);
}

TEST(ElfImage, RejectsBadSegments) {
    auto builder = typical_core();
    auto file = builder.build();
    size_t second = builder.program_headers_offset + sizeof(format::ProgramHeader);

    auto file_larger_than_memory = file;
    patch(file_larger_than_memory, second + offsetof(format::ProgramHeader, file_size),
          uint64_t{0x4000});
    EXPECT_EQ(parse_error(file_larger_than_memory), ErrorCode::corrupt);

    auto past_end = file;
    patch(past_end, second + offsetof(format::ProgramHeader, offset), uint64_t{file.size() - 8});
    EXPECT_EQ(parse_error(past_end), ErrorCode::corrupt);

    auto overflowing_offset = file;
    patch(overflowing_offset, second + offsetof(format::ProgramHeader, offset), uint64_t{~0ull});
    EXPECT_EQ(parse_error(overflowing_offset), ErrorCode::corrupt);

    auto wrapping = file;
    patch(wrapping, second + offsetof(format::ProgramHeader, memory_size),
          uint64_t{0x0000000080000000});
    EXPECT_EQ(parse_error(wrapping), ErrorCode::corrupt);
}

TEST(ElfImage, RejectsBadSectionTables) {
    auto builder = typical_core();
    auto file = builder.build();
    size_t symtab = builder.section_headers_offset + sizeof(format::SectionHeader);
    size_t strtab = symtab + sizeof(format::SectionHeader);

    auto small_entries = file;
    patch(small_entries, offsetof(format::FileHeader, section_header_size), uint16_t{40});
    EXPECT_EQ(parse_error(small_entries), ErrorCode::corrupt);

    auto too_many = file;
    patch(too_many, offsetof(format::FileHeader, section_header_count), uint16_t{4});
    EXPECT_EQ(parse_error(too_many), ErrorCode::corrupt);

    auto zero_entry_size = file;
    patch(zero_entry_size, symtab + offsetof(format::SectionHeader, entry_size), uint64_t{0});
    EXPECT_EQ(parse_error(zero_entry_size), ErrorCode::corrupt);

    auto huge_symtab = file;
    patch(huge_symtab, symtab + offsetof(format::SectionHeader, size), uint64_t{~0ull - 4});
    EXPECT_EQ(parse_error(huge_symtab), ErrorCode::corrupt);

    auto missing_link = file;
    patch(missing_link, symtab + offsetof(format::SectionHeader, link), uint32_t{3});
    EXPECT_EQ(parse_error(missing_link), ErrorCode::corrupt);

    auto link_to_itself = file;
    patch(link_to_itself, symtab + offsetof(format::SectionHeader, link), uint32_t{1});
    EXPECT_EQ(parse_error(link_to_itself), ErrorCode::corrupt);

    auto strings_past_end = file;
    patch(strings_past_end, strtab + offsetof(format::SectionHeader, size), uint64_t{file.size()});
    EXPECT_EQ(parse_error(strings_past_end), ErrorCode::corrupt);

    // Extended section numbering with a count whose table size overflows.
    auto extended = file;
    patch(extended, offsetof(format::FileHeader, section_header_count), uint16_t{0});
    patch(extended, builder.section_headers_offset + offsetof(format::SectionHeader, size),
          uint64_t{1ull << 60});
    EXPECT_EQ(parse_error(extended), ErrorCode::corrupt);
    patch(extended, builder.section_headers_offset + offsetof(format::SectionHeader, size),
          uint64_t{3});
    EXPECT_FALSE(Image::parse(extended).is_error());
}

TEST(ElfImage, IgnoresSymbolsWithBrokenNames) {
    auto builder = typical_core();
    auto file = builder.build();
    auto result = Image::parse(file);
    ASSERT_FALSE(result.is_error());
    ASSERT_TRUE(result.value().symbolize(0xFFFFFFFF80001000));

    // Name offset past the string table: the symbol is skipped, not read out of bounds.
    auto far_name = file;
    size_t first_symbol = builder.strings_offset + builder.strings_size + sizeof(format::Symbol);
    patch(far_name, first_symbol + offsetof(format::Symbol, name), uint32_t{0x7FFFFFFF});
    auto far = Image::parse(far_name);
    ASSERT_FALSE(far.is_error());
    EXPECT_FALSE(far.value().symbolize(0xFFFFFFFF80001000));

    // A string table whose last name lacks its terminator: shrink it by one byte.
    builder.symbols = {{"last", 0xFFFFFFFF80001000, 0x10, format::kSymbolTypeFunction, 1}};
    auto unterminated = builder.build();
    size_t strtab = builder.section_headers_offset + 2 * sizeof(format::SectionHeader);
    patch(unterminated, strtab + offsetof(format::SectionHeader, size),
          uint64_t{builder.strings_size - 1});
    auto cut = Image::parse(unterminated);
    ASSERT_FALSE(cut.is_error());
    EXPECT_FALSE(cut.value().symbolize(0xFFFFFFFF80001000));
}

TEST(ElfImage, SurvivesRandomMutations) {
    auto original = typical_core().build();
    uint64_t state = 0x9E3779B97F4A7C15ull;
    auto next = [&state] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    size_t parsed = 0;
    for (int round = 0; round < 20000; ++round) {
        auto file = original;
        int flips = 1 + static_cast<int>(next() % 4);
        for (int i = 0; i < flips; ++i)
            file[next() % file.size()] = static_cast<uint8_t>(next());
        auto result = Image::parse(file);
        if (result.is_error())
            continue;
        ++parsed;
        exercise(result.value());
    }
    EXPECT_GT(parsed, 0u); // most single-byte changes hit data, not structure
}

TEST(ElfImage, ParsesHostExecutable) {
    auto file = read_file("/bin/true");
    ASSERT_GT(file.size(), 64u);
    auto result = Image::parse(file);
    ASSERT_FALSE(result.is_error()) << result.error().message();
    const Image& image = result.value();
    ASSERT_GT(image.load_segment_count(), 0u);
    bool entry_is_executable = false;
    for (size_t i = 0; i < image.load_segment_count(); ++i) {
        auto segment = image.load_segment(i);
        EXPECT_LE(segment.file_size, segment.memory_size);
        EXPECT_LE(segment.file_offset + segment.file_size, file.size());
        if (segment.executable && image.entry() >= segment.virtual_address &&
            image.entry() < segment.virtual_address + segment.memory_size)
            entry_is_executable = true;
    }
    EXPECT_TRUE(entry_is_executable);
}

extern "C" __attribute__((noinline, used)) int halcyon_elf_test_marker(int value) {
    return value * 3 + 1;
}

TEST(ElfImage, SymbolizesThisTestBinary) {
    auto file = read_file("/proc/self/exe");
    auto result = Image::parse(file);
    ASSERT_FALSE(result.is_error()) << result.error().message();

    // The binary may be position independent: link address = run-time address - load bias.
    uint64_t load_bias = 0;
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* bias) {
            *static_cast<uint64_t*>(bias) = info->dlpi_addr;
            return 1; // the first object is the executable
        },
        &load_bias);
    auto runtime = reinterpret_cast<uint64_t>(&halcyon_elf_test_marker);
    auto symbol = result.value().symbolize(runtime - load_bias + 2);
    ASSERT_TRUE(symbol);
    EXPECT_EQ(symbol->name, "halcyon_elf_test_marker");
    EXPECT_EQ(symbol->offset, 2u);
    EXPECT_EQ(halcyon_elf_test_marker(1), 4);
}
