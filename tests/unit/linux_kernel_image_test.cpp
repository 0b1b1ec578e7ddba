// bzImage setup header validation (vmm/worker/linux/kernel_image.hpp): every refusal has its
// own error, and a good header yields the numbers the loader places the kernel with.
#include "vmm/worker/linux/kernel_image.hpp"
#include "vmm/worker/linux/testing/synthetic_bzimage.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <string>

namespace halcyon::worker::linux_boot {
namespace {

using testing::SyntheticBzImage;

std::string error_of(const std::vector<uint8_t>& image) {
    auto result = parse_kernel_image(image);
    if (!result.is_error())
        return "accepted";
    return result.error().message();
}

TEST(LinuxKernelImage, AcceptsAProtocol215Image) {
    SyntheticBzImage synthetic;
    const auto image = synthetic.build();
    auto parsed = parse_kernel_image(image);
    ASSERT_FALSE(parsed.is_error()) << parsed.error().message();
    const KernelImage& kernel = parsed.value();
    EXPECT_EQ(kernel.protocol, 0x020F);
    EXPECT_TRUE(kernel.relocatable);
    EXPECT_EQ(kernel.alignment, 0x20'0000u);
    EXPECT_EQ(kernel.preferred_address, 0x100'0000u);
    EXPECT_EQ(kernel.init_size, 0x40'0000u);
    EXPECT_EQ(kernel.initrd_max, 0x7FFF'FFFFu);
    EXPECT_EQ(kernel.cmdline_max, 2047u);
    EXPECT_EQ(kernel.header_bytes, sizeof(SetupHeader));
    // The payload starts after the boot sector and 4 setup sectors and is syssize * 16 long.
    EXPECT_EQ(kernel.payload.data(), image.data() + 5 * 512);
    EXPECT_EQ(kernel.payload.size(), synthetic.payload_bytes);
}

TEST(LinuxKernelImage, SetupSectorsZeroMeansFour) {
    SyntheticBzImage synthetic;
    synthetic.header.setup_sects = 0;
    const auto image = synthetic.build();
    auto parsed = parse_kernel_image(image);
    ASSERT_FALSE(parsed.is_error()) << parsed.error().message();
    EXPECT_EQ(+parsed.value().header.setup_sects, 4);
    EXPECT_EQ(parsed.value().payload.data(), image.data() + 5 * 512);
}

TEST(LinuxKernelImage, PayloadStopsAtSyssizeBeforeAnAppendedSignature) {
    SyntheticBzImage synthetic;
    synthetic.header.setup_sects = 39;
    synthetic.trailer_bytes = 1472;
    const auto image = synthetic.build();
    auto parsed = parse_kernel_image(image);
    ASSERT_FALSE(parsed.is_error()) << parsed.error().message();
    EXPECT_EQ(parsed.value().payload.data(), image.data() + 40 * 512);
    EXPECT_EQ(parsed.value().payload.size(), synthetic.payload_bytes);
}

TEST(LinuxKernelImage, RefusesTruncatedImages) {
    const auto image = SyntheticBzImage{}.build();
    EXPECT_EQ(error_of({}), "kernel image is truncated: too short to hold a bzImage setup header");
    EXPECT_EQ(error_of({image.begin(), image.begin() + 0x250}),
              "kernel image is truncated: too short to hold a bzImage setup header");
    EXPECT_EQ(error_of({image.begin(), image.begin() + 0x268}),
              "kernel image is truncated inside its setup header");
    EXPECT_EQ(error_of({image.begin(), image.end() - 1}),
              "kernel image is truncated: shorter than its setup sectors plus syssize");
    EXPECT_EQ(error_of({image.begin(), image.begin() + 5 * 512}),
              "kernel image is truncated: shorter than its setup sectors plus syssize");
}

TEST(LinuxKernelImage, RefusesWrongMagic) {
    SyntheticBzImage bad_flag;
    bad_flag.header.boot_flag = 0x55AA;
    EXPECT_EQ(error_of(bad_flag.build()),
              "not a Linux kernel image: no boot flag 0xAA55 at offset 0x1FE");
    SyntheticBzImage bad_magic;
    bad_magic.header.header = 0x5372'6449;
    EXPECT_EQ(error_of(bad_magic.build()),
              "not a bzImage: no \"HdrS\" setup header magic at offset 0x202");
    // An ELF vmlinux instead of a bzImage.
    std::vector<uint8_t> elf(4096, 0);
    std::memcpy(elf.data(),
                "\x7f"
                "ELF",
                4);
    EXPECT_EQ(error_of(elf), "not a Linux kernel image: no boot flag 0xAA55 at offset 0x1FE");
}

TEST(LinuxKernelImage, RefusesOldProtocols) {
    SyntheticBzImage old;
    old.header.version = 0x020B; // 2.11: no xloadflags
    auto result = parse_kernel_image(old.build());
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::not_supported);
    EXPECT_STREQ(result.error().message(),
                 "kernel boot protocol is older than 2.12: no 64-bit entry point");
    old.header.version = 0x020C;
    EXPECT_EQ(error_of(old.build()), "accepted");
}

TEST(LinuxKernelImage, RefusesKernelsWithout64BitEntry) {
    SyntheticBzImage no64;
    no64.header.xloadflags = kXlfCanBeLoadedAbove4G; // everything but XLF_KERNEL_64
    EXPECT_EQ(error_of(no64.build()), "kernel has no 64-bit entry point (XLF_KERNEL_64 clear)");
}

TEST(LinuxKernelImage, RefusesZImages) {
    SyntheticBzImage zimage;
    zimage.header.loadflags = 0;
    EXPECT_EQ(error_of(zimage.build()), "not a bzImage: the kernel is not loaded high (a zImage)");
}

TEST(LinuxKernelImage, RefusesShortHeaders) {
    SyntheticBzImage short_header;
    short_header.header_length_byte = 0x50; // ends at 0x252, before pref_address / init_size
    EXPECT_EQ(error_of(short_header.build()),
              "bzImage setup header is shorter than protocol 2.12 requires");
}

TEST(LinuxKernelImage, FieldsBeyondTheDeclaredHeaderReadAsZero) {
    SyntheticBzImage synthetic;
    synthetic.header.kernel_info_offset = 0x1234; // 0x268, outside a header ending at 0x268
    synthetic.header_length_byte = 0x66;
    auto parsed = parse_kernel_image(synthetic.build());
    ASSERT_FALSE(parsed.is_error()) << parsed.error().message();
    EXPECT_EQ(parsed.value().header_bytes, 0x268u - kSetupHeaderOffset);
    EXPECT_EQ(+parsed.value().header.kernel_info_offset, 0u);
}

TEST(LinuxKernelImage, RefusesInconsistentSizes) {
    SyntheticBzImage bad_alignment;
    bad_alignment.header.kernel_alignment = 0x30'0000;
    EXPECT_EQ(error_of(bad_alignment.build()), "bzImage kernel_alignment is not a power of two");
    SyntheticBzImage small_init;
    small_init.header.init_size = static_cast<uint32_t>(small_init.payload_bytes - 16);
    EXPECT_EQ(error_of(small_init.build()),
              "bzImage init_size is smaller than the kernel it describes");
    SyntheticBzImage empty;
    empty.header.syssize = 0;
    EXPECT_EQ(error_of(empty.build()), "bzImage has no protected-mode code (syssize is 0)");
}

} // namespace
} // namespace halcyon::worker::linux_boot
