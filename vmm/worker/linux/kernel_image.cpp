#include "vmm/worker/linux/kernel_image.hpp"

namespace halcyon::worker::linux_boot {
namespace {

// The setup header up to init_size exists in every protocol 2.10+ kernel; anything shorter
// cannot describe a 64-bit entry.
constexpr size_t kRequiredHeaderEnd = offsetof(SetupHeader, handover_offset) + kSetupHeaderOffset;
constexpr size_t kJumpOffset = 0x200; // the 2-byte jump; its second byte is the header length
constexpr size_t kHeaderLengthBase = 0x202;

Error corrupt(const char* message) {
    return Error(ErrorCode::corrupt, message);
}
Error unsupported(const char* message) {
    return Error(ErrorCode::not_supported, message);
}

} // namespace

ErrorOr<KernelImage> parse_kernel_image(std::span<const uint8_t> image) {
    if (image.size() < kRequiredHeaderEnd)
        return corrupt("kernel image is truncated: too short to hold a bzImage setup header");

    KernelImage kernel{};
    const size_t available = image.size() - kSetupHeaderOffset;
    __builtin_memcpy(&kernel.header, image.data() + kSetupHeaderOffset,
                     available < sizeof(SetupHeader) ? available : sizeof(SetupHeader));
    SetupHeader& header = kernel.header;
    if (header.boot_flag != kBootFlag)
        return corrupt("not a Linux kernel image: no boot flag 0xAA55 at offset 0x1FE");
    if (header.header != kHeaderMagic)
        return corrupt("not a bzImage: no \"HdrS\" setup header magic at offset 0x202");
    if (header.version < kMinimumProtocol)
        return unsupported("kernel boot protocol is older than 2.12: no 64-bit entry point");

    // The header ends at 0x202 + the byte at 0x201; the fields a loader reads must be inside it.
    const size_t header_end = kHeaderLengthBase + image[kJumpOffset + 1];
    if (header_end < kRequiredHeaderEnd)
        return corrupt("bzImage setup header is shorter than protocol 2.12 requires");
    if (header_end > image.size())
        return corrupt("kernel image is truncated inside its setup header");
    const size_t defined = header_end - kSetupHeaderOffset;
    kernel.header_bytes = defined < sizeof(SetupHeader) ? defined : sizeof(SetupHeader);
    // Fields past the kernel's own header length are not part of its protocol: read them as 0.
    __builtin_memset(reinterpret_cast<uint8_t*>(&header) + kernel.header_bytes, 0,
                     sizeof(SetupHeader) - kernel.header_bytes);

    if ((header.loadflags & kLoadedHigh) == 0)
        return unsupported("not a bzImage: the kernel is not loaded high (a zImage)");
    if ((header.xloadflags & kXlfKernel64) == 0)
        return unsupported("kernel has no 64-bit entry point (XLF_KERNEL_64 clear)");

    if (header.setup_sects == 0)
        header.setup_sects = kDefaultSetupSectors;
    const uint64_t setup_bytes = (uint64_t{header.setup_sects} + 1) * kSectorBytes;
    const uint64_t code_bytes = uint64_t{header.syssize} * 16;
    if (setup_bytes >= image.size() || image.size() - setup_bytes < code_bytes)
        return corrupt("kernel image is truncated: shorter than its setup sectors plus syssize");
    if (code_bytes == 0)
        return corrupt("bzImage has no protected-mode code (syssize is 0)");
    // Exactly syssize paragraphs: a signed kernel carries its Authenticode signature after them,
    // which the kernel never reads.
    kernel.payload = image.subspan(setup_bytes, code_bytes);

    kernel.protocol = header.version;
    kernel.relocatable = header.relocatable_kernel != 0;
    if (kernel.relocatable) {
        const uint64_t alignment = header.kernel_alignment;
        if (alignment == 0 || (alignment & (alignment - 1)) != 0)
            return corrupt("bzImage kernel_alignment is not a power of two");
        kernel.alignment = alignment;
    }
    kernel.preferred_address = header.pref_address;
    kernel.init_size = header.init_size;
    if (kernel.init_size < kernel.payload.size())
        return corrupt("bzImage init_size is smaller than the kernel it describes");
    kernel.initrd_max = header.initrd_addr_max;
    kernel.cmdline_max = header.cmdline_size;
    return kernel;
}

} // namespace halcyon::worker::linux_boot
