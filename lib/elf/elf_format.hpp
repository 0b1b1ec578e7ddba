// The on-disk ELF64 structures we read, written from the System V ABI (gABI) and its x86-64
// supplement. Only what the parser needs; every field is fixed width so the layout is the same
// in all three build worlds.
#pragma once

#include <stdint.h>

namespace halcyon::elf::format {

inline constexpr uint8_t kMagic[4] = {0x7F, 'E', 'L', 'F'};
inline constexpr uint8_t kClass64 = 2;    // EI_CLASS: ELFCLASS64
inline constexpr uint8_t kDataLittle = 1; // EI_DATA: ELFDATA2LSB
inline constexpr uint8_t kVersionCurrent = 1;
inline constexpr uint16_t kTypeExecutable = 2; // ET_EXEC
inline constexpr uint16_t kTypeShared = 3;     // ET_DYN (position-independent executables)
inline constexpr uint16_t kMachineX86_64 = 62; // EM_X86_64

// When the real count does not fit the 16-bit header field it lives in section header 0.
inline constexpr uint16_t kProgramHeaderCountExtended = 0xFFFF; // PN_XNUM
inline constexpr uint16_t kSectionIndexUndefined = 0;           // SHN_UNDEF
inline constexpr uint16_t kSectionIndexReserveStart = 0xFF00;   // SHN_LORESERVE

inline constexpr uint32_t kSegmentLoad = 1; // PT_LOAD
inline constexpr uint32_t kSegmentFlagExecute = 1;
inline constexpr uint32_t kSegmentFlagWrite = 2;

inline constexpr uint32_t kSectionSymbolTable = 2; // SHT_SYMTAB
inline constexpr uint32_t kSectionStringTable = 3; // SHT_STRTAB

inline constexpr uint8_t kSymbolTypeFunction = 2; // STT_FUNC

struct FileHeader {
    uint8_t ident[16];
    uint16_t type;
    uint16_t machine;
    uint32_t version;
    uint64_t entry;
    uint64_t program_header_offset;
    uint64_t section_header_offset;
    uint32_t flags;
    uint16_t header_size;
    uint16_t program_header_size;
    uint16_t program_header_count;
    uint16_t section_header_size;
    uint16_t section_header_count;
    uint16_t section_name_index;
};
static_assert(sizeof(FileHeader) == 64);

struct ProgramHeader {
    uint32_t type;
    uint32_t flags;
    uint64_t offset;
    uint64_t virtual_address;
    uint64_t physical_address;
    uint64_t file_size;
    uint64_t memory_size;
    uint64_t alignment;
};
static_assert(sizeof(ProgramHeader) == 56);

struct SectionHeader {
    uint32_t name;
    uint32_t type;
    uint64_t flags;
    uint64_t address;
    uint64_t offset;
    uint64_t size;
    uint32_t link;
    uint32_t info;
    uint64_t alignment;
    uint64_t entry_size;
};
static_assert(sizeof(SectionHeader) == 64);

struct Symbol {
    uint32_t name;
    uint8_t info; // type in the low nibble, binding in the high nibble
    uint8_t other;
    uint16_t section_index;
    uint64_t value;
    uint64_t size;
};
static_assert(sizeof(Symbol) == 24);

} // namespace halcyon::elf::format
