/* The local APIC as the guest platform defines it (docs/partition-interface.md): xAPIC registers
 * in the 4 KiB page at 0xFEE00000, x2APIC registers as MSRs 0x800 + offset / 16, APIC ID = vCPU
 * index, LAPIC timer clock 100 MHz, TSC-deadline MSR 0x6E0. These helpers talk to the APIC of
 * the calling vCPU in whichever mode that vCPU put it, so the same test code runs in both. */
#pragma once

#include "lib/guest.h"

#define APIC_MMIO_BASE 0xFEE00000ull
#ifndef APIC_TIMER_HZ /* overridable only to run a guest on other hardware as a reference */
#define APIC_TIMER_HZ 100000000ull
#endif
/* Timer ticks (divide 1) per millisecond. */
#define APIC_TICKS_PER_MS ((uint32_t)(APIC_TIMER_HZ / 1000))

/* Register offsets (xAPIC MMIO; the x2APIC MSR is 0x800 + offset / 16). */
#define APIC_ID 0x020
#define APIC_VERSION 0x030
#define APIC_TPR 0x080
#define APIC_PPR 0x0A0
#define APIC_EOI 0x0B0
#define APIC_LDR 0x0D0
#define APIC_DFR 0x0E0
#define APIC_SVR 0x0F0
#define APIC_ISR 0x100
#define APIC_IRR 0x200
#define APIC_ESR 0x280
#define APIC_ICR_LOW 0x300
#define APIC_ICR_HIGH 0x310
#define APIC_LVT_TIMER 0x320
#define APIC_TIMER_INITIAL 0x380
#define APIC_TIMER_CURRENT 0x390
#define APIC_TIMER_DIVIDE 0x3E0
#define APIC_SELF_IPI 0x3F0 /* x2APIC only */

/* MSRs. */
#define MSR_APIC_BASE 0x1B
#define MSR_TSC_DEADLINE 0x6E0
#define APIC_BASE_BSP (1ull << 8)
#define APIC_BASE_X2APIC (1ull << 10)
#define APIC_BASE_ENABLE (1ull << 11)

/* SVR and LVT bits. */
#define APIC_SVR_ENABLE (1u << 8)
#define APIC_SPURIOUS_VECTOR 0xFF
#define APIC_LVT_MASKED (1u << 16)
#define APIC_TIMER_ONE_SHOT (0u << 17)
#define APIC_TIMER_PERIODIC (1u << 17)
#define APIC_TIMER_TSC_DEADLINE (2u << 17)

/* ICR bits (low half). */
#define ICR_FIXED (0u << 8)
#define ICR_NMI (4u << 8)
#define ICR_LOGICAL (1u << 11)
#define ICR_DELIVERY_PENDING (1u << 12) /* xAPIC only */
#define ICR_ASSERT (1u << 14)
#define ICR_SHORTHAND_SELF (1u << 18)
#define ICR_SHORTHAND_ALL (2u << 18)
#define ICR_SHORTHAND_OTHERS (3u << 18)

/* Timer divide configuration values (bits 0, 1 and 3 of the register). */
uint32_t apic_divide_value(uint32_t divisor); /* 1, 2, 4, ..., 128 */

/* CPUID leaf 1 feature bits. */
bool cpu_has_x2apic(void);
bool cpu_has_tsc_deadline(void);

/* Globally enables the APIC in xAPIC mode (if it is not already in x2APIC mode) and
 * software-enables it with the spurious vector 0xFF (a handler that ignores it is installed). */
void apic_enable(void);
/* Switches the calling vCPU's APIC to x2APIC mode through IA32_APIC_BASE.EXTD. */
void apic_enable_x2apic(void);
bool apic_is_x2apic(void);

uint32_t apic_read(uint32_t offset);
void apic_write(uint32_t offset, uint32_t value);
void apic_eoi(void);
/* The APIC ID as the ID register reports it (xAPIC: bits 31:24; x2APIC: the whole register). */
uint32_t apic_id(void);

/* Sends an IPI: `icr_low` is vector | delivery mode | destination mode | shorthand;
 * `destination` is an APIC ID (physical) or a logical destination (8 bits in xAPIC mode, 32 in
 * x2APIC mode). In xAPIC mode it waits until the delivery status is idle again; returns false
 * when it never became idle. */
bool apic_send_ipi(uint32_t destination, uint32_t icr_low);
