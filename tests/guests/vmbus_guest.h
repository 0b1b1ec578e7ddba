/* vmbus_guest.h: a minimal VMBus client for the flat test guests, written from the wire formats
 * (docs/vmbus.md, docs/storvsp.md) rather than from any driver: the hypercall page, the SynIC
 * (SIMP/SIEFP, SINT 2), HvPostMessage / HvSignalEvent, the channel-management messages, GPADLs
 * sent as a header and bodies and one channel's ring pair (the vstor packets of a SCSI
 * controller are in vmbus_guest_vstor.h). It is deliberately permissive: every helper sends exactly
 * the bytes it is given, so a hostile guest (vmbus_hostile.c) can build anything a correct one
 * never would.
 *
 * Waiting is polling with PAUSE (Halcyon intercepts it: the vCPU yields its CPU) against the
 * partition reference counter, so timeouts are real time. The host answers messages and ring
 * packets from inside the hypercall that caused them, so short timeouts are enough; "nothing
 * happened" checks wait NOTHING_MS.
 *
 * Included once, by one guest: everything here is static. */
#pragma once

#include "lib/apic.h"

/* --- guest-physical layout (the image is at 1 MiB, its .bss below 8 MiB) --- */
#define HYPERCALL_PAGE 0x800000ull
#define SIMP_PAGE 0x801000ull
#define SIEFP_PAGE 0x802000ull
#define POST_PAGE 0x804000ull /* HvPostMessage input (0x803000-0x805FFF is ours) */

/* --- Hyper-V MSRs, calls, status codes --- */
#define MSR_GUEST_OS_ID 0x40000000
#define MSR_HYPERCALL 0x40000001
#define MSR_TIME_REF_COUNT 0x40000020
#define MSR_SCONTROL 0x40000080
#define MSR_SIEFP 0x40000082
#define MSR_SIMP 0x40000083
#define MSR_EOM 0x40000084
#define MSR_SINT0 0x40000090

#define CALL_POST_MESSAGE 0x5Cull
#define CALL_SIGNAL_EVENT 0x5Dull
#define CALL_FAST (1ull << 16)

#define HV_OK 0x0
#define HV_INVALID_HYPERCALL_INPUT 0x3
#define HV_INVALID_ALIGNMENT 0x4
#define HV_INVALID_PARAMETER 0x5
#define HV_INVALID_CONNECTION_ID 0x12
#define HV_INSUFFICIENT_BUFFERS 0x13

/* --- VMBus --- */
#define VMBUS_SINT 2
#define VMBUS_VECTOR 0x52
#define CONNECTION_MESSAGES 1
#define CONNECTION_CONTACT 4
#define CHANNEL_CONNECTION(relid) (0x2000u | (relid))
#define VERSION_5_3 0x50003u
#define STATUS_UNSUCCESSFUL 0xC0000001u
#define NO_ANSWER 0xFFFFFFFFu

enum vmbus_message_type {
    MSG_OFFER = 1,
    MSG_RESCIND = 2,
    MSG_REQUEST_OFFERS = 3,
    MSG_ALL_OFFERS_DELIVERED = 4,
    MSG_OPEN_CHANNEL = 5,
    MSG_OPEN_RESULT = 6,
    MSG_CLOSE_CHANNEL = 7,
    MSG_GPADL_HEADER = 8,
    MSG_GPADL_BODY = 9,
    MSG_GPADL_CREATED = 10,
    MSG_GPADL_TEARDOWN = 11,
    MSG_GPADL_TORNDOWN = 12,
    MSG_RELID_RELEASED = 13,
    MSG_INITIATE_CONTACT = 14,
    MSG_VERSION_RESPONSE = 15,
    MSG_UNLOAD = 16,
    MSG_UNLOAD_RESPONSE = 17,
    MSG_TL_CONNECT_REQUEST = 21,
    MSG_MODIFY_CHANNEL = 22,
    MSG_MODIFY_CHANNEL_RESPONSE = 24,
};

