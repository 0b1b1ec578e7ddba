// linux-boot-inspect: runs the Linux loader (vmm/worker/linux) on the host, over a buffer the
// size of the guest's RAM, and shows what a Halcyon VM would start with. Used by the interop
// tests (the real Debian kernel; iasl over the ACPI tables) and for debugging a kernel that
// will not boot.
//
//   linux-boot-inspect load KERNEL [INITRD] [--cmdline TEXT] [--memory-mib N] [--cpus N] [--vmbus]
//       load, print the layout, the zero page and the entry state, and cross-check them
//   linux-boot-inspect acpi OUTDIR [--cpus N] [--vmbus]
//       write the ACPI tables as OUTDIR/{rsdp,xsdt,facp,facs,dsdt,apic}.dat (for iasl -d)
//   linux-boot-inspect qemu-image KERNEL [INITRD] --out DIR --entry-code ENTRY.BIN [options]
//       load, then write the result as files QEMU boots without firmware (qemu_direct_image.hpp)
// --vmbus: the VM has a VMBus, so the DSDT describes its ACPI device (acpi_tables.hpp).
#include "vmm/acpi/acpi.hpp"
#include "vmm/worker/linux/acpi_tables.hpp"
#include "vmm/worker/linux/boot_protocol.hpp"
#include "vmm/worker/linux/loader.hpp"
#include "vmm/worker/linux/testing/buffer_guest_memory.hpp"
#include "vmm/worker/linux/tool/qemu_direct_image.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

using namespace halcyon;
using namespace halcyon::worker::linux_boot;
using halcyon::worker::testing::BufferGuestMemory;

namespace {

[[noreturn]] void fail(const std::string& message) {
    std::fprintf(stderr, "linux-boot-inspect: %s\n", message.c_str());
    std::exit(1);
}

std::vector<uint8_t> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        fail("cannot read " + path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void check(bool ok, const char* what) {
    std::printf("check: %-58s %s\n", what, ok ? "ok" : "FAILED");
    if (!ok)
        std::exit(1);
}

struct Options {
    std::vector<std::string> positional;
    std::string command_line = "console=ttyS0";
    uint64_t memory_mib = 256;
    uint32_t cpus = 1;
    bool vmbus = false;
    std::string out_dir, entry_code;
};

Options parse(int argc, char** argv) {
    Options options;
    for (int i = 2; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--cmdline" && has_value)
            options.command_line = argv[++i];
        else if (arg == "--memory-mib" && has_value)
            options.memory_mib = std::strtoull(argv[++i], nullptr, 0);
        else if (arg == "--cpus" && has_value)
            options.cpus = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 0));
        else if (arg == "--out" && has_value)
            options.out_dir = argv[++i];
        else if (arg == "--entry-code" && has_value)
            options.entry_code = argv[++i];
        else if (arg == "--vmbus")
            options.vmbus = true;
        else if (arg.rfind("--", 0) == 0)
            fail("unknown option " + arg);
        else
            options.positional.push_back(arg);
    }
    return options;
}

struct Loaded {
    std::vector<uint8_t> kernel, initrd;
    std::unique_ptr<BufferGuestMemory> memory;
    LinuxEntry entry;
};

Loaded run_loader(const Options& options) {
    if (options.positional.empty() || options.positional.size() > 2)
        fail("usage: linux-boot-inspect load|qemu-image KERNEL [INITRD] [options]");
    Loaded loaded;
    loaded.kernel = read_file(options.positional[0]);
    if (options.positional.size() == 2)
        loaded.initrd = read_file(options.positional[1]);
    const uint64_t memory_bytes = options.memory_mib << 20;
    loaded.memory = std::make_unique<BufferGuestMemory>(memory_bytes);
    auto entry =
        load_linux(*loaded.memory, LinuxImage{loaded.kernel, loaded.initrd, options.command_line},
                   GuestPlatform{memory_bytes, options.cpus, options.vmbus});
    if (entry.is_error())
        fail(std::string("load_linux: ") + entry.error().message());
    loaded.entry = entry.value();
    return loaded;
}

