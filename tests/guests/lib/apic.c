#include "lib/apic.h"

/* Per-vCPU mode (each vCPU has its own APIC). */
static volatile bool x2apic_mode[8];

static void ignore_spurious(struct trap_frame* frame) {
    /* A spurious interrupt needs no EOI. */
}

uint32_t apic_divide_value(uint32_t divisor) {
    switch (divisor) {
    case 1:
        return 0xB;
    case 2:
        return 0x0;
    case 4:
        return 0x1;
    case 8:
        return 0x2;
    case 16:
        return 0x3;
    case 32:
        return 0x8;
    case 64:
        return 0x9;
    default:
        return 0xA; /* 128 */
    }
}

bool cpu_has_x2apic(void) {
    uint32_t r[4];
    cpuid(1, 0, r);
    return (r[2] >> 21) & 1;
}

bool cpu_has_tsc_deadline(void) {
    uint32_t r[4];
    cpuid(1, 0, r);
    return (r[2] >> 24) & 1;
}

bool apic_is_x2apic(void) {
    return x2apic_mode[current_vcpu()];
}

uint32_t apic_read(uint32_t offset) {
    if (apic_is_x2apic())
        return (uint32_t)rdmsr(0x800 + (offset >> 4));
    return *(volatile uint32_t*)(APIC_MMIO_BASE + offset);
}

void apic_write(uint32_t offset, uint32_t value) {
    if (apic_is_x2apic())
        wrmsr(0x800 + (offset >> 4), value);
    else
        *(volatile uint32_t*)(APIC_MMIO_BASE + offset) = value;
}

void apic_eoi(void) {
    apic_write(APIC_EOI, 0);
}

uint32_t apic_id(void) {
    const uint32_t id = apic_read(APIC_ID);
    return apic_is_x2apic() ? id : id >> 24;
}

void apic_enable(void) {
    const uint64_t base = rdmsr(MSR_APIC_BASE);
    if (!(base & APIC_BASE_ENABLE))
        wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE);
    x2apic_mode[current_vcpu()] = (base & APIC_BASE_X2APIC) != 0;
    set_vector_handler(APIC_SPURIOUS_VECTOR, ignore_spurious);
    apic_write(APIC_SVR, APIC_SVR_ENABLE | APIC_SPURIOUS_VECTOR);
}

void apic_enable_x2apic(void) {
    wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_ENABLE | APIC_BASE_X2APIC);
    x2apic_mode[current_vcpu()] = true;
}

bool apic_send_ipi(uint32_t destination, uint32_t icr_low) {
    if (apic_is_x2apic()) {
        wrmsr(0x830, ((uint64_t)destination << 32) | icr_low);
        return true;
    }
    apic_write(APIC_ICR_HIGH, destination << 24);
    apic_write(APIC_ICR_LOW, icr_low);
    for (int i = 0; i < 100000; ++i) {
        if ((apic_read(APIC_ICR_LOW) & ICR_DELIVERY_PENDING) == 0)
            return true;
        cpu_pause();
    }
    return false;
}