#define NOTHING_MS 40 /* how long "the host does nothing" is watched */
#define ANSWER_MS 1000

/* --- small helpers --- */

static inline void put32(void* at, uint32_t value) {
    *(volatile uint32_t*)at = value;
}
static inline uint32_t get32(const void* at) {
    return *(const volatile uint32_t*)at;
}
static inline void put64(void* at, uint64_t value) {
    *(volatile uint64_t*)at = value;
}
static inline uint64_t get64(const void* at) {
    return *(const volatile uint64_t*)at;
}
static inline void full_barrier(void) {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}
static void copy_bytes(void* to, const void* from, uint32_t n) {
    volatile uint8_t* d = to;
    const volatile uint8_t* s = from;
    for (uint32_t i = 0; i < n; ++i)
        d[i] = s[i];
}
static void fill_bytes(void* to, uint8_t value, uint32_t n) {
    volatile uint8_t* d = to;
    for (uint32_t i = 0; i < n; ++i)
        d[i] = value;
}

/* Reference time, 100 ns units (the partition reference counter: real time). */
static inline uint64_t ref_now(void) {
    return rdmsr(MSR_TIME_REF_COUNT);
}
static inline uint64_t ref_ms(uint64_t ms) {
    return ms * 10000;
}

static uint64_t hypercall(uint64_t control, uint64_t input, uint64_t output) {
    uint64_t status;
    register uint64_t r8 __asm__("r8") = output;
    __asm__ volatile("call *%[page]"
                     : "=a"(status), "+c"(control), "+d"(input), "+r"(r8)
                     : [page] "r"(HYPERCALL_PAGE)
                     : "memory", "r9", "r10", "r11", "cc");
    return status & 0xFFFF;
}

/* --- SynIC --- */

static void vmbus_interrupt(struct trap_frame* frame) {
    (void)frame;
    apic_eoi();
}

static void synic_enable(void) {
    install_idt();
    set_vector_handler(VMBUS_VECTOR, vmbus_interrupt);
    apic_enable();
    wrmsr(MSR_GUEST_OS_ID, 0x8100000000060100ull);
    wrmsr(MSR_HYPERCALL, HYPERCALL_PAGE | 1);
    wrmsr(MSR_SIMP, SIMP_PAGE | 1);
    wrmsr(MSR_SIEFP, SIEFP_PAGE | 1);
    wrmsr(MSR_SINT0 + VMBUS_SINT, VMBUS_VECTOR);
    wrmsr(MSR_SCONTROL, 1);
}

static inline volatile uint8_t* vmbus_slot(void) {
    return (volatile uint8_t*)(SIMP_PAGE + 256 * VMBUS_SINT);
}

/* HvPostMessage: returns the hypercall status. `payload` is the VMBus message, header first. */
static uint64_t post_to(uint32_t connection, uint32_t hv_type, const void* payload, uint32_t size) {
    uint8_t* in = (uint8_t*)POST_PAGE;
    put32(in, connection);
    put32(in + 4, 0);
    put32(in + 8, hv_type);
    put32(in + 12, size);
    copy_bytes(in + 16, payload, size > 240 ? 240 : size);
    return hypercall(CALL_POST_MESSAGE, POST_PAGE, 0);
}

static uint64_t post(const void* payload, uint32_t size) {
    return post_to(CONNECTION_MESSAGES, 1, payload, size);
}

static uint64_t signal_channel(uint32_t relid) {
    return hypercall(CALL_SIGNAL_EVENT | CALL_FAST, CHANNEL_CONNECTION(relid), 0);
}

/* A received host message: its VMBus type and payload (header included). */
struct vmbus_message {
    uint32_t type;
    uint32_t size;
    uint8_t bytes[240];
};

/* Takes the message in the VMBus slot, if any (copies it, frees the slot, EOM if another one
 * waits). */
