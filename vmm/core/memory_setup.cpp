#include "vmm/core/memory_setup.hpp"

#include "mm/core_address_space.hpp"
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/core/boot_info.hpp"
#include "vmm/core/log.hpp"

#include <optional>

extern "C" const char __text_start[], __text_end[], __rodata_start[], __rodata_end[],
    __data_start[], __bss_end[];

namespace halcyon::memory_setup {
namespace {

std::optional<mm::FrameAllocator> g_frames;

constexpr size_t kMaxDeviceRanges = 4 + acpi::kMaxIoApics;

uint64_t address(const char* symbol) {
    return reinterpret_cast<uint64_t>(symbol);
}

} // namespace

ErrorOr<mm::FrameAllocator*> init_frames(const handoff::Handoff& handoff) {
    auto frames =
        mm::FrameAllocator::create(boot_info::memory_map(handoff),
                                   mm::MetadataPlacement::carve(mm::PhysicalWindow::direct_map()));
    if (frames.is_error())
        return frames.release_error();
    g_frames.emplace(frames.release_value());
    return &*g_frames;
}

ErrorOr<uint64_t> switch_to_core_address_space(const handoff::Handoff& handoff,
                                               const acpi::Machine* machine,
                                               mm::FrameAllocator& frames) {
    mm::DeviceRange devices[kMaxDeviceRanges];
    size_t device_count = 0;

    // The local APIC's registers, wherever IA32_APIC_BASE puts them (bits 12 and up).
    const uint64_t apic_base = x86::rdmsr(x86::msr::kApicBase) & 0x000F'FFFF'FFFF'F000ULL;
    devices[device_count++] = {apic_base, 4096, mm::CacheMode::uncached};
    if (handoff.framebuffer.physical_base != 0 && handoff.framebuffer.size != 0) {
        devices[device_count++] = {handoff.framebuffer.physical_base, handoff.framebuffer.size,
                                   mm::CacheMode::write_combining};
    }
    if (machine != nullptr) {
        if (machine->hpet_address != 0)
            devices[device_count++] = {machine->hpet_address, 4096, mm::CacheMode::uncached};
        for (uint32_t i = 0; i < machine->io_apic_count && device_count < kMaxDeviceRanges; ++i)
            devices[device_count++] = {machine->io_apics[i].address, 4096, mm::CacheMode::uncached};
    }

    // The AP trampoline runs at its physical address right after enabling paging.
    const mm::IdentityRange identity[] = {
        {handoff.ap_trampoline, 4096, mm::kReadExecute},
    };
    const size_t identity_count = handoff.ap_trampoline != 0 ? 1 : 0;

    mm::LargePages large_pages;
    large_pages.size_1g = (x86::cpuid(0x8000'0001).edx & (1u << 26)) != 0;

    const mm::CoreAddressSpaceRequest request{
        .memory_map = boot_info::memory_map(handoff),
        .sections =
            {
                .text_start = address(__text_start),
                .text_end = address(__text_end),
                .rodata_start = address(__rodata_start),
                .rodata_end = address(__rodata_end),
                .data_start = address(__data_start),
                .data_end = address(__bss_end),
                .physical_base = handoff.core_physical_base,
            },
        .device_ranges = std::span<const mm::DeviceRange>(devices, device_count),
        .identity_ranges = std::span<const mm::IdentityRange>(identity, identity_count),
        .large_pages = large_pages,
    };
    const uint64_t root =
        TRY(mm::build_core_address_space(request, frames, mm::PhysicalWindow::direct_map()));
    x86::write_cr3(root);
    log::info("core page tables loaded (PML4 at %#llx, %s pages for the direct map)",
              static_cast<unsigned long long>(root), large_pages.size_1g ? "1 GiB" : "2 MiB");
    return root;
}

} // namespace halcyon::memory_setup
