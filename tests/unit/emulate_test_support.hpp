// A model guest for the emulator tests: guest-physical addresses are host virtual addresses
// ("identity"), so the bytes the host CPU touches when it runs an instruction natively are the
// bytes the emulator sees. Regions are registered as RAM or as MMIO; MMIO accesses go through
// the MmioBus interface (and are counted) but land in the same host bytes.
#pragma once

#include "vmm/emulate/emulator.hpp"

#include <cstring>
#include <memory>
#include <vector>

namespace halcyon::emulate::testing {

class IdentityGuest final : public mm::GuestPhysicalMemory, public MmioBus {
public:
    struct Region {
        uint64_t start;
        uint64_t size;
    };

    void add_ram(const void* start, size_t size) { ram_.push_back({address(start), size}); }
    void add_mmio(const void* start, size_t size) { mmio_.push_back({address(start), size}); }
    void clear_data_regions() {
        ram_.resize(fixed_ram_);
        mmio_.clear();
    }
    // Regions added so far survive clear_data_regions() (the page tables, the code page).
    void freeze_ram() { fixed_ram_ = ram_.size(); }

    ErrorOr<void> read(uint64_t gpa, void* buffer, size_t size) override {
        if (!inside(ram_, gpa, size))
            return Error(ErrorCode::not_found, "not RAM");
        memcpy(buffer, reinterpret_cast<const void*>(gpa), size);
        return {};
    }
    ErrorOr<void> write(uint64_t gpa, const void* buffer, size_t size) override {
        if (!inside(ram_, gpa, size))
            return Error(ErrorCode::not_found, "not RAM");
        memcpy(reinterpret_cast<void*>(gpa), buffer, size);
        return {};
    }
    ErrorOr<uint64_t> read(uint64_t gpa, unsigned size) override {
        if (size < 1 || size > 8 || !inside(mmio_, gpa, size))
            return Error(ErrorCode::invalid_argument, "MMIO read outside the device");
        if (fail_mmio)
            return Error(ErrorCode::io, "device error");
        ++mmio_accesses;
        uint64_t value = 0;
        memcpy(&value, reinterpret_cast<const void*>(gpa), size);
        if (keep_log)
            log.push_back({false, gpa, size, value});
        return value;
    }
    ErrorOr<void> write(uint64_t gpa, unsigned size, uint64_t value) override {
        if (size < 1 || size > 8 || !inside(mmio_, gpa, size))
            return Error(ErrorCode::invalid_argument, "MMIO write outside the device");
        if (fail_mmio)
            return Error(ErrorCode::io, "device error");
        ++mmio_accesses;
        memcpy(reinterpret_cast<void*>(gpa), &value, size);
        if (keep_log)
            log.push_back({true, gpa, size, value});
        return {};
    }

    // 4-level tables mapping [start, start + size) linear to the same GPAs, with `flags` on
    // every level (present is always set).
    void map_identity(const void* start, size_t size, uint64_t flags = kWritable | kUser) {
        if (!pml4_)
            pml4_ = new_table();
        for (uint64_t page = address(start) & ~0xFFFULL; page < address(start) + size;
             page += 4096) {
            uint64_t* table = pml4_;
            for (int level = 3; level > 0; --level) {
                uint64_t& entry = table[(page >> (12 + 9 * level)) & 0x1FF];
                if (!(entry & 1))
                    entry = address(new_table()) | 1 | kWritable | kUser;
                table = reinterpret_cast<uint64_t*>(entry & 0x000F'FFFF'FFFF'F000ULL);
            }
            table[(page >> 12) & 0x1FF] = page | 1 | flags;
        }
    }
    [[nodiscard]] uint64_t cr3() const { return address(pml4_); }

    // Registers for 64-bit mode at the given CPL with these tables.
    [[nodiscard]] GuestRegisters long_mode_registers(unsigned cpl = 3) const {
        GuestRegisters regs;
        regs.cr0 = mm::guest_paging::kCr0ProtectionEnable | mm::guest_paging::kCr0WriteProtect |
                   mm::guest_paging::kCr0Paging;
        regs.cr3 = cr3();
        regs.cr4 = mm::guest_paging::kCr4Pae;
        regs.efer =
            mm::guest_paging::kEferLme | mm::guest_paging::kEferLma | mm::guest_paging::kEferNxe;
        const uint16_t dpl = static_cast<uint16_t>(cpl << 5);
        const uint16_t data =
            0x3 | 0x10 | dpl | SegmentRegister::kPresent | SegmentRegister::kDefaultBig;
        for (SegmentRegister& segment : regs.segment)
            segment = {0, data, 0xFFFF'FFFF, 0};
        regs.segment[kCs].attributes =
            0xB | 0x10 | dpl | SegmentRegister::kPresent | SegmentRegister::kLong;
        return regs;
    }

    // The page-table entry that maps `linear` (it must be mapped by map_identity()).
    uint64_t& leaf_entry(const void* linear) {
        uint64_t* table = pml4_;
        for (int level = 3; level > 0; --level)
            table = reinterpret_cast<uint64_t*>(
                table[(address(linear) >> (12 + 9 * level)) & 0x1FF] & 0x000F'FFFF'FFFF'F000ULL);
        return table[(address(linear) >> 12) & 0x1FF];
    }

    struct MmioAccess {
        bool write;
        uint64_t gpa;
        unsigned size;
        uint64_t value;
        bool operator==(const MmioAccess&) const = default;
    };

    static constexpr uint64_t kWritable = 2;
    static constexpr uint64_t kUser = 4;
    uint64_t mmio_accesses = 0;
    bool keep_log = false; // the native test runs too many cases to log
    bool fail_mmio = false;
    std::vector<MmioAccess> log;

private:
    struct alignas(4096) Table {
        uint64_t entries[512];
    };
    static uint64_t address(const void* pointer) { return reinterpret_cast<uint64_t>(pointer); }
    static bool inside(const std::vector<Region>& regions, uint64_t gpa, size_t size) {
        for (const Region& region : regions)
            if (gpa >= region.start && gpa + size <= region.start + region.size)
                return true;
        return false;
    }
    uint64_t* new_table() {
        tables_.push_back(std::make_unique<Table>());
        memset(tables_.back()->entries, 0, sizeof(Table));
        add_ram(tables_.back().get(), sizeof(Table));
        return tables_.back()->entries;
    }

    std::vector<Region> ram_;
    std::vector<Region> mmio_;
    size_t fixed_ram_ = 0;
    std::vector<std::unique_ptr<Table>> tables_;
    uint64_t* pml4_ = nullptr;
};

} // namespace halcyon::emulate::testing