static bool take_message(struct vmbus_message* m) {
    volatile uint8_t* s = vmbus_slot();
    if (get32((const void*)s) == 0)
        return false;
    full_barrier();
    m->size = s[4] > 240 ? 240 : s[4];
    copy_bytes(m->bytes, (const void*)(s + 16), m->size);
    m->type = m->size >= 4 ? get32(m->bytes) : 0;
    const uint8_t flags = s[5];
    put32((void*)s, 0);
    full_barrier();
    if (flags & 1)
        wrmsr(MSR_EOM, 0);
    return true;
}

static bool receive(struct vmbus_message* m, uint32_t timeout_ms) {
    const uint64_t deadline = ref_now() + ref_ms(timeout_ms);
    for (;;) {
        if (take_message(m))
            return true;
        if (ref_now() >= deadline)
            return false;
        accept_interrupts();
    }
}

/* True when no host message arrives within NOTHING_MS. */
static bool no_message(void) {
    struct vmbus_message m;
    return !receive(&m, NOTHING_MS);
}

/* The next message, which must be of `type` (anything else counts as no answer). */
static bool expect_message(uint32_t type, struct vmbus_message* m) {
    return receive(m, ANSWER_MS) && m->type == type;
}

/* --- channel management --- */

static uint64_t initiate_contact(uint32_t connection, uint32_t version, uint32_t target_vcpu,
                                 uint8_t sint, uint32_t size) {
    uint8_t m[40] = {0};
    put32(m, MSG_INITIATE_CONTACT);
    put32(m + 8, version);
    put32(m + 12, target_vcpu);
    m[16] = sint;
    return post_to(connection, 1, m, size);
}

/* VERSION_RESPONSE: 1 supported, 0 refused, NO_ANSWER. */
static uint32_t version_answer(uint32_t* connection_id) {
    struct vmbus_message m;
    if (!expect_message(MSG_VERSION_RESPONSE, &m) || m.size < 16)
        return NO_ANSWER;
    if (connection_id != 0)
        *connection_id = get32(m.bytes + 12);
    return m.bytes[8];
}

static uint64_t post_header_only(uint32_t type) {
    uint8_t m[8] = {0};
    put32(m, type);
    return post(m, 8);
}

static uint64_t post_relid(uint32_t type, uint32_t relid) {
    uint8_t m[12] = {0};
    put32(m, type);
    put32(m + 8, relid);
    return post(m, 12);
}

struct offer {
    uint8_t interface_type[16];
    uint32_t relid;
    uint32_t connection_id;
};

#define MAX_OFFERS 16
static const uint8_t kScsiInterface[16] = {0xd9, 0x63, 0x61, 0xba, 0xa1, 0x04, 0x29, 0x4d,
                                           0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f};

static bool same_guid(const uint8_t* a, const uint8_t* b) {
    for (int i = 0; i < 16; ++i)
        if (a[i] != b[i])
            return false;
    return true;
}

/* REQUEST_OFFERS: the offers until ALL_OFFERS_DELIVERED (-1 when that never comes). */
static int request_offers(struct offer* offers) {
    post_header_only(MSG_REQUEST_OFFERS);
    int count = 0;
    for (;;) {
        struct vmbus_message m;
        if (!receive(&m, ANSWER_MS))
            return -1;
        if (m.type == MSG_ALL_OFFERS_DELIVERED)
            return count;
        if (m.type != MSG_OFFER || m.size < 196 || count == MAX_OFFERS)
            return -1;
        copy_bytes(offers[count].interface_type, m.bytes + 8, 16);
        offers[count].relid = get32(m.bytes + 184);
        offers[count].connection_id = get32(m.bytes + 192);
        ++count;
    }
}

/* Sends a GPADL as it is given: GPADL_HEADER with `range_count` and `range_bytes` and the first
 * entries (u64: range headers and pfns), then GPADL_BODY messages with the rest. `bodies_only`
 * entries more than fit the header are sent; nothing checks that they add up. */
