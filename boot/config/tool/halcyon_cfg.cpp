// halcyon-cfg: checks a halcyon.cfg on the build host before it goes into an image, with the
// same parser the loader and the core use, so a file that passes here boots.
//   halcyon-cfg check FILE   -> "FILE:LINE: message" per problem and exit 1, or a summary and 0
//   halcyon-cfg modules FILE -> the files a loader brings to the core as modules, one per line,
//                               in the loaders' order (tools/make-image.py writes grub.cfg's
//                               module2 lines from it); problems as for check
#include "boot/common/boot_files.hpp"
#include "boot/config/config.hpp"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <sstream>
#include <string>

using namespace halcyon::config;

namespace {

int usage() {
    std::fprintf(stderr, "usage: halcyon-cfg check FILE\n       halcyon-cfg modules FILE\n");
    return 2;
}

const char* address_mode(const ManagementNetwork& net, char* buffer, size_t size) {
    switch (net.mode) {
    case AddressMode::none:
        return "none";
    case AddressMode::dhcp:
        return "dhcp";
    case AddressMode::static_ipv4: {
        uint32_t ip = net.ipv4_address;
        std::snprintf(buffer, size, "%u.%u.%u.%u/%u", ip >> 24, (ip >> 16) & 0xFF, (ip >> 8) & 0xFF,
                      ip & 0xFF, net.ipv4_prefix_length);
        return buffer;
    }
    }
    return "?";
}

void print_summary(const char* path, const BootConfig& config) {
    char serial[16] = "none";
    if (config.serial.enabled)
        std::snprintf(serial, sizeof(serial), "0x%x", config.serial.io_port);
    char address[32];
    std::printf("%s: ok: serial %s at %u baud, log %s, management %s port %u, %u VM%s\n", path,
                serial, config.serial.baud, log_level_name(config.log_level),
                address_mode(config.management, address, sizeof(address)),
                config.management.api_port, config.vm_count, config.vm_count == 1 ? "" : "s");
    for (uint32_t i = 0; i < config.vm_count; ++i) {
        const VmConfig& vm = config.vms[i];
        std::printf("  vm %s: kernel %s%s%s, %llu MiB, %u vCPU%s (weight %u, reserve %u%%, "
                    "limit %u%%), %u disk%s%s%s\n",
                    vm.name, vm.kernel, vm.initrd[0] ? ", initrd " : "", vm.initrd,
                    static_cast<unsigned long long>(vm.memory_bytes >> 20), vm.vcpus,
                    vm.vcpus == 1 ? "" : "s", vm.cpu_weight, vm.cpu_reserve_percent,
                    vm.cpu_limit_percent, vm.disk_count, vm.disk_count == 1 ? "" : "s",
                    vm.test_devices ? ", test devices" : "",
                    vm.privileged ? ", privileged (root partition)" : "");
    }
}

void print_modules(const BootConfig& config) {
    std::printf("%s\n%s\n", halcyon::loader::kConfigFileName, halcyon::loader::kCoreFileName);
    std::set<std::string> seen;
    halcyon::loader::for_each_vm_file(config, [&](const char* path) {
        if (seen.insert(path).second)
            std::printf("%s\n", path);
    });
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 3)
        return usage();
    const std::string command = argv[1];
    if (command != "check" && command != "modules")
        return usage();
    const char* path = argv[2];
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        std::fprintf(stderr, "%s: cannot open\n", path);
        return 1;
    }
    std::ostringstream contents;
    contents << file.rdbuf();
    if (file.bad()) {
        std::fprintf(stderr, "%s: read error\n", path);
        return 1;
    }
    std::string text = contents.str();

    auto config = std::make_unique<BootConfig>(); // large (VM command lines): keep it off the stack
    Diagnostics diagnostics;
    if (parse(text, *config, diagnostics)) {
        if (command == "modules")
            print_modules(*config);
        else
            print_summary(path, *config);
        return 0;
    }
    for (uint32_t i = 0; i < diagnostics.count; ++i)
        std::fprintf(stderr, "%s:%u: %s\n", path, diagnostics.entries[i].line,
                     diagnostics.entries[i].message);
    if (diagnostics.dropped != 0)
        std::fprintf(stderr, "%s: %u more problem%s not shown\n", path, diagnostics.dropped,
                     diagnostics.dropped == 1 ? "" : "s");
    return 1;
}
