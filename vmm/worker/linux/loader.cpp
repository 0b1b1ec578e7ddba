#include "vmm/worker/linux/loader.hpp"

#include "vmm/worker/linux/acpi_tables.hpp"
#include "vmm/worker/linux/boot_protocol.hpp"
#include "vmm/worker/linux/e820.hpp"
#include "vmm/worker/linux/kernel_image.hpp"
#include "vmm/worker/linux/long_mode.hpp"

namespace halcyon::worker::linux_boot {
namespace {

constexpr uint64_t kPageBytes = 4096;
// Loader-owned loadflags bits (QUIET_FLAG, KEEP_SEGMENTS, CAN_USE_HEAP): this loader asks for
// none of them (no 16-bit setup code runs, so there is no heap either).
constexpr uint8_t kLoaderLoadFlags = (1u << 5) | kKeepSegments | kCanUseHeap;

// null, null, __BOOT_CS (0x10), __BOOT_DS (0x18).
constexpr uint64_t kGdt[] = {0, 0, kFlatCode64Descriptor, kFlatDataDescriptor};
static_assert(kBootCodeSelector == 2 * sizeof(uint64_t));
static_assert(kBootDataSelector == 3 * sizeof(uint64_t));
static_assert(kGdtAddress + sizeof(kGdt) <= kPageTableAddress);
static_assert(kPageTableAddress + kIdentityPageTableBytes <= kBootStackTop);
static_assert(kBootParamsAddress + sizeof(BootParams) <= kCommandLineAddress);
static_assert(kCommandLineAddress + kCommandLineCapacity <= kConventionalMemoryEnd);

constexpr uint64_t align_up(uint64_t value, uint64_t alignment) {
    return (value + alignment - 1) & ~(alignment - 1);
}

ErrorOr<void> check_platform(const GuestPlatform& platform) {
    if (platform.vcpu_count == 0 || platform.vcpu_count > kMaxAcpiVcpus)
        return Error(ErrorCode::out_of_range, "Linux guests support 1 to 254 vCPUs");
    if (platform.memory_bytes <= kMinimumKernelAddress)
        return Error(ErrorCode::out_of_range, "Linux guests need more than 16 MiB of memory");
    if (platform.memory_bytes > kMaxGuestMemory)
        return Error(ErrorCode::not_supported, "Linux guests support at most 3 GiB of memory");
    return {};
}

ErrorOr<void> check_command_line(std::string_view command_line, const KernelImage& kernel) {
    if (command_line.size() > kernel.cmdline_max)
        return Error(ErrorCode::out_of_range, "command line is longer than the kernel accepts");
    if (command_line.size() >= kCommandLineCapacity)
        return Error(ErrorCode::out_of_range, "command line is longer than 4095 bytes");
    if (command_line.find('\0') != std::string_view::npos)
        return Error(ErrorCode::invalid_argument, "command line contains a NUL byte");
    return {};
}

// pref_address when the kernel can run there; otherwise (a relocatable kernel whose preferred
// address is below 1 MiB or misaligned) the lowest kernel_alignment boundary from 16 MiB.
ErrorOr<uint64_t> kernel_address(const KernelImage& kernel, uint64_t memory_bytes) {
    uint64_t address = kernel.preferred_address;
    if (kernel.relocatable && (address < kHighMemoryStart || address % kernel.alignment != 0))
        address = align_up(kMinimumKernelAddress, kernel.alignment);
    if (address < kHighMemoryStart)
        return Error(ErrorCode::not_supported, "kernel wants to be loaded below 1 MiB");
    if (address >= memory_bytes || memory_bytes - address < kernel.init_size)
        return Error(ErrorCode::out_of_memory,
                     "kernel does not fit in guest memory (load address + init_size)");
    return address;
}

// The initrd goes as high as it may: below the kernel's initrd_addr_max and the end of RAM, on
// a page boundary, and above everything the kernel claims (load address + init_size).
ErrorOr<uint64_t> initrd_address(uint64_t size, const KernelImage& kernel, uint64_t kernel_end,
                                 uint64_t memory_bytes) {
    if (size == 0)
        return uint64_t{0};
    const uint64_t limit =
        kernel.initrd_max < memory_bytes - 1 ? kernel.initrd_max + 1 : memory_bytes;
    if (size > limit || ((limit - size) & ~(kPageBytes - 1)) < kernel_end)
        return Error(ErrorCode::out_of_memory,
                     "initrd does not fit in guest memory above the kernel");
    return (limit - size) & ~(kPageBytes - 1);
}

ErrorOr<void> write_boot_params(GuestMemoryWriter& memory, std::span<const uint8_t> image,
                                const KernelImage& kernel, const LinuxLayout& layout,
                                uint64_t memory_bytes) {
    BootParams params{};
    // The protocol: copy the kernel's setup header as it is in the image, then fill in the
    // loader's fields.
    __builtin_memcpy(&params.hdr, image.data() + kSetupHeaderOffset, kernel.header_bytes);
    SetupHeader& hdr = params.hdr;
    hdr.type_of_loader = kLoaderTypeUndefined;
    hdr.loadflags = static_cast<uint8_t>(hdr.loadflags & ~kLoaderLoadFlags);
    hdr.cmd_line_ptr = static_cast<uint32_t>(layout.command_line_address);
    params.ext_cmd_line_ptr = static_cast<uint32_t>(layout.command_line_address >> 32);
    hdr.ramdisk_image = static_cast<uint32_t>(layout.initrd_address);
    hdr.ramdisk_size = static_cast<uint32_t>(layout.initrd_size);
    params.ext_ramdisk_image = static_cast<uint32_t>(layout.initrd_address >> 32);
    params.ext_ramdisk_size = static_cast<uint32_t>(layout.initrd_size >> 32);
    hdr.hardware_subarch = kHardwareSubarchPc;
    hdr.hardware_subarch_data = 0;
    hdr.setup_data = 0;
    params.acpi_rsdp_addr = layout.rsdp_address;
    params.e820_entries =
        static_cast<uint8_t>(TRY(build_e820_map(memory_bytes, params.e820_table)));
    return memory.write_object(layout.boot_params_address, params);
}

ErrorOr<void> write_command_line(GuestMemoryWriter& memory, std::string_view command_line) {
    const auto* text = reinterpret_cast<const uint8_t*>(command_line.data());
    TRY(memory.write(kCommandLineAddress, {text, command_line.size()}));
    const uint8_t nul = 0;
    return memory.write_object(kCommandLineAddress + command_line.size(), nul);
}

LinuxEntry entry_state(const LinuxLayout& layout) {
    LinuxEntry entry{};
    entry.layout = layout;
    entry.registers = vmm::GeneralRegisters{};
    entry.registers.rip = layout.kernel_address + kEntry64Offset;
    entry.registers.rsi = layout.boot_params_address;
    entry.registers.rsp = kBootStackTop;
    entry.registers.rflags = 0x2; // reserved bit 1 only: interrupts disabled
    LongModeLayout long_mode;
    long_mode.cr3 = kPageTableAddress;
    long_mode.gdt_base = kGdtAddress;
    long_mode.gdt_limit = static_cast<uint16_t>(sizeof(kGdt) - 1);
    long_mode.code_selector = kBootCodeSelector;
    long_mode.data_selector = kBootDataSelector;
    entry.system = long_mode_system_registers(long_mode);
    return entry;
}

} // namespace

ErrorOr<LinuxEntry> load_linux(GuestMemoryWriter& memory, const LinuxImage& image,
                               const GuestPlatform& platform) {
    // Everything is validated before the first write, so a refused image leaves memory alone.
    TRY(check_platform(platform));
    const KernelImage kernel = TRY(parse_kernel_image(image.kernel));
    TRY(check_command_line(image.command_line, kernel));
    LinuxLayout layout{};
    layout.protocol = kernel.protocol;
    layout.kernel_address = TRY(kernel_address(kernel, platform.memory_bytes));
    layout.kernel_end = layout.kernel_address + kernel.init_size;
    layout.initrd_size = image.initrd.size();
    layout.initrd_address =
        TRY(initrd_address(image.initrd.size(), kernel, layout.kernel_end, platform.memory_bytes));
    layout.command_line_address = kCommandLineAddress;
    layout.boot_params_address = kBootParamsAddress;

    TRY(memory.write_object(kGdtAddress, kGdt));
    TRY(write_identity_page_tables(memory, kPageTableAddress));
    const AcpiTables acpi =
        TRY(write_acpi_tables(memory, AcpiPlatform{platform.vcpu_count, platform.vmbus}));
    layout.rsdp_address = acpi.rsdp;
    TRY(write_command_line(memory, image.command_line));
    TRY(memory.write(layout.kernel_address, kernel.payload));
    if (!image.initrd.empty())
        TRY(memory.write(layout.initrd_address, image.initrd));
    TRY(write_boot_params(memory, image.kernel, kernel, layout, platform.memory_bytes));
    return entry_state(layout);
}

} // namespace halcyon::worker::linux_boot
