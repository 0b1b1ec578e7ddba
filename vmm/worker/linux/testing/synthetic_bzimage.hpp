// A synthetic bzImage for host tests: a boot sector with a protocol 2.15 setup header (the
// values of a Debian 12 x86-64 kernel), setup sectors and a protected-mode "payload" of a
// recognisable byte pattern. Tests tweak `header` before calling build() to produce each kind
// of broken image. Test-only (host world).
#pragma once

#include "vmm/worker/linux/boot_protocol.hpp"

#include <cstring>
#include <vector>

namespace halcyon::worker::testing {

struct SyntheticBzImage {
    linux_boot::SetupHeader header{};
    uint8_t header_length_byte = 0x6A; // byte 0x201: header ends at 0x202 + this (0x26C)
    size_t payload_bytes = 64 * 1024;  // multiple of 16
    size_t trailer_bytes = 0;          // appended after syssize (like a signature)

    SyntheticBzImage() {
        header.setup_sects = 4;
        header.syssize = static_cast<uint32_t>(payload_bytes / 16);
        header.boot_flag = linux_boot::kBootFlag;
        header.jump = 0xEB;
        header.header = linux_boot::kHeaderMagic;
        header.version = 0x020F;
        header.loadflags = linux_boot::kLoadedHigh;
        header.initrd_addr_max = 0x7FFF'FFFF;
        header.kernel_alignment = 0x20'0000;
        header.relocatable_kernel = 1;
        header.min_alignment = 21;
        header.xloadflags = 0x7F;
        header.cmdline_size = 2047;
        header.pref_address = 0x100'0000;
        header.init_size = 0x40'0000;
    }

    // The byte the payload has at `offset` (distinct per offset modulo 251).
    static uint8_t payload_byte(size_t offset) { return static_cast<uint8_t>(offset % 251 + 1); }

    [[nodiscard]] std::vector<uint8_t> build() const {
        const size_t sectors = header.setup_sects == 0 ? 4 : header.setup_sects;
        const size_t setup_bytes = (sectors + 1) * 512;
        std::vector<uint8_t> image(setup_bytes + payload_bytes + trailer_bytes, 0xCC);
        std::memset(image.data(), 0, setup_bytes);
        std::memcpy(image.data() + linux_boot::kSetupHeaderOffset, &header, sizeof(header));
        image[0x201] = header_length_byte;
        for (size_t i = 0; i < payload_bytes; ++i)
            image[setup_bytes + i] = payload_byte(i);
        return image;
    }
};

} // namespace halcyon::worker::testing
