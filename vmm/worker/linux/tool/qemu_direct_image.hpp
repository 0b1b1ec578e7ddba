// `linux-boot-inspect qemu-image`: the loader's complete output as files QEMU can boot without
// firmware (tests/guests/linux/boot-loader-output.sh): a 128 KiB -bios image holding the ACPI
// tables, the entry state and the mode-switch code of tests/guests/linux/firmware/entry.S, and
// the rest of guest memory as -device loader blobs.
#pragma once

#include "vmm/worker/linux/loader.hpp"
#include "vmm/worker/linux/testing/buffer_guest_memory.hpp"

#include <string>
#include <vector>

namespace halcyon::worker::linux_boot::tool {

// Writes DIR/{firmware.bin,low.bin,kernel.bin,initrd.bin} and DIR/qemu-args (the QEMU
// arguments that place them, one per line). Returns an error message, or "" on success.
std::string write_qemu_direct_image(const std::string& dir, const std::string& entry_code_path,
                                    const testing::BufferGuestMemory& memory,
                                    const LinuxEntry& entry, uint64_t kernel_bytes);

} // namespace halcyon::worker::linux_boot::tool
