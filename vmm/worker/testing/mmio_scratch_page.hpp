// The MMIO scratch page: 4 KiB of device memory at a fixed guest-physical address that behaves
// exactly like RAM - byte-addressable, little-endian, any access size - but is NOT RAM: the
// nested page tables leave it unmapped, so every guest access to it exits and goes through the
// MMIO instruction emulator (vmm/emulate/). A test guest (tests/guests/mmio_forms.c) executes
// each instruction form once on RAM and once here and compares the results, which checks the
// emulator against the CPU it runs on.
//
// Enabled per VM by `test_devices = yes` in halcyon.cfg. Not thread-safe: the VM worker
// serialises the device accesses of a VM's vCPUs.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace halcyon::worker::testing {

class MmioScratchPage {
public:
    // Below the local APIC (0xFEE00000) and the IOAPIC (0xFEC00000), in the range chipsets
    // leave for device memory, and far above any guest RAM (below 3 GiB).
    static constexpr uint64_t kBase = 0xFEB0'0000;
    static constexpr uint64_t kSize = 4096;

    // Whether `gpa` lies inside the page.
    [[nodiscard]] bool claims(uint64_t gpa) const { return gpa - kBase < kSize; }

    // `offset` is relative to kBase, `size` 1..8 bytes, value little-endian in the low `size`
    // bytes. Bytes of an access that lie beyond the page read as 0xFF (no device answers there)
    // and are dropped on writes; sizes outside 1..8 are treated the same way (reads all ones,
    // writes ignored) since no instruction the emulator handles makes them.
    [[nodiscard]] uint64_t mmio_read(uint64_t offset, unsigned size);
    void mmio_write(uint64_t offset, unsigned size, uint64_t value);

    // Accesses seen so far (reads and writes): lets a test prove its accesses went through the
    // emulator rather than to RAM.
    [[nodiscard]] uint64_t accesses() const { return accesses_; }

private:
    uint8_t bytes_[kSize] = {};
    uint64_t accesses_ = 0;
};

} // namespace halcyon::worker::testing
