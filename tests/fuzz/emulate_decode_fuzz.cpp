// Random instruction bytes, register state, CPU mode and guest page tables: the emulator must
// never crash (ASan/UBSan) and must either complete the instruction or ask for an exception,
// leaving RIP consistent with what it reports.
//
// Input: [mode byte][16 GPRs + RFLAGS, 8 bytes each][instruction, 15 bytes][guest RAM...].
// Guest RAM is 64 KiB at GPA 0 (the input's tail; it also holds whatever page tables CR3 points
// to); GPAs 64 KiB..1 MiB are a device that answers every access; above that nothing exists.
#include "vmm/emulate/emulator.hpp"

#include <cstdlib>
#include <cstring>
#include <stddef.h>
#include <stdint.h>

namespace {

using namespace halcyon;
using namespace halcyon::emulate;

constexpr uint64_t kRamSize = 64 * 1024;
constexpr uint64_t kDeviceEnd = 1024 * 1024;

class FuzzGuest final : public mm::GuestPhysicalMemory, public MmioBus {
public:
    uint8_t ram[kRamSize];

    ErrorOr<void> read(uint64_t gpa, void* buffer, size_t size) override {
        if (gpa >= kRamSize || size > kRamSize - gpa)
            return Error(ErrorCode::not_found, "not RAM");
        memcpy(buffer, ram + gpa, size);
        return {};
    }
    ErrorOr<void> write(uint64_t gpa, const void* buffer, size_t size) override {
        if (gpa >= kRamSize || size > kRamSize - gpa)
            return Error(ErrorCode::not_found, "not RAM");
        memcpy(ram + gpa, buffer, size);
        return {};
    }
    ErrorOr<uint64_t> read(uint64_t gpa, unsigned size) override {
        check_device_access(gpa, size);
        if (gpa >= kDeviceEnd)
            return Error(ErrorCode::not_found, "no device there");
        return gpa * 0x9E37'79B9'7F4A'7C15ULL; // any deterministic value
    }
    ErrorOr<void> write(uint64_t gpa, unsigned size, uint64_t value) override {
        check_device_access(gpa, size);
        if (gpa >= kDeviceEnd)
            return Error(ErrorCode::not_found, "no device there");
        return {};
    }

private:
    static void check_device_access(uint64_t gpa, unsigned size) {
        // The bus contract: 1..8 bytes, never crossing a page.
        if (size < 1 || size > 8 || (gpa & 0xFFF) + size > 4096)
            abort();
    }
};

uint64_t take64(const uint8_t*& data, size_t& size) {
    uint64_t value = 0;
    const size_t n = size < 8 ? size : 8;
    memcpy(&value, data, n);
    data += n;
    size -= n;
    return value;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static FuzzGuest guest;
    memset(guest.ram, 0, sizeof guest.ram);
    if (size < 1)
        return 0;
    const uint8_t mode = *data++;
    --size;

    GuestRegisters regs;
    for (uint64_t& gpr : regs.gpr)
        gpr = take64(data, size);
    regs.rflags = take64(data, size);
    uint8_t instruction[15] = {};
    const size_t instruction_size = size < 15 ? size : 15;
    memcpy(instruction, data, instruction_size);
    data += instruction_size;
    size -= instruction_size;
    memcpy(guest.ram + 0x1000, data, size < kRamSize - 0x1000 ? size : kRamSize - 0x1000);

    // Mode bits: 0-1 real / protected / compat / 64-bit; 2 paging; 3 PAE; 4 NXE+SMEP+SMAP;
    // 5 CPL 3; 6 use the hardware-prefetched bytes; 7 a sane 1 GiB identity map at CR3 0.
    const uint16_t present_data = 0x93 | SegmentRegister::kDefaultBig;
    for (SegmentRegister& segment : regs.segment)
        segment = {0x10, present_data, 0xFFFF'FFFF, 0};
    regs.segment[kFs].base = regs.gpr[kR8] & 0xFFFF'FFFF;
    regs.segment[kCs].attributes = 0x9B;
    switch (mode & 3) {
    case 0:
        regs.segment[kCs].limit = 0xFFFF;
        break;
    case 1:
        regs.cr0 = mm::guest_paging::kCr0ProtectionEnable;
        regs.segment[kCs].attributes |= SegmentRegister::kDefaultBig;
        break;
    case 2:
    case 3:
        regs.cr0 = mm::guest_paging::kCr0ProtectionEnable | mm::guest_paging::kCr0Paging;
        regs.cr4 = mm::guest_paging::kCr4Pae;
        regs.efer = mm::guest_paging::kEferLme | mm::guest_paging::kEferLma;
        regs.segment[kCs].attributes |=
            (mode & 3) == 3 ? SegmentRegister::kLong : SegmentRegister::kDefaultBig;
        break;
    }
    if ((mode & 4) && (mode & 3) == 1)
        regs.cr0 |= mm::guest_paging::kCr0Paging;
    if ((mode & 8) && (mode & 3) == 1)
        regs.cr4 |= mm::guest_paging::kCr4Pae;
    if (mode & 16) {
        regs.efer |= mm::guest_paging::kEferNxe;
        regs.cr4 |= mm::guest_paging::kCr4Smep | mm::guest_paging::kCr4Smap;
    }
    if (mode & 32)
        regs.segment[kSs].attributes |= 0x60;
    regs.cr3 = regs.gpr[kR9] & 0xF000;
    if (mode & 128) {
        // PML4[0] -> PDPT at 0x1000 whose entry 0 maps the first GiB with a 1 GiB page, so
        // operands and the fetch can succeed and reach RAM and the device.
        regs.cr3 = 0;
        const uint64_t pml4e = 0x1000 | 0x7;
        const uint64_t pdpte = 0x87;
        memcpy(guest.ram, &pml4e, 8);
        memcpy(guest.ram + 0x1000, &pdpte, 8);
        regs.gpr[kRbx] &= 0xF'FFFF;
        regs.gpr[kRsi] &= 0xF'FFFF;
        regs.gpr[kRdi] &= 0xF'FFFF;
    }
    regs.rip = 0x8000 + (regs.gpr[kR10] & 0xFFF);
    memcpy(guest.ram + regs.rip, instruction, sizeof instruction);

    EmulatorOptions options;
    options.max_rep_iterations = 64;
    if (mode & 64)
        options.prefetched_bytes = {instruction, instruction_size};
    const uint64_t rip_before = regs.rip;
    auto result = emulate_instruction(regs, guest, guest, options);
    if (result.is_error())
        return 0;
    const EmulationOutcome& outcome = result.value();
    if (outcome.status == EmulationStatus::inject_exception) {
        const uint8_t v = outcome.vector;
        if ((v != vector::kInvalidOpcode && v != vector::kGeneralProtection &&
             v != vector::kStackFault && v != vector::kPageFault && v != vector::kAlignmentCheck) ||
            regs.rip != rip_before || outcome.reason == nullptr)
            abort();
        return 0;
    }
    if (outcome.length < 1 || outcome.length > 15)
        abort();
    if (!outcome.rep_incomplete && (mode & 3) == 3 && regs.rip != rip_before + outcome.length)
        abort();
    return 0;
}
