// Guest page-table walks against hand-built tables: translations in every paging mode, the
// page-fault error codes of the SDM/APM rules, reserved bits, and Accessed/Dirty updates.
#include "mm/guest_page_walk.hpp"

#include <array>
#include <cstring>
#include <gtest/gtest.h>
#include <map>

namespace {

using namespace halcyon;
using namespace halcyon::mm;
using namespace halcyon::mm::guest_paging;

constexpr uint64_t P = 1, W = 2, U = 4, A = 1ULL << 5, D = 1ULL << 6, PS = 1ULL << 7;
constexpr uint64_t NX = 1ULL << 63;

// Sparse guest RAM: pages exist once written; reading anything else is "unbacked".
class SparseMemory final : public GuestPhysicalMemory {
public:
    ErrorOr<void> read(uint64_t gpa, void* buffer, size_t size) override {
        auto it = pages_.find(gpa & ~0xFFFULL);
        if (it == pages_.end() || (gpa & 0xFFF) + size > 4096)
            return Error(ErrorCode::not_found, "unbacked");
        memcpy(buffer, it->second.data() + (gpa & 0xFFF), size);
        return {};
    }
    ErrorOr<void> write(uint64_t gpa, const void* buffer, size_t size) override {
        auto it = pages_.find(gpa & ~0xFFFULL);
        if (it == pages_.end() || (gpa & 0xFFF) + size > 4096)
            return Error(ErrorCode::not_found, "unbacked");
        memcpy(it->second.data() + (gpa & 0xFFF), buffer, size);
        return {};
    }
    void put64(uint64_t gpa, uint64_t value) {
        memcpy(pages_[gpa & ~0xFFFULL].data() + (gpa & 0xFFF), &value, 8);
    }
    void put32(uint64_t gpa, uint32_t value) {
        memcpy(pages_[gpa & ~0xFFFULL].data() + (gpa & 0xFFF), &value, 4);
    }
    uint64_t get64(uint64_t gpa) {
        uint64_t value;
        memcpy(&value, pages_[gpa & ~0xFFFULL].data() + (gpa & 0xFFF), 8);
        return value;
    }

private:
    std::map<uint64_t, std::array<uint8_t, 4096>> pages_;
};

uint64_t index(uint64_t linear, int level) {
    return (linear >> (12 + 9 * level)) & 0x1FF;
}

// 4-level tables at fixed GPAs: PML4 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000.
struct LongModeFixture : ::testing::Test {
    SparseMemory memory;
    GuestPagingState state{.cr0 = kCr0Paging | kCr0ProtectionEnable | kCr0WriteProtect,
                           .cr3 = 0x1000,
                           .cr4 = kCr4Pae,
                           .efer = kEferLme | kEferLma | kEferNxe};
    static constexpr uint64_t kLinear = 0x0000'7F12'3456'7ABCULL;

