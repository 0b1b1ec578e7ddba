// load_linux() over a synthetic bzImage (vmm/worker/linux/loader.hpp): what lands where in
// guest memory, the zero page the kernel reads, and the vCPU state it starts in.
#include "vmm/acpi/acpi.hpp"
#include "vmm/worker/linux/boot_protocol.hpp"
#include "vmm/worker/linux/loader.hpp"
#include "vmm/worker/linux/testing/buffer_guest_memory.hpp"
#include "vmm/worker/linux/testing/synthetic_bzimage.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <memory>
#include <string>

namespace halcyon::worker::linux_boot {
namespace {

using testing::BufferGuestMemory;
using testing::SyntheticBzImage;

constexpr uint64_t kMemory = 64ull << 20;

std::vector<uint8_t> make_initrd(size_t bytes) {
    std::vector<uint8_t> initrd(bytes);
    for (size_t i = 0; i < bytes; ++i)
        initrd[i] = static_cast<uint8_t>(i * 7 + 3);
    return initrd;
}

struct LinuxLoad : ::testing::Test {
    BufferGuestMemory memory{kMemory};
    std::vector<uint8_t> kernel = SyntheticBzImage{}.build();
    std::vector<uint8_t> initrd = make_initrd(300'001);
    std::string command_line = "console=ttyS0 halcyon.test=poweroff";

    ErrorOr<LinuxEntry> load(uint32_t vcpus = 2, uint64_t memory_bytes = kMemory) {
        return load_linux(memory, LinuxImage{kernel, initrd, command_line},
                          GuestPlatform{memory_bytes, vcpus});
    }
};

TEST_F(LinuxLoad, PlacesKernelAtPrefAddressAndInitrdAtTheTop) {
    auto entry = load();
    ASSERT_FALSE(entry.is_error()) << entry.error().message();
    const LinuxLayout& layout = entry.value().layout;
    EXPECT_EQ(layout.kernel_address, 0x100'0000u);
    EXPECT_EQ(layout.kernel_end, 0x140'0000u);
    EXPECT_EQ(layout.protocol, 0x020F);
    // The initrd ends within a page of the top of RAM, on a page boundary.
    EXPECT_EQ(layout.initrd_address % 4096, 0u);
    EXPECT_LE(layout.initrd_address + initrd.size(), kMemory);
    EXPECT_GT(layout.initrd_address + initrd.size() + 4096, kMemory);
    EXPECT_EQ(layout.initrd_size, initrd.size());

    const auto& bytes = memory.bytes();
    SyntheticBzImage synthetic;
    for (size_t i = 0; i < synthetic.payload_bytes; i += 997)
        ASSERT_EQ(bytes[layout.kernel_address + i], SyntheticBzImage::payload_byte(i)) << i;
    EXPECT_EQ(0, std::memcmp(bytes.data() + layout.kernel_address, kernel.data() + 5 * 512,
                             synthetic.payload_bytes));
    EXPECT_EQ(0, std::memcmp(bytes.data() + layout.initrd_address, initrd.data(), initrd.size()));
    EXPECT_STREQ(reinterpret_cast<const char*>(bytes.data() + layout.command_line_address),
                 command_line.c_str());
}

TEST_F(LinuxLoad, BootParamsCarryTheHeaderAndTheLoaderFields) {
    auto entry = load();
    ASSERT_FALSE(entry.is_error()) << entry.error().message();
    const LinuxLayout& layout = entry.value().layout;
    ASSERT_EQ(layout.boot_params_address, kBootParamsAddress);
    const auto params = memory.load<BootParams>(layout.boot_params_address);

    // The setup header is the image's, byte for byte, except the fields the loader owns.
    SetupHeader expected;
    std::memcpy(&expected, kernel.data() + kSetupHeaderOffset, sizeof(expected));
    EXPECT_EQ(+params.hdr.boot_flag, kBootFlag);
    EXPECT_EQ(+params.hdr.header, kHeaderMagic);
    EXPECT_EQ(+params.hdr.version, +expected.version);
    EXPECT_EQ(+params.hdr.init_size, +expected.init_size);
    EXPECT_EQ(+params.hdr.pref_address, +expected.pref_address);
    EXPECT_EQ(+params.hdr.kernel_alignment, +expected.kernel_alignment);
    EXPECT_EQ(+params.hdr.xloadflags, +expected.xloadflags);
    EXPECT_EQ(+params.hdr.type_of_loader, 0xFF);
    EXPECT_EQ(+params.hdr.loadflags, kLoadedHigh);
    EXPECT_EQ(+params.hdr.cmd_line_ptr, kCommandLineAddress);
    EXPECT_EQ(+params.ext_cmd_line_ptr, 0u);
    EXPECT_EQ(+params.hdr.ramdisk_image, layout.initrd_address);
    EXPECT_EQ(+params.hdr.ramdisk_size, initrd.size());
    EXPECT_EQ(+params.ext_ramdisk_image, 0u);
    EXPECT_EQ(+params.ext_ramdisk_size, 0u);
    EXPECT_EQ(+params.hdr.hardware_subarch, 0u);
    EXPECT_EQ(+params.hdr.setup_data, 0u);
    EXPECT_EQ(+params.sentinel, 0);
    EXPECT_EQ(+params.acpi_rsdp_addr, layout.rsdp_address);

    ASSERT_EQ(+params.e820_entries, 4);
    EXPECT_EQ(+params.e820_table[0].address, 0u);
    EXPECT_EQ(+params.e820_table[0].type, kE820Ram);
    EXPECT_EQ(+params.e820_table[3].address, 0x10'0000u);
    EXPECT_EQ(+params.e820_table[3].address + params.e820_table[3].size, kMemory);

    // The RSDP the zero page names leads the core's ACPI parser to this VM's two CPUs.
    auto machine = std::make_unique<acpi::Machine>();
    ASSERT_FALSE(acpi::discover(params.acpi_rsdp_addr, memory, *machine).is_error());
    EXPECT_EQ(machine->cpu_count, 2u);
    EXPECT_TRUE(machine->s5_valid);
}

TEST_F(LinuxLoad, EntryStateFollowsThe64BitBootProtocol) {
    auto entry = load();
    ASSERT_FALSE(entry.is_error()) << entry.error().message();
    const vmm::GeneralRegisters& regs = entry.value().registers;
    const vmm::SystemRegisters& sys = entry.value().system;
    EXPECT_EQ(regs.rip, 0x100'0000u + 0x200);
    EXPECT_EQ(regs.rsi, kBootParamsAddress);
    EXPECT_EQ(regs.rflags, 0x2u); // IF clear
    EXPECT_EQ(regs.rax | regs.rbx | regs.rcx | regs.rdx | regs.rdi | regs.rbp, 0u);
    EXPECT_EQ(sys.cr0 & 0x8000'0001u, 0x8000'0001u); // PG | PE
    EXPECT_EQ(sys.cr4 & (1u << 5), 1u << 5);         // PAE
    EXPECT_EQ(sys.efer & 0x500u, 0x500u);            // LME | LMA
    EXPECT_EQ(sys.cr3, kPageTableAddress);
    EXPECT_EQ(sys.cs.selector, 0x10);
    EXPECT_EQ(sys.cs.attributes, 0xA9B); // present, code, L = 1
    for (const vmm::Segment* data : {&sys.ds, &sys.es, &sys.ss}) {
        EXPECT_EQ(data->selector, 0x18);
        EXPECT_EQ(data->attributes, 0xC93);
        EXPECT_EQ(data->base, 0u);
    }
    EXPECT_EQ(sys.cpl, 0);
    EXPECT_EQ(sys.gdtr.base, kGdtAddress);
    EXPECT_EQ(sys.gdtr.limit, 4 * 8 - 1);
    // The GDT entries the selectors name describe the same segments as the attributes.
    EXPECT_EQ(memory.load<uint64_t>(kGdtAddress + 0x10), 0x00AF'9B00'0000'FFFFu);
    EXPECT_EQ(memory.load<uint64_t>(kGdtAddress + 0x18), 0x00CF'9300'0000'FFFFu);
}

TEST_F(LinuxLoad, PageTablesIdentityMapTheFirst4GiB) {
    ASSERT_FALSE(load().is_error());
    const uint64_t pml4 = memory.load<uint64_t>(kPageTableAddress);
    ASSERT_EQ(pml4 & 1, 1u);
    const uint64_t pdpt = pml4 & ~0xFFFull;
    for (uint64_t address : {0x0ull, 0x1000200ull, 0x3FFF'FFFFull, 0xFEE0'0000ull}) {
        const uint64_t pdpte = memory.load<uint64_t>(pdpt + 8 * (address >> 30));
        ASSERT_EQ(pdpte & 1, 1u) << address;
        const uint64_t pde =
            memory.load<uint64_t>((pdpte & ~0xFFFull) + 8 * ((address >> 21) & 511));
        ASSERT_EQ(pde & 0x81, 0x81u) << address; // present, 2 MiB page
        EXPECT_EQ((pde & ~0x1F'FFFFull) | (address & 0x1F'FFFF), address);
    }
    EXPECT_EQ(memory.load<uint64_t>(pdpt + 8 * 4), 0u); // nothing beyond 4 GiB
}

TEST_F(LinuxLoad, WorksWithoutInitrdOrCommandLine) {
    initrd.clear();
    command_line.clear();
    auto entry = load(1);
    ASSERT_FALSE(entry.is_error()) << entry.error().message();
    EXPECT_EQ(entry.value().layout.initrd_address, 0u);
    const auto params = memory.load<BootParams>(kBootParamsAddress);
    EXPECT_EQ(+params.hdr.ramdisk_image, 0u);
    EXPECT_EQ(+params.hdr.ramdisk_size, 0u);
    EXPECT_EQ(memory.bytes()[kCommandLineAddress], 0);
}

TEST_F(LinuxLoad, InitrdStaysBelowInitrdAddrMax) {
    SyntheticBzImage synthetic;
    synthetic.header.initrd_addr_max = 0x2FF'FFFF; // 48 MiB - 1
    kernel = synthetic.build();
    auto entry = load();
    ASSERT_FALSE(entry.is_error()) << entry.error().message();
    const LinuxLayout& layout = entry.value().layout;
    EXPECT_LE(layout.initrd_address + initrd.size() - 1, 0x2FF'FFFFu);
    EXPECT_GT(layout.initrd_address + initrd.size() + 4096, 0x300'0000u);
    EXPECT_EQ(layout.initrd_address % 4096, 0u);
}

TEST_F(LinuxLoad, UnusablePrefAddressFallsBackToAnAlignedAddressFrom16MiB) {
    SyntheticBzImage synthetic;
    synthetic.header.pref_address = 0x8'0000; // below 1 MiB
    synthetic.header.kernel_alignment = 0x100'0000;
    kernel = synthetic.build();
    auto entry = load();
    ASSERT_FALSE(entry.is_error()) << entry.error().message();
    EXPECT_EQ(entry.value().layout.kernel_address, 0x100'0000u);
    EXPECT_EQ(entry.value().registers.rip, 0x100'0200u);

    synthetic.header.pref_address = 0x110'0000; // misaligned for a 2 MiB alignment
    synthetic.header.kernel_alignment = 0x20'0000;
    kernel = synthetic.build();
    auto realigned = load();
    ASSERT_FALSE(realigned.is_error()) << realigned.error().message();
    EXPECT_EQ(realigned.value().layout.kernel_address, 0x100'0000u);
}

TEST_F(LinuxLoad, RefusesWhatDoesNotFit) {
    SyntheticBzImage huge;
    huge.header.init_size = 48u << 20; // 16 MiB + 48 MiB = all of RAM, no room for the initrd
    kernel = huge.build();
    auto no_room = load();
    ASSERT_TRUE(no_room.is_error());
    EXPECT_STREQ(no_room.error().message(), "initrd does not fit in guest memory above the kernel");

    huge.header.init_size = 60u << 20;
    kernel = huge.build();
    auto too_big = load();
    ASSERT_TRUE(too_big.is_error());
    EXPECT_STREQ(too_big.error().message(),
                 "kernel does not fit in guest memory (load address + init_size)");
    EXPECT_EQ(memory.writes(), 0u); // refused before anything was written
}

TEST_F(LinuxLoad, RefusesBadCommandLinesAndPlatforms) {
    command_line = std::string(2048, 'x'); // cmdline_size is 2047
    EXPECT_STREQ(load().error().message(), "command line is longer than the kernel accepts");
    command_line = std::string("a\0b", 3);
    EXPECT_STREQ(load().error().message(), "command line contains a NUL byte");
    command_line = "quiet";
    EXPECT_EQ(load(0).error().code(), ErrorCode::out_of_range);
    EXPECT_EQ(load(255).error().code(), ErrorCode::out_of_range);
    EXPECT_EQ(load(1, 16ull << 20).error().code(), ErrorCode::out_of_range);
    EXPECT_EQ(load(1, 4ull << 30).error().code(), ErrorCode::not_supported);
    kernel.resize(100);
    EXPECT_STREQ(load().error().message(),
                 "kernel image is truncated: too short to hold a bzImage setup header");
    EXPECT_EQ(memory.writes(), 0u);
}

} // namespace
} // namespace halcyon::worker::linux_boot
