/* A stand-in for the core's side of the management partition contract, for testing
 * halcyon-mgmt.elf on plain QEMU (no Halcyon core, no hypervisor): a multiboot (v1) kernel that
 * takes the ELF and halcyon.cfg as modules, builds the partition's region exactly as the contract
 * says (MgmtBootInfo at R, page tables at R + 4 KiB, the image at R + 2 MiB, the config text and
 * then free memory after it), enters long mode and jumps to mgmt_entry. What the core adds on top
 * (nested paging, PCI filtering, the hypercall) is absent: the partition must cope (it serves the
 * host-only VmHost when CPUID shows no hypercall MSRs). Test tool only: never part of Halcyon. */
#include <stdint.h>

#define REGION_BASE 0x4000000u /* 64 MiB */
#define REGION_SIZE 0x4000000u /* 64 MiB */
#define IMAGE_OFFSET 0x200000u
#define LINK_BASE_HIGH 0xFFFFFFFFu /* 0xFFFFFFFF80000000 */
#define LINK_BASE_LOW 0x80000000u

struct module {
    uint32_t start, end, string, reserved;
};

struct boot_info { /* mgmt/partition/abi/boot_info.hpp, offsets as asserted there */
    uint32_t magic, version, size, pad0;
    uint64_t region_base, region_size, free_base, tsc_hz, core_entry_tsc, host_memory_bytes;
    uint32_t logical_processors;
    char virtualization[8];
    uint32_t pad1;
    uint64_t config_text, config_length;
    uint16_t nic_segment;
    uint8_t nic_bus, nic_device, nic_function, nic_present, reserved[2];
    uint64_t restarts;
    uint32_t crash_test, pad2;
};
_Static_assert(sizeof(struct boot_info) == 120, "layout");
_Static_assert(__builtin_offsetof(struct boot_info, config_text) == 80, "layout");
_Static_assert(__builtin_offsetof(struct boot_info, nic_bus) == 98, "layout");

static inline void outb(uint16_t port, uint8_t v) {
    __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port) {
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint64_t rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static void puts_serial(const char* s) {
    while (*s) {
        while ((inb(0x3FD) & 0x20) == 0) {
        }
        outb(0x3F8, (uint8_t)*s++);
    }
}

static void fail(const char* why) {
    puts_serial("harness: ");
    puts_serial(why);
    puts_serial("\n");
    outb(0xF4, 1); /* isa-debug-exit */
    for (;;)
        __asm__ volatile("cli; hlt");
}

static void copy(uint8_t* dst, const uint8_t* src, uint32_t n) {
    while (n--)
        *dst++ = *src++;
}
static void zero(uint8_t* dst, uint32_t n) {
    while (n--)
        *dst++ = 0;
}
static uint32_t align_up(uint32_t v, uint32_t a) {
    return (v + a - 1) & ~(a - 1);
}

/* TSC ticks in 10 ms, counted with PIT channel 2 (gate on port 0x61, mode 0, 11932 counts). */
static uint64_t calibrate_tsc_hz(void) {
    outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01));
    outb(0x43, 0xB0);
    outb(0x42, 11932 & 0xFF);
    outb(0x42, 11932 >> 8);
    const uint64_t start = rdtsc();
    while ((inb(0x61) & 0x20) == 0) {
    }
    return (rdtsc() - start) * 100;
}