    void map_4k(uint64_t leaf_flags, uint64_t upper_flags = P | W | U) {
        memory.put64(0x1000 + index(kLinear, 3) * 8, 0x2000 | upper_flags);
        memory.put64(0x2000 + index(kLinear, 2) * 8, 0x3000 | upper_flags);
        memory.put64(0x3000 + index(kLinear, 1) * 8, 0x4000 | upper_flags);
        memory.put64(0x4000 + index(kLinear, 0) * 8, 0x0ABC'D000 | leaf_flags);
    }
    GuestWalkResult walk(GuestAccess access, uint64_t linear = kLinear,
                         GuestWalkOptions options = {}) {
        auto result = walk_guest_page_tables(state, linear, access, memory, options);
        EXPECT_FALSE(result.is_error());
        return result.is_error() ? GuestWalkResult{} : result.release_value();
    }
    uint32_t fault(GuestAccess access) {
        const GuestWalkResult result = walk(access);
        EXPECT_EQ(result.status, GuestWalkStatus::page_fault);
        return result.error_code;
    }
};

TEST_F(LongModeFixture, TranslatesA4KPageAndSetsAccessedAndDirty) {
    map_4k(P | W | U);
    const GuestWalkResult result = walk({.write = true}, kLinear, {.set_accessed_dirty = true});
    ASSERT_EQ(result.status, GuestWalkStatus::ok);
    EXPECT_EQ(result.gpa, 0x0ABC'DABCULL);
    EXPECT_EQ(result.page_size, 4096u);
    EXPECT_TRUE(result.writable && result.user && result.executable);
    EXPECT_EQ(memory.get64(0x4000 + index(kLinear, 0) * 8), 0x0ABC'D000 | P | W | U | A | D);
    EXPECT_EQ(memory.get64(0x1000 + index(kLinear, 3) * 8), 0x2000 | P | W | U | A);
    // A read sets Accessed only.
    map_4k(P | W | U);
    walk({}, kLinear, {.set_accessed_dirty = true});
    EXPECT_EQ(memory.get64(0x4000 + index(kLinear, 0) * 8), 0x0ABC'D000 | P | W | U | A);
}

TEST_F(LongModeFixture, NotPresentAtEachLevelGivesPresentClear) {
    map_4k(0);
    EXPECT_EQ(fault({}), 0u);
    EXPECT_EQ(fault({.write = true, .user = true}), kPfWrite | kPfUser);
    EXPECT_EQ(fault({.execute = true}), kPfFetch);
    map_4k(P | W, W | U); // upper levels not present
    EXPECT_EQ(fault({.write = true}), kPfWrite);
}

TEST_F(LongModeFixture, WriteProtectionFollowsCr0Wp) {
    map_4k(P | U);
    EXPECT_EQ(fault({.write = true}), kPfPresent | kPfWrite);
    EXPECT_EQ(fault({.write = true, .user = true}), kPfPresent | kPfWrite | kPfUser);
    state.cr0 &= ~kCr0WriteProtect;
    EXPECT_EQ(walk({.write = true}).status, GuestWalkStatus::ok);
    EXPECT_EQ(fault({.write = true, .user = true}), kPfPresent | kPfWrite | kPfUser);
    // A read-only upper level makes the whole mapping read-only.
    state.cr0 |= kCr0WriteProtect;
    map_4k(P | W | U, P | U);
    EXPECT_EQ(fault({.write = true}), kPfPresent | kPfWrite);
}

TEST_F(LongModeFixture, UserAccessToSupervisorPage) {
    map_4k(P | W, P | W | U);
    EXPECT_EQ(fault({.user = true}), kPfPresent | kPfUser);
    EXPECT_EQ(walk({}).status, GuestWalkStatus::ok);
    map_4k(P | W | U, P | W); // supervisor-only PML4E..PDE
    EXPECT_EQ(fault({.user = true, .execute = true}), kPfPresent | kPfUser | kPfFetch);
}

TEST_F(LongModeFixture, NoExecuteAndReservedNx) {
    map_4k(P | W | U | NX);
    EXPECT_EQ(fault({.execute = true}), kPfPresent | kPfFetch);
    EXPECT_EQ(walk({.write = true}).status, GuestWalkStatus::ok);
    // Without EFER.NXE bit 63 is reserved, and I/D is not reported (no NX, no SMEP).
    state.efer &= ~kEferNxe;
    EXPECT_EQ(fault({}), kPfPresent | kPfReserved);
    EXPECT_EQ(fault({.execute = true}), kPfPresent | kPfReserved);
}

TEST_F(LongModeFixture, SmepAndSmap) {
    map_4k(P | W | U);
    state.cr4 |= kCr4Smep;
    EXPECT_EQ(fault({.execute = true}), kPfPresent | kPfFetch);
    EXPECT_EQ(walk({.user = true, .execute = true}).status, GuestWalkStatus::ok);
    EXPECT_EQ(walk({.write = true}).status, GuestWalkStatus::ok); // SMEP is fetch-only
    state.cr4 |= kCr4Smap;
    EXPECT_EQ(fault({}), kPfPresent);
    EXPECT_EQ(fault({.write = true}), kPfPresent | kPfWrite);
    EXPECT_EQ(walk({.rflags_ac = true}).status, GuestWalkStatus::ok);
    EXPECT_EQ(fault({.rflags_ac = true, .implicit_supervisor = true}), kPfPresent);
    map_4k(P | W); // supervisor page: neither applies
    EXPECT_EQ(walk({.execute = true}).status, GuestWalkStatus::ok);
    EXPECT_EQ(walk({}).status, GuestWalkStatus::ok);
}

TEST_F(LongModeFixture, LargePagesAndTheirReservedBits) {
    memory.put64(0x1000 + index(kLinear, 3) * 8, 0x2000 | P | W | U);
    memory.put64(0x2000 + index(kLinear, 2) * 8, 0x3000 | P | W | U);
    memory.put64(0x3000 + index(kLinear, 1) * 8, 0x4060'0000 | P | W | PS | (1ULL << 12));
    GuestWalkResult result = walk({});
    ASSERT_EQ(result.status, GuestWalkStatus::ok);
    EXPECT_EQ(result.page_size, 2u << 20);
    EXPECT_EQ(result.gpa, 0x4060'0000 | (kLinear & 0x1F'FFFF)); // PAT bit 12 is not address
    memory.put64(0x3000 + index(kLinear, 1) * 8, 0x4060'0000 | P | W | PS | (1ULL << 13));
    EXPECT_EQ(fault({}), kPfPresent | kPfReserved);

    memory.put64(0x2000 + index(kLinear, 2) * 8, 0x8000'0000 | P | W | PS);
    result = walk({});
    ASSERT_EQ(result.status, GuestWalkStatus::ok);
    EXPECT_EQ(result.page_size, 1u << 30);
    EXPECT_EQ(result.gpa, 0x8000'0000 | (kLinear & 0x3FFF'FFFF));
    memory.put64(0x2000 + index(kLinear, 2) * 8, 0x8000'0000 | P | W | PS | (1ULL << 29));
    EXPECT_EQ(fault({.user = true}), kPfPresent | kPfReserved | kPfUser);

    // PS is reserved in a PML4E.
    memory.put64(0x1000 + index(kLinear, 3) * 8, 0x2000 | P | W | U | PS);
    EXPECT_EQ(fault({}), kPfPresent | kPfReserved);
}

TEST_F(LongModeFixture, AddressBitsAboveMaxPhysAreReserved) {
    state.physical_address_bits = 40;
    map_4k(P | W);
    memory.put64(0x4000 + index(kLinear, 0) * 8, (1ULL << 40) | P);
    EXPECT_EQ(fault({}), kPfPresent | kPfReserved);
    state.physical_address_bits = 48;
    EXPECT_EQ(walk({}).gpa, (1ULL << 40) | (kLinear & 0xFFF));
}

TEST_F(LongModeFixture, NonCanonicalIsGeneralProtection) {
    map_4k(P | W);
    EXPECT_EQ(walk({}, 0x0000'8000'0000'0000ULL).status, GuestWalkStatus::general_protection);
    EXPECT_FALSE(guest_address_canonical(state, 0xFFFF'7FFF'FFFF'FFFFULL));
    EXPECT_TRUE(guest_address_canonical(state, 0xFFFF'8000'0000'0000ULL));
}

TEST_F(LongModeFixture, FaultLeavesAccessedBitsAlone) {
    map_4k(P | U);
    walk({.write = true}, kLinear, {.set_accessed_dirty = true});
    EXPECT_EQ(memory.get64(0x4000 + index(kLinear, 0) * 8), 0x0ABC'D000 | P | U);
}

TEST_F(LongModeFixture, UnbackedTableIsAnErrorNotAFault) {
    state.cr3 = 0x9000'0000;
    auto result = walk_guest_page_tables(state, kLinear, {}, memory);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::not_found);
}

TEST_F(LongModeFixture, FiveLevelPaging) {
    state.cr4 |= kCr4La57;
    const uint64_t linear = 0x00AB'CDEF'1234'5678ULL; // canonical only with 57 bits
    memory.put64(0x5000 + ((linear >> 48) & 0x1FF) * 8, 0x1000 | P | W);
    memory.put64(0x1000 + index(linear, 3) * 8, 0x2000 | P | W);
    memory.put64(0x2000 + index(linear, 2) * 8, 0x3000 | P | W);
    memory.put64(0x3000 + index(linear, 1) * 8, 0x4000 | P | W);
    memory.put64(0x4000 + index(linear, 0) * 8, 0x7000 | P | W);
    state.cr3 = 0x5000;
    const GuestWalkResult result = walk({}, linear);
    ASSERT_EQ(result.status, GuestWalkStatus::ok);
    EXPECT_EQ(result.gpa, 0x7678u);
    state.cr4 &= ~kCr4La57;
    EXPECT_EQ(walk({}, linear).status, GuestWalkStatus::general_protection);
}

GuestWalkResult do_walk(const GuestPagingState& state, uint64_t linear, GuestAccess access,
                        SparseMemory& memory, GuestWalkOptions options = {}) {
    auto result = walk_guest_page_tables(state, linear, access, memory, options);
    EXPECT_FALSE(result.is_error());
    return result.is_error() ? GuestWalkResult{} : result.release_value();
}

TEST(GuestWalkPae, PdpteDirectoryAndLargePage) {
    SparseMemory memory;
    GuestPagingState state{.cr0 = kCr0Paging | kCr0ProtectionEnable | kCr0WriteProtect,
                           .cr3 = 0x1020, // 32-byte aligned PDPT
                           .cr4 = kCr4Pae,
                           .efer = kEferNxe};
    const uint32_t linear = 0xC123'4567;
    memory.put64(0x1020 + 3 * 8, 0x2000 | P);
    memory.put64(0x2000 + ((linear >> 21) & 0x1FF) * 8, 0x3000 | P | W);
    memory.put64(0x3000 + ((linear >> 12) & 0x1FF) * 8, 0x5000 | P | W | NX);
    GuestWalkResult result = do_walk(state, linear, {.write = true}, memory);
    EXPECT_EQ(result.status, GuestWalkStatus::ok);
    EXPECT_EQ(result.gpa, 0x5567u);
    result = do_walk(state, linear, {.execute = true}, memory);
    EXPECT_EQ(result.error_code, kPfPresent | kPfFetch);
    // PAE linear addresses are 32-bit: the upper half is ignored, never non-canonical.
    result = do_walk(state, 0xFFFF'0000'0000'0000ULL | linear, {}, memory);
    EXPECT_EQ(result.gpa, 0x5567u);
    // 2 MiB page in the PD; bits 62:52 are reserved in PAE (ignored in long mode).
    memory.put64(0x2000 + ((linear >> 21) & 0x1FF) * 8, 0x0060'0000 | P | PS);
    result = do_walk(state, linear, {}, memory);
    EXPECT_EQ(result.gpa, 0x0060'0000u | (linear & 0x1F'FFFF));
    EXPECT_EQ(result.page_size, 2u << 20);
    memory.put64(0x2000 + ((linear >> 21) & 0x1FF) * 8, 0x0060'0000 | P | PS | (1ULL << 55));
    result = do_walk(state, linear, {}, memory);
    EXPECT_EQ(result.error_code, kPfPresent | kPfReserved);
    // A PDPTE has no R/W bit: setting it is a reserved-bit violation.
    memory.put64(0x1020 + 3 * 8, 0x2000 | P | W);
    result = do_walk(state, linear, {}, memory);
    EXPECT_EQ(result.error_code, kPfPresent | kPfReserved);
}

TEST(GuestWalkLegacy32, FourKAndPseLargePages) {
    SparseMemory memory;
    GuestPagingState state{.cr0 = kCr0Paging | kCr0ProtectionEnable, .cr3 = 0x1000};
    const uint32_t linear = 0x8040'1234;
    memory.put32(0x1000 + (linear >> 22) * 4, 0x2000 | P | W | U);
    memory.put32(0x2000 + ((linear >> 12) & 0x3FF) * 4, 0x9000 | P | U);
    GuestWalkResult result =
        do_walk(state, linear, {.write = true}, memory, {.set_accessed_dirty = true});
    EXPECT_EQ(result.gpa, 0x9234u); // CR0.WP=0: supervisor writes ignore R/W
    uint32_t pte;
    ASSERT_FALSE(memory.read(0x2000 + ((linear >> 12) & 0x3FF) * 4, &pte, 4).is_error());
    EXPECT_EQ(pte, 0x9000 | P | U | A | D);
    result = do_walk(state, linear, {.write = true, .user = true}, memory);
    EXPECT_EQ(result.error_code, kPfPresent | kPfWrite | kPfUser);
    // No NX in 32-bit paging: fetches never report I/D without SMEP.
    result = do_walk(state, 0x0000'1000, {.execute = true}, memory);
    EXPECT_EQ(result.error_code, 0u);

    // PS without CR4.PSE is ignored: the entry still points at a page table.
    memory.put32(0x1000 + (linear >> 22) * 4, 0x2000 | P | W | U | PS);
    EXPECT_EQ(do_walk(state, linear, {}, memory).gpa, 0x9234u);
    // With PSE: a 4 MiB page whose bits 20:13 are physical address bits 39:32.
    state.cr4 = kCr4Pse;
    memory.put32(0x1000 + (linear >> 22) * 4, 0x0C00'0000 | (0x12 << 13) | P | W | PS);
    result = do_walk(state, linear, {}, memory);
    EXPECT_EQ(result.gpa, 0x12'0C00'0000ULL | (linear & 0x3F'FFFF));
    EXPECT_EQ(result.page_size, 4u << 20);
    state.physical_address_bits = 36; // 0x12 needs 37 bits
    result = do_walk(state, linear, {}, memory);
    EXPECT_EQ(result.error_code, kPfPresent | kPfReserved);
}

TEST(GuestWalkNoPaging, IdentityWith32BitLinearAddresses) {
    SparseMemory memory;
    GuestPagingState state{.cr0 = kCr0ProtectionEnable};
    GuestWalkResult result = do_walk(state, 0x1'0000'1234ULL, {.write = true}, memory);
    EXPECT_EQ(result.gpa, 0x1234u);
}

} // namespace
