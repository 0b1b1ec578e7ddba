// Building a VM: partition, memory, vCPUs, devices, and the guest image. The image decides how
// the VM starts: a Linux bzImage (found by its "HdrS" setup-header magic) boots through the
// Linux boot protocol with ACPI tables (vmm/worker/linux), anything else is a flat test guest
// (flat_guest.hpp).
#include "vmm/core/log.hpp"
#include "vmm/root/dispatch/root_partition.hpp"
#include "vmm/worker/flat_guest.hpp"
#include "vmm/worker/linux/loader.hpp"
#include "vmm/worker/partition_writer.hpp"
#include "vmm/worker/vm.hpp"
#include "vmm/worker/vm_bootstrap.hpp"
#include "vmm/worker/vm_files.hpp"
#include "vmm/worker/vm_platform.hpp"
#include "vmm/worker/vm_vmbus.hpp"

#include <string.h>

namespace halcyon::worker {
namespace {

bool is_bzimage(std::span<const uint8_t> image) {
    constexpr size_t kMagicOffset = 0x202;
    return image.size() > kMagicOffset + 4 && memcmp(image.data() + kMagicOffset, "HdrS", 4) == 0;
}

} // namespace

ErrorOr<void> Vm::build() {
    if (bootstrap != nullptr)
        return build_bootstrapped();
    // A boot module, or a "ds:" file read from the datastore (vm_files.hpp).
    const std::span<const uint8_t> image = TRY(file_bytes(config.kernel));
    partition = TRY(vmm::Partition::create(config.name, address_space_id, frames));
    partition->set_observer(this);
    TRY(partition->add_memory(0, config.memory_bytes));
    // Flat test guests start all their vCPUs at once; Linux starts its APs with INIT/SIPI.
    const bool all_running = !is_bzimage(image);
    for (uint32_t i = 0; i < config.vcpus; ++i)
        (void)TRY(partition->create_vcpu(all_running));
    // `privileged = yes`: the root partition (docs/management-partition.md).
    if (config.privileged)
        TRY(vmm::root::make_root(*partition, frames));
    platform = TRY(VmPlatform::create(*this));
    if (config.vmbus)
        vmbus = TRY(VmVmbus::create(*this));
    return load();
}

// The management partition: its memory and image come from the bootstrap; one vCPU, running
// at once, the root partition.
ErrorOr<void> Vm::build_bootstrapped() {
    partition = TRY(vmm::Partition::create(config.name, address_space_id, frames));
    partition->set_observer(this);
    TRY(bootstrap->add_memory(*partition));
    for (uint32_t i = 0; i < config.vcpus; ++i)
        (void)TRY(partition->create_vcpu(true));
    if (config.privileged)
        TRY(vmm::root::make_root(*partition, frames));
    platform = TRY(VmPlatform::create(*this));
    return load();
}

ErrorOr<void> Vm::rebuild() {
    vmm::root::reset_root(*partition); // a root's children go, their memory back into its RAM
    if (bootstrap != nullptr) {
        partition->reset(true);
    } else {
        const auto image = file_bytes(config.kernel);
        partition->reset(!image.is_error() && !is_bzimage(image.value()));
    }
    platform->reset();
    if (vmbus != nullptr)
        vmbus->reset();
    return load();
}

ErrorOr<void> Vm::load() {
    if (bootstrap != nullptr) {
        TRY(bootstrap->load(*partition));
        return mark_running();
    }
    const std::span<const uint8_t> image = TRY(file_bytes(config.kernel));
    if (is_bzimage(image)) {
        std::span<const uint8_t> initrd;
        if (config.initrd[0] != '\0')
            initrd = TRY(file_bytes(config.initrd));
        PartitionWriter writer(*partition);
        const linux_boot::LinuxImage linux_image{image, initrd, config.command_line};
        const linux_boot::GuestPlatform guest{config.memory_bytes, config.vcpus, config.vmbus};
        const linux_boot::LinuxEntry entry =
            TRY(linux_boot::load_linux(writer, linux_image, guest));
        partition->registers(0) = entry.registers;
        partition->set_system_registers(0, entry.system);
        if (resets == 0)
            log::info(
                "vm %s: Linux boot protocol %u.%02u, kernel at %#llx, initrd %llu KiB at %#llx",
                config.name, entry.layout.protocol >> 8, entry.layout.protocol & 0xFF,
                static_cast<unsigned long long>(entry.layout.kernel_address),
                static_cast<unsigned long long>(entry.layout.initrd_size >> 10),
                static_cast<unsigned long long>(entry.layout.initrd_address));
    } else {
        TRY(load_flat_guest(*partition, image));
    }
    return mark_running();
}

ErrorOr<void> Vm::mark_running() {
    for (uint32_t i = 0; i < partition->vcpu_count(); ++i) {
        vcpu_running[i] = true;
        in_guest_on[i] = kNotInGuest;
    }
    running_vcpus = partition->vcpu_count();
    return {};
}

} // namespace halcyon::worker