int load(const Options& options) {
    const Loaded loaded = run_loader(options);
    const BufferGuestMemory& memory = *loaded.memory;
    const std::vector<uint8_t>& kernel = loaded.kernel;
    const std::vector<uint8_t>& initrd = loaded.initrd;
    const LinuxEntry& entry = loaded.entry;
    const LinuxLayout& l = entry.layout;
    const auto params = memory.load<BootParams>(l.boot_params_address);

    std::printf("kernel: %zu bytes, boot protocol %u.%02u, setup_sects %u, init_size 0x%x\n",
                kernel.size(), l.protocol >> 8, l.protocol & 0xFF, +params.hdr.setup_sects,
                +params.hdr.init_size);
    std::printf("layout: kernel 0x%llx-0x%llx  initrd 0x%llx (+%llu)  cmdline 0x%llx  "
                "boot_params 0x%llx  rsdp 0x%llx\n",
                (unsigned long long)l.kernel_address, (unsigned long long)l.kernel_end,
                (unsigned long long)l.initrd_address, (unsigned long long)l.initrd_size,
                (unsigned long long)l.command_line_address,
                (unsigned long long)l.boot_params_address, (unsigned long long)l.rsdp_address);
    for (unsigned i = 0; i < params.e820_entries; ++i) {
        const E820Entry e = params.e820_table[i];
        std::printf("e820:   0x%010llx-0x%010llx type %u\n", (unsigned long long)e.address,
                    (unsigned long long)(e.address + e.size), e.type);
    }
    std::printf("entry:  rip 0x%llx rsi 0x%llx rsp 0x%llx cr0 0x%llx cr3 0x%llx cr4 0x%llx "
                "efer 0x%llx cs 0x%x ds 0x%x\n",
                (unsigned long long)entry.registers.rip, (unsigned long long)entry.registers.rsi,
                (unsigned long long)entry.registers.rsp, (unsigned long long)entry.system.cr0,
                (unsigned long long)entry.system.cr3, (unsigned long long)entry.system.cr4,
                (unsigned long long)entry.system.efer, entry.system.cs.selector,
                entry.system.ds.selector);

    const size_t setup_bytes =
        (size_t{params.hdr.setup_sects ? params.hdr.setup_sects : 4u} + 1) * 512;
    const size_t code_bytes = size_t{params.hdr.syssize} * 16;
    check(std::memcmp(memory.bytes().data() + l.kernel_address, kernel.data() + setup_bytes,
                      code_bytes) == 0,
          "protected-mode code at the load address");
    check(initrd.empty() || std::memcmp(memory.bytes().data() + l.initrd_address, initrd.data(),
                                        initrd.size()) == 0,
          "initrd at ramdisk_image");
    check(l.initrd_address == 0 || l.initrd_address >= l.kernel_end, "initrd above init_size");
    check(params.hdr.cmd_line_ptr == l.command_line_address &&
              options.command_line ==
                  reinterpret_cast<const char*>(memory.bytes().data() + params.hdr.cmd_line_ptr),
          "command line at cmd_line_ptr");
    check(entry.registers.rip == l.kernel_address + kEntry64Offset, "rip = load address + 0x200");
    check((params.hdr.xloadflags & kXlfKernel64) != 0, "XLF_KERNEL_64");
    auto machine = std::make_unique<acpi::Machine>();
    check(!acpi::discover(params.acpi_rsdp_addr, memory, *machine).is_error() &&
              machine->cpu_count == options.cpus && machine->s5_valid,
          "ACPI tables found from boot_params.acpi_rsdp_addr");
    return 0;
}

int dump_acpi(const Options& options) {
    if (options.positional.size() != 1)
        fail("usage: linux-boot-inspect acpi OUTDIR [--cpus N] [--vmbus]");
    BufferGuestMemory memory(kAcpiRegionEnd);
    auto tables = write_acpi_tables(memory, AcpiPlatform{options.cpus, options.vmbus});
    if (tables.is_error())
        fail(std::string("write_acpi_tables: ") + tables.error().message());
    const AcpiTables& t = tables.value();
    struct Table {
        const char* name;
        uint64_t address;
    };
    for (const Table& table :
         {Table{"rsdp", t.rsdp}, Table{"xsdt", t.xsdt}, Table{"facp", t.fadt},
          Table{"facs", t.facs}, Table{"dsdt", t.dsdt}, Table{"apic", t.madt}}) {
        const uint32_t length =
            std::strcmp(table.name, "rsdp") == 0 ? 36 : memory.load<uint32_t>(table.address + 4);
        const auto bytes = memory.read(table.address, length).value();
        const std::string path = options.positional[0] + "/" + table.name + ".dat";
        std::ofstream out(path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        if (!out)
            fail("cannot write " + path);
        std::printf("%s: %u bytes at 0x%llx\n", path.c_str(), length,
                    (unsigned long long)table.address);
    }
    return 0;
}

int qemu_image(const Options& options) {
    if (options.out_dir.empty() || options.entry_code.empty())
        fail("qemu-image needs --out DIR and --entry-code ENTRY.BIN");
    const Loaded loaded = run_loader(options);
    const auto params = loaded.memory->load<BootParams>(loaded.entry.layout.boot_params_address);
    const std::string error =
        tool::write_qemu_direct_image(options.out_dir, options.entry_code, *loaded.memory,
                                      loaded.entry, uint64_t{params.hdr.syssize} * 16);
    if (!error.empty())
        fail(error);
    std::printf("qemu-image: kernel at 0x%llx, initrd at 0x%llx, entry 0x%llx -> %s\n",
                (unsigned long long)loaded.entry.layout.kernel_address,
                (unsigned long long)loaded.entry.layout.initrd_address,
                (unsigned long long)loaded.entry.registers.rip, options.out_dir.c_str());
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    const std::string command = argc > 1 ? argv[1] : "";
    if (command == "load")
        return load(parse(argc, argv));
    if (command == "acpi")
        return dump_acpi(parse(argc, argv));
    if (command == "qemu-image")
        return qemu_image(parse(argc, argv));
    std::fprintf(stderr, "usage: linux-boot-inspect load KERNEL [INITRD] [--cmdline TEXT] "
                         "[--memory-mib N] [--cpus N]\n"
                         "       linux-boot-inspect acpi OUTDIR [--cpus N]\n"
                         "       linux-boot-inspect qemu-image KERNEL [INITRD] --out DIR "
                         "--entry-code ENTRY.BIN [options]\n");
    return 2;
}
