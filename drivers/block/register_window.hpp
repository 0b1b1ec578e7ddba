// A device's register window as the NVMe and AHCI drivers see it: 32-bit reads and writes at
// byte offsets. MMIO in the core (a BAR mapped uncached), a fake register file with the
// device's side effects in host tests.
#pragma once

#include "drivers/net/mmio.hpp"

#include <stdint.h>

namespace halcyon::drivers::block {

class RegisterWindow {
public:
    [[nodiscard]] virtual uint32_t read32(uint32_t offset) = 0;
    virtual void write32(uint32_t offset, uint32_t value) = 0;

    // 64-bit registers as two dword accesses, low half first (NVMe and AHCI both allow it for
    // the registers the drivers touch this way).
    [[nodiscard]] uint64_t read64(uint32_t offset) {
        const uint64_t low = read32(offset);
        return low | uint64_t(read32(offset + 4)) << 32;
    }
    void write64(uint32_t offset, uint64_t value) {
        write32(offset, static_cast<uint32_t>(value));
        write32(offset + 4, static_cast<uint32_t>(value >> 32));
    }

protected:
    ~RegisterWindow() = default;
};

class MmioRegisterWindow final : public RegisterWindow {
public:
    MmioRegisterWindow() = default;
    explicit MmioRegisterWindow(volatile uint8_t* base) : base_(base) {}
    [[nodiscard]] uint32_t read32(uint32_t offset) override { return mmio::read32(base_, offset); }
    void write32(uint32_t offset, uint32_t value) override { mmio::write32(base_, offset, value); }

private:
    volatile uint8_t* base_ = nullptr;
};

} // namespace halcyon::drivers::block