static void send_gpadl(uint32_t relid, uint32_t id, uint16_t range_count, uint16_t range_bytes,
                       const uint64_t* entries, uint32_t count) {
    uint8_t m[240];
    fill_bytes(m, 0, sizeof(m));
    put32(m, MSG_GPADL_HEADER);
    put32(m + 8, relid);
    put32(m + 12, id);
    m[16] = (uint8_t)range_bytes;
    m[17] = (uint8_t)(range_bytes >> 8);
    m[18] = (uint8_t)range_count;
    m[19] = (uint8_t)(range_count >> 8);
    const uint32_t first = count < 27 ? count : 27; /* (240 - 20) / 8 */
    for (uint32_t i = 0; i < first; ++i)
        put64(m + 20 + 8 * i, entries[i]);
    post(m, 20 + 8 * first);
    for (uint32_t done = first; done < count;) {
        const uint32_t n = count - done < 28 ? count - done : 28; /* (240 - 16) / 8 */
        fill_bytes(m, 0, sizeof(m));
        put32(m, MSG_GPADL_BODY);
        put32(m + 12, id);
        for (uint32_t i = 0; i < n; ++i)
            put64(m + 16 + 8 * i, entries[done + i]);
        post(m, 16 + 8 * n);
        done += n;
    }
}

/* GPADL_CREATED's status for `id` (NO_ANSWER if none, or an answer for another id). */
static uint32_t gpadl_answer(uint32_t id) {
    struct vmbus_message m;
    if (!expect_message(MSG_GPADL_CREATED, &m) || get32(m.bytes + 12) != id)
        return NO_ANSWER;
    return get32(m.bytes + 16);
}

/* One page-aligned range over `pages` pfns starting at `first_pfn`: the usual ring or buffer
 * GPADL. Returns GPADL_CREATED's status. */
static uint64_t gpadl_entries[64];
static uint32_t create_gpadl(uint32_t relid, uint32_t id, uint64_t first_pfn, uint32_t pages) {
    gpadl_entries[0] = (uint64_t)pages * 4096; /* byte_count, byte_offset 0 */
    for (uint32_t i = 0; i < pages; ++i)
        gpadl_entries[1 + i] = first_pfn + i;
    send_gpadl(relid, id, 1, (uint16_t)(8 * (pages + 1)), gpadl_entries, pages + 1);
    return gpadl_answer(id);
}

/* GPADL_TEARDOWN; true when GPADL_TORNDOWN for it comes back. */
static bool teardown_gpadl(uint32_t relid, uint32_t id) {
    uint8_t m[16] = {0};
    put32(m, MSG_GPADL_TEARDOWN);
    put32(m + 8, relid);
    put32(m + 12, id);
    post(m, 16);
    struct vmbus_message answer;
    return expect_message(MSG_GPADL_TORNDOWN, &answer) && get32(answer.bytes + 8) == id;
}

static uint64_t post_open(uint32_t relid, uint32_t open_id, uint32_t gpadl, uint32_t target_vp,
                          uint32_t split, uint32_t size) {
    uint8_t m[148] = {0};
    put32(m, MSG_OPEN_CHANNEL);
    put32(m + 8, relid);
    put32(m + 12, open_id);
    put32(m + 16, gpadl);
    put32(m + 20, target_vp);
    put32(m + 24, split);
    return post(m, size);
}

/* OPEN_CHANNEL_RESULT's status for (relid, open_id). */
static uint32_t open_answer(uint32_t relid, uint32_t open_id) {
    struct vmbus_message m;
    if (!expect_message(MSG_OPEN_RESULT, &m) || get32(m.bytes + 8) != relid ||
        get32(m.bytes + 12) != open_id)
        return NO_ANSWER;
    return get32(m.bytes + 16);
}

static uint32_t open_channel(uint32_t relid, uint32_t open_id, uint32_t gpadl, uint32_t split) {
    post_open(relid, open_id, gpadl, 0, split, 148);
    return open_answer(relid, open_id);
}

/* --- a channel's rings: [inbound (guest -> host): control page + data][outbound] --- */

