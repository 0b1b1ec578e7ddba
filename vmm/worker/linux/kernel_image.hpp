// Reading a bzImage: validation of its setup header against what this loader needs (boot
// protocol 2.12+, a 64-bit entry point, code loaded high) and the numbers that decide where
// the kernel goes. Pure: the image is untrusted bytes, every field is checked before use.
#pragma once

#include "lib/base/error_or.hpp"
#include "vmm/worker/linux/boot_protocol.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::worker::linux_boot {

struct KernelImage {
    SetupHeader header;               // as found in the image (setup_sects already defaulted)
    size_t header_bytes;              // how much of SetupHeader the kernel defines (0x201 byte)
    std::span<const uint8_t> payload; // the protected-mode code: loaded at the load address
    uint16_t protocol;                // header.version
    bool relocatable;
    uint64_t alignment;         // kernel_alignment (a power of two) when relocatable, else 0
    uint64_t preferred_address; // pref_address
    uint64_t init_size;         // bytes needed from the load address (>= payload size)
    uint64_t initrd_max;        // highest byte address the initrd may occupy
    uint32_t cmdline_max;       // longest command line, without the NUL
};

// Fails with corrupt/not_supported and a message naming the first problem found: image too
// short for a header, boot flag 0xAA55 or "HdrS" missing, protocol older than 2.12, code not
// loaded high (a zImage), no 64-bit entry (XLF_KERNEL_64 clear), an image shorter than its setup
// sectors plus syssize, a kernel_alignment that is not a power of two, init_size smaller than
// the code.
[[nodiscard]] ErrorOr<KernelImage> parse_kernel_image(std::span<const uint8_t> image);

} // namespace halcyon::worker::linux_boot
