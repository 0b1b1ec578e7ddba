#include "mgmt/net/core_platform.hpp"

#include "mm/page_table_policies.hpp"
#include "vmm/arch/x86_64/random.hpp"

#include <string.h>

namespace halcyon::mgmt::net {
namespace {

constexpr uint64_t kDirectMapLimit = 1ULL << 46; // as mm/core_address_space.cpp builds it

uint64_t read_cr3() {
    uint64_t value;
    asm volatile("mov %%cr3, %0" : "=r"(value));
    return value;
}

// The CPU's random number instructions (shared with the rest of the core).
using x86::has_rdrand;
using x86::has_rdseed;
using x86::rdrand64;
using x86::rdseed64;

uint8_t cmos_read(uint8_t reg) {
    uint8_t value;
    // Bit 7 of the index port is the NMI mask: keep NMIs enabled.
    asm volatile("outb %0, $0x70" : : "a"(static_cast<uint8_t>(reg & 0x7F)));
    asm volatile("inb $0x71, %0" : "=a"(value));
    return value;
}

uint8_t from_bcd(uint8_t value) {
    return static_cast<uint8_t>((value >> 4) * 10 + (value & 0xF));
}

// Days since 1970-01-01 of a proleptic Gregorian date (the usual era-based computation).
int64_t days_from_civil(int64_t year, unsigned month, unsigned day) {
    year -= month <= 2 ? 1 : 0;
    const int64_t era = (year >= 0 ? year : year - 399) / 400;
    const unsigned year_of_era = static_cast<unsigned>(year - era * 400);
    const unsigned day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    const unsigned day_of_era =
        year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + static_cast<int64_t>(day_of_era) - 719468;
}

struct RtcFields {
    uint8_t second, minute, hour, day, month, year;
    friend bool operator==(const RtcFields&, const RtcFields&) = default;
};

RtcFields read_rtc_fields() {
    // Wait out an update in progress (status A bit 7), then read.
    for (int i = 0; i < 100000 && (cmos_read(0x0A) & 0x80) != 0; ++i)
        asm volatile("pause");
    return {cmos_read(0x00), cmos_read(0x02), cmos_read(0x04),
            cmos_read(0x07), cmos_read(0x08), cmos_read(0x09)};
}

} // namespace

ErrorOr<drivers::DmaRegion> CoreDeviceMemory::allocate_dma(size_t size) {
    const size_t pages = (size + mm::kPageSize - 1) / mm::kPageSize;
    if (pages == 0)
        return Error(ErrorCode::invalid_argument, "empty DMA allocation");
    const uint64_t physical = TRY(frames_.allocate(pages));
    uint8_t* virt = mm::PhysicalWindow::direct_map().to_virtual<uint8_t>(physical);
    memset(virt, 0, pages * mm::kPageSize);
    return drivers::DmaRegion{virt, physical, pages * mm::kPageSize};
}

ErrorOr<volatile uint8_t*> CoreDeviceMemory::map_mmio(uint64_t physical, uint64_t size) {
    if (size == 0 || physical >= kDirectMapLimit || size > kDirectMapLimit - physical)
        return Error(ErrorCode::out_of_range, "MMIO range outside the direct map");
    const uint64_t first = physical & ~(mm::kPageSize - 1);
    const uint64_t end = (physical + size + mm::kPageSize - 1) & ~(mm::kPageSize - 1);
    const mm::PhysicalWindow window = mm::PhysicalWindow::direct_map();
    auto table = mm::X86PageTable::adopt(mm::WindowTableMemory(window),
                                         mm::FrameTableAllocator(frames_, window),
                                         read_cr3() & ~0xFFFULL, mm::LargePages{false, false});
    // Pages already mapped (a BAR inside an MMIO region of the memory map, or a structure
    // sharing a page with one mapped before) keep their mapping if it is uncached already.
    for (uint64_t page = first; page < end; page += mm::kPageSize) {
        const uint64_t virt = handoff::kDirectMapBase + page;
        if (auto existing = table.lookup(virt)) {
            if (existing->attributes.cache != mm::CacheMode::uncached)
                return Error(ErrorCode::busy, "MMIO page is already mapped cacheable");
            continue;
        }
        TRY(table.map(virt, page, mm::kPageSize,
                      mm::Attributes{true, false, false, mm::CacheMode::uncached}));
    }
    return reinterpret_cast<volatile uint8_t*>(handoff::kDirectMapBase + physical);
}

void TscDelay::delay_us(uint32_t microseconds) {
    const uint64_t start = read_tsc();
    const uint64_t ticks = ticks_per_us_ * microseconds;
    while (read_tsc() - start < ticks)
        asm volatile("pause");
}

int64_t read_rtc_unix_seconds() {
    RtcFields fields = read_rtc_fields();
    for (int i = 0; i < 5; ++i) {
        const RtcFields again = read_rtc_fields();
        if (again == fields)
            break;
        fields = again;
    }
    const uint8_t status_b = cmos_read(0x0B);
    const bool binary = (status_b & 0x04) != 0;
    const bool hours24 = (status_b & 0x02) != 0;
    const bool pm = (fields.hour & 0x80) != 0;
    uint8_t hour = static_cast<uint8_t>(fields.hour & 0x7F);
    RtcFields f = fields;
    if (!binary) {
        f.second = from_bcd(f.second);
        f.minute = from_bcd(f.minute);
        hour = from_bcd(hour);
        f.day = from_bcd(f.day);
        f.month = from_bcd(f.month);
        f.year = from_bcd(f.year);
    }
    if (!hours24) {
        hour = static_cast<uint8_t>(hour % 12);
        if (pm)
            hour = static_cast<uint8_t>(hour + 12);
    }
    if (f.month < 1 || f.month > 12 || f.day < 1 || f.day > 31 || hour > 23 || f.minute > 59 ||
        f.second > 60)
        return 0;
    // Two-digit year: 2000-2099 (no century register is assumed; the FADT may name one).
    const int64_t days = days_from_civil(2000 + f.year, f.month, f.day);
    return days * 86400 + int64_t(hour) * 3600 + int64_t(f.minute) * 60 + f.second;
}

bool gather_entropy(std::span<uint8_t> out) {
    const bool seed = has_rdseed();
    const bool rand = has_rdrand();
    size_t filled = 0;
    while (filled < out.size()) {
        uint64_t value = read_tsc();
        uint64_t sample = 0;
        if (seed && rdseed64(sample))
            value ^= sample;
        else if (rand && rdrand64(sample))
            value ^= sample;
        const size_t n = out.size() - filled < 8 ? out.size() - filled : 8;
        memcpy(out.data() + filled, &value, n);
        filled += n;
    }
    return seed || rand;
}

uint32_t random32() {
    static bool checked = false;
    static bool rand = false;
    static uint64_t state = 0;
    if (!checked) {
        rand = has_rdrand();
        state = read_tsc() | 1;
        checked = true;
    }
    uint64_t value;
    if (rand && rdrand64(value))
        return static_cast<uint32_t>(value ^ (value >> 32));
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<uint32_t>((state ^ read_tsc()) >> 11);
}

} // namespace halcyon::mgmt::net