/* ELF64 program headers (only what is needed). */
struct elf64_header {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf64_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

uint64_t harness_entry_va; /* read by start.S */
uint32_t harness_boot_info;

void harness_main(uint32_t magic, const uint32_t* mbi) {
    if (magic != 0x2BADB002 || (mbi[0] & (1u << 3)) == 0 || mbi[5] < 2)
        fail("need multiboot modules: halcyon-mgmt.elf, halcyon.cfg");
    const struct module* modules = (const struct module*)mbi[6];
    const uint8_t* elf = (const uint8_t*)modules[0].start;
    const struct elf64_header* eh = (const struct elf64_header*)elf;
    if (eh->ident[0] != 0x7F || eh->ident[4] != 2 || eh->machine != 62)
        fail("module 0 is not an x86-64 ELF");
    if (modules[0].end > REGION_BASE || modules[1].end > REGION_BASE)
        fail("modules overlap the region");
    const uint64_t entry_tsc = rdtsc();
    uint8_t* region = (uint8_t*)REGION_BASE;
    zero(region, REGION_SIZE);

    uint32_t image_end = 0;
    for (uint32_t i = 0; i < eh->phnum; ++i) {
        const struct elf64_phdr* ph =
            (const struct elf64_phdr*)(elf + (uint32_t)eh->phoff + i * eh->phentsize);
        if (ph->type != 1)
            continue;
        if ((uint32_t)(ph->vaddr >> 32) != LINK_BASE_HIGH || (uint32_t)ph->vaddr < LINK_BASE_LOW)
            fail("segment outside the link window");
        const uint32_t offset = (uint32_t)ph->vaddr - LINK_BASE_LOW;
        if (offset + (uint32_t)ph->memsz > 16u << 20)
            fail("image spans more than 16 MiB");
        copy(region + IMAGE_OFFSET + offset, elf + (uint32_t)ph->offset, (uint32_t)ph->filesz);
        if (offset + (uint32_t)ph->memsz > image_end)
            image_end = offset + (uint32_t)ph->memsz;
    }
    const uint32_t config_at = align_up(REGION_BASE + IMAGE_OFFSET + image_end, 4096);
    const uint32_t config_length = modules[1].end - modules[1].start;
    copy((uint8_t*)config_at, (const uint8_t*)modules[1].start, config_length);

    /* Page tables at R + 4 KiB: PML4, low PDPT (1 GiB pages, identity 0..512 GiB, also the
     * direct map at PML4[256]), high PDPT, PD (2 MiB pages: the image at -2 GiB). */
    uint64_t* pml4 = (uint64_t*)(REGION_BASE + 0x1000);
    uint64_t* pdpt_low = (uint64_t*)(REGION_BASE + 0x2000);
    uint64_t* pdpt_high = (uint64_t*)(REGION_BASE + 0x3000);
    uint64_t* pd_image = (uint64_t*)(REGION_BASE + 0x4000);
    for (uint32_t i = 0; i < 512; ++i) {
        pdpt_low[i] = ((uint64_t)i << 30) | 0x83; /* present, writable, 1 GiB */
        pd_image[i] = (uint64_t)(REGION_BASE + IMAGE_OFFSET + i * 0x200000u) | 0x83;
    }
    pml4[0] = (uint32_t)pdpt_low | 0x3;
    pml4[256] = (uint32_t)pdpt_low | 0x3;
    pml4[511] = (uint32_t)pdpt_high | 0x3;
    pdpt_high[510] = (uint32_t)pd_image | 0x3;

    struct boot_info* info = (struct boot_info*)REGION_BASE;
    info->magic = 0x54474D48;
    info->version = 1;
    info->size = sizeof(*info);
    info->region_base = REGION_BASE;
    info->region_size = REGION_SIZE;
    info->config_text = config_at;
    info->config_length = config_length;
    info->free_base = align_up(config_at + config_length, 4096);
    info->tsc_hz = calibrate_tsc_hz();
    info->core_entry_tsc = entry_tsc;
    info->host_memory_bytes = (uint64_t)(mbi[1] + mbi[2]) << 10;
    info->logical_processors = 1;
    copy((uint8_t*)info->virtualization, (const uint8_t*)"none", 5);
    info->nic_bus = 0;
    info->nic_device = 3; /* QEMU: -device virtio-net-pci,addr=03.0 */
    info->nic_function = 0;
    info->nic_present = 1;
    const char* cmdline = (mbi[0] & (1u << 2)) ? (const char*)mbi[4] : "";
    for (const char* c = cmdline; *c; ++c)
        if (c[0] == 'c' && c[1] == 'r' && c[2] == 'a' && c[3] == 's' && c[4] == 'h')
            info->crash_test = 1;
    harness_entry_va = eh->entry;
    harness_boot_info = REGION_BASE;
    puts_serial("harness: entering halcyon-mgmt.elf\n");
}
