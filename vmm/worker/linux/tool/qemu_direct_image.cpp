#include "vmm/worker/linux/tool/qemu_direct_image.hpp"

#include "vmm/worker/linux/acpi_tables.hpp"
#include "vmm/worker/linux/boot_protocol.hpp"
#include "vmm/worker/linux/e820.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

namespace halcyon::worker::linux_boot::tool {
namespace {

constexpr uint64_t kFirmwareBase = 0xE'0000; // the image's low alias, 128 KiB up to 1 MiB
constexpr uint64_t kFirmwareBytes = 0x2'0000;
constexpr uint64_t kParamsAddress = 0xF'E000;
constexpr uint64_t kEntryCodeAddress = 0xF'F000;
constexpr uint64_t kEntryCodeBytes = 0x1000;

// The layout entry.S reads (P_* offsets there).
struct [[gnu::packed]] EntryParams {
    uint64_t cr0, cr3, cr4, efer;
    uint16_t gdt_limit;
    uint32_t gdt_base;
    uint16_t padding;
    uint64_t rip, rsi, rsp;
};
static_assert(sizeof(EntryParams) == 0x40);

bool write_file(const std::string& path, const uint8_t* data, size_t size) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    return static_cast<bool>(out);
}

std::string hex(uint64_t value) {
    char text[24];
    std::snprintf(text, sizeof(text), "0x%llx", static_cast<unsigned long long>(value));
    return text;
}

} // namespace

std::string write_qemu_direct_image(const std::string& dir, const std::string& entry_code_path,
                                    const testing::BufferGuestMemory& memory,
                                    const LinuxEntry& entry, uint64_t kernel_bytes) {
    const vmm::SystemRegisters& sys = entry.system;
    const vmm::GeneralRegisters& regs = entry.registers;
    if (sys.cs.selector != kBootCodeSelector || sys.ds.selector != kBootDataSelector ||
        sys.ss.selector != kBootDataSelector || sys.gdtr.base > 0xFFFF'FFFF)
        return "entry state does not match the selectors entry.S loads";
    std::ifstream code_file(entry_code_path, std::ios::binary);
    const std::vector<uint8_t> code{std::istreambuf_iterator<char>(code_file),
                                    std::istreambuf_iterator<char>()};
    if (code.size() != kEntryCodeBytes || code[0xFF0] != 0xEA) // far jump at the reset vector
        return "entry code " + entry_code_path + " is not the 4 KiB image of entry.S";

    const auto& bytes = memory.bytes();
    std::vector<uint8_t> firmware(bytes.begin() + kFirmwareBase,
                                  bytes.begin() + kFirmwareBase + kFirmwareBytes);
    const EntryParams params{
        sys.cr0, sys.cr3,  sys.cr4,  sys.efer, sys.gdtr.limit, static_cast<uint32_t>(sys.gdtr.base),
        0,       regs.rip, regs.rsi, regs.rsp};
    if (std::any_of(firmware.begin() + (kParamsAddress - kFirmwareBase), firmware.end(),
                    [](uint8_t byte) { return byte != 0; }))
        return "ACPI tables reach into the entry state / code area";
    std::memcpy(firmware.data() + (kParamsAddress - kFirmwareBase), &params, sizeof(params));
    std::memcpy(firmware.data() + (kEntryCodeAddress - kFirmwareBase), code.data(), code.size());

    const LinuxLayout& l = entry.layout;
    struct Blob {
        const char* name;
        uint64_t address, size;
    };
    const Blob blobs[] = {{"low.bin", 0, kLegacyHoleStart},
                          {"kernel.bin", l.kernel_address, kernel_bytes},
                          {"initrd.bin", l.initrd_address, l.initrd_size}};
    std::string args = "-bios\n" + dir + "/firmware.bin\n";
    if (!write_file(dir + "/firmware.bin", firmware.data(), firmware.size()))
        return "cannot write " + dir + "/firmware.bin";
    for (const Blob& blob : blobs) {
        if (blob.size == 0)
            continue;
        const std::string path = dir + "/" + blob.name;
        if (!write_file(path, bytes.data() + blob.address, blob.size))
            return "cannot write " + path;
        args += "-device\nloader,file=" + path + ",addr=" + hex(blob.address) + ",force-raw=on\n";
    }
    std::ofstream out(dir + "/qemu-args");
    out << args;
    return out ? "" : "cannot write " + dir + "/qemu-args";
}

} // namespace halcyon::worker::linux_boot::tool