struct channel {
    uint32_t relid;
    uint32_t gpadl;
    uint64_t ring;      /* GPA of the first ring page */
    uint32_t in_pages;  /* control page included */
    uint32_t out_pages; /* control page included */
    uint64_t next_id;   /* transaction ids */
};

#define RING_WRITE 0
#define RING_READ 4
#define RING_MASK 8
#define RING_PENDING 12

static inline uint8_t* in_control(const struct channel* c) {
    return (uint8_t*)c->ring;
}
static inline uint8_t* out_control(const struct channel* c) {
    return (uint8_t*)(c->ring + (uint64_t)c->in_pages * 4096);
}
static inline uint32_t in_size(const struct channel* c) {
    return (c->in_pages - 1) * 4096;
}
static inline uint32_t out_size(const struct channel* c) {
    return (c->out_pages - 1) * 4096;
}

/* Fresh rings, as a driver allocates them before OPEN_CHANNEL. */
static void reset_rings(const struct channel* c) {
    fill_bytes((void*)c->ring, 0, (c->in_pages + c->out_pages) * 4096);
}

/* Copies `n` bytes into the inbound data area at `offset`, wrapping. */
static void ring_copy_in(const struct channel* c, uint32_t offset, const void* data, uint32_t n) {
    uint8_t* area = in_control(c) + 4096;
    const uint8_t* from = data;
    for (uint32_t i = 0; i < n; ++i)
        area[(offset + i) % in_size(c)] = from[i];
}

/* Writes a packet (descriptor and body already built, 8-byte multiple) and its trailer at the
 * current write index and publishes the new index. No checks at all. */
static void ring_put(const struct channel* c, const void* packet, uint32_t bytes) {
    const uint32_t start = get32(in_control(c) + RING_WRITE);
    ring_copy_in(c, start, packet, bytes);
    const uint64_t trailer = (uint64_t)start << 32;
    ring_copy_in(c, start + bytes, &trailer, 8);
    full_barrier();
    put32(in_control(c) + RING_WRITE, (start + bytes + 8) % in_size(c));
}

/* Builds an in-band (or other type) packet: 16-byte descriptor, payload padded to 8 bytes. */
static uint32_t build_packet(uint8_t* out, uint16_t type, uint16_t flags, uint64_t id,
                             const void* payload, uint32_t size) {
    const uint32_t body = (size + 7) & ~7u;
    const uint32_t total = 16 + body;
    fill_bytes(out, 0, total);
    out[0] = (uint8_t)type;
    out[1] = (uint8_t)(type >> 8);
    out[2] = 2; /* offset8: payload right after the descriptor */
    out[4] = (uint8_t)(total / 8);
    out[5] = (uint8_t)((total / 8) >> 8);
    out[6] = (uint8_t)flags;
    out[7] = (uint8_t)(flags >> 8);
    put64(out + 8, id);
    copy_bytes(out + 16, payload, size);
    return total;
}

/* The next packet the host wrote (copied to `out`, up to `max` bytes); its length, 0 if none
 * within `timeout_ms`. Frees it in the ring. */
static uint32_t ring_get(const struct channel* c, uint8_t* out, uint32_t max, uint32_t timeout_ms) {
    uint8_t* control = out_control(c);
    uint8_t* area = control + 4096;
    const uint64_t deadline = ref_now() + ref_ms(timeout_ms);
    while (get32(control + RING_WRITE) == get32(control + RING_READ)) {
        if (ref_now() >= deadline)
            return 0;
        accept_interrupts();
    }
    full_barrier();
    const uint32_t read = get32(control + RING_READ);
    uint8_t descriptor[16];
    for (uint32_t i = 0; i < 16; ++i)
        descriptor[i] = area[(read + i) % out_size(c)];
    const uint32_t length = 8u * (descriptor[4] | (uint32_t)descriptor[5] << 8);
    for (uint32_t i = 0; i < length && i < max; ++i)
        out[i] = area[(read + i) % out_size(c)];
    full_barrier();
    put32(control + RING_READ, (read + length + 8) % out_size(c));
    return length;
}
