/* vmbus_hostile: a guest that attacks its own VMBus host (issue #7's hostile-guest test). It
 * speaks just enough VMBus (vmbus_guest.h) to connect and get its offers, then runs a catalogue
 * of attacks - malformed and out-of-state messages and hypercalls, bad GPADLs, bad opens,
 * corrupted ring indices, oversized, zero-length and inconsistent packets, vstor protocol
 * violations and SCSI requests the target must refuse - and checks each against the exact
 * answer the host must give: a status in the message it answers with, the channel closed (no
 * answer on it any more, and it opens again), or nothing at all. One line per attack:
 *     hostile: PASS <attack> -> <the host's answer>
 *     hostile: FAIL <attack> -> <the answer expected> observed=<what came>
 * The host's own log says why it refused each (the integration case vm_vmbus_hostile matches
 * those lines too).
 *
 * Memory the host must never write: canary pages right before and after the ring GPADL and
 * around the SRB data buffers; they are checked after the attacks. (Pages outside the guest's
 * RAM it cannot see; the host's log lines and the unit tests with strict guest memory cover
 * those.)
 *
 * Then a barrage, for BARRAGE_SECONDS of real time, while another VM on the same Halcyon does
 * verified I/O: corrupt the ring, reopen, write and read back a block, send a bad GPADL and an
 * unknown message, sometimes UNLOAD and reconnect. Its refusals go past the host's log budget
 * (the rate-limited lines say how many were suppressed). The last line is
 *     hostile: PASS n/n    or    hostile: FAIL passed/total */
#include "vmbus_guest.h"
#include "vmbus_guest_vstor.h"

/* --- memory (guest-physical; RAM is 32 MiB) --- */
#define CANARY_BEFORE_RING 0x900000ull
#define RING_PFN 0x901ull /* 14 ring pages: 9 inbound (control + 32 KiB), 5 outbound */
#define CANARY_AFTER_RING 0x90F000ull
#define CANARY_BEFORE_A 0xA00000ull
#define BUF_A 0xA01000ull
#define BUF_A_PFN 0xA01ull
#define CANARY_BETWEEN 0xA02000ull
#define BUF_B 0xA03000ull
#define BUF_B_PFN 0xA03ull
#define CANARY_AFTER_B 0xA04000ull
#define SCRATCH_PFN 0xB00ull /* pages for GPADLs that are not rings */

#define RING_GPADL 0x300u
#define DISK_SECTORS 262144ull /* the 128 MiB VHDX of the case, 512-byte sectors */
#define BARRAGE_SECONDS 30

static uint64_t memory_size;
static struct offer offers[MAX_OFFERS];
static int offer_count;
static uint32_t scsi_relid, other_relid;
static uint32_t open_ids;
static uint32_t passed, total;

static void result(const char* name, bool ok, const char* answer, uint64_t observed) {
    ++total;
    passed += ok ? 1 : 0;
    print(ok ? "hostile: PASS " : "hostile: FAIL ");
    print(name);
    print(" -> ");
    print(answer);
    if (!ok)
        print_value_hex("observed", observed);
    put_char('\n');
}

#include "vmbus_hostile_gpadl.h"
#include "vmbus_hostile_messages.h"
#include "vmbus_hostile_ring.h"

/* --- canaries --- */

static const uint64_t canaries[] = {CANARY_BEFORE_RING, CANARY_AFTER_RING, CANARY_BEFORE_A,
                                    CANARY_BETWEEN, CANARY_AFTER_B};
#define CANARY_COUNT (sizeof(canaries) / sizeof(canaries[0]))
static uint64_t canary_sums[CANARY_COUNT];

static void canaries_fill(void) {
    for (uint32_t i = 0; i < CANARY_COUNT; ++i) {
        memory_fill(canaries[i], canaries[i] + 4096, 0xC0FFEE + i);
        canary_sums[i] = memory_checksum(canaries[i], canaries[i] + 4096);
    }
}

static bool canaries_intact(void) {
    for (uint32_t i = 0; i < CANARY_COUNT; ++i)
        if (memory_checksum(canaries[i], canaries[i] + 4096) != canary_sums[i])
            return false;
    return true;
}

/* --- connection lifecycle --- */

/* INITIATE_CONTACT 5.3, REQUEST_OFFERS, the ring GPADL, OPEN_CHANNEL and the storvsc handshake
 * (after UNLOAD, which forgets every channel and GPADL). */
static bool reconnect(struct channel* c) {
    uint32_t connection = 0;
    initiate_contact(CONNECTION_CONTACT, VERSION_5_3, 0, VMBUS_SINT, 40);
    if (version_answer(&connection) != 1)
        return false;
    struct offer again[MAX_OFFERS];
    if (request_offers(again) != offer_count)
        return false;
    reset_rings(c);
    return create_gpadl(scsi_relid, c->gpadl, RING_PFN, c->in_pages + c->out_pages) == 0 &&
           open_channel(scsi_relid, ++open_ids, c->gpadl, c->in_pages) == 0 && storvsc_handshake(c);
}

static bool unload(void) {
    post_header_only(MSG_UNLOAD);
    struct vmbus_message m;
    return expect_message(MSG_UNLOAD_RESPONSE, &m);
}

static void attack_unload(struct channel* c) {
    const bool unloaded = unload();
    const uint32_t open_id = ++open_ids;
    post_open(scsi_relid, open_id, c->gpadl, 0, c->in_pages, 148);
    const bool ignored = no_message();
    const bool back = reconnect(c);
    result("UNLOAD, then OPEN_CHANNEL on the old connection", unloaded && ignored && back,
           "UNLOAD_RESPONSE; the OPEN ignored (not connected); reconnects", ignored);
}

/* HvSignalEvent storms: on a faulted channel and on one that is closed. */
static void attack_signals(struct channel* c) {
    put32(in_control(c) + RING_WRITE, in_size(c) + 8);
    signal_channel(c->relid); /* faulted now */
    uint64_t bad = 0;
    for (uint32_t i = 0; i < 2000; ++i)
        bad += signal_channel(c->relid) != HV_OK;
    const bool dead = channel_dead(c);
    post_relid(MSG_CLOSE_CHANNEL, c->relid);
    for (uint32_t i = 0; i < 2000; ++i)
        bad += signal_channel(c->relid) != HV_OK;
    reset_rings(c);
    const bool back =
        open_channel(c->relid, ++open_ids, c->gpadl, c->in_pages) == 0 && storvsc_handshake(c);
    result("4000 HvSignalEvent on a faulted, then closed channel", bad == 0 && dead && back,
           "HV_STATUS_SUCCESS, nothing drained", bad);
}

/* --- the barrage --- */

static bool verified_io(struct channel* c, uint32_t round) {
    const uint64_t a[2] = {4096, BUF_A_PFN}, b[2] = {4096, BUF_B_PFN};
    const uint64_t lba = 16384 + (round % 1024) * 8;
    struct srb_request r = {0};
    r.range_entries = 2;
    pattern(BUF_A, 4096, round + 1);
    cdb_rw16(&r, true, lba, 8);
    r.ranges = a;
    const struct vstor_reply wrote = srb_call(c, &r);
    fill_bytes((void*)BUF_B, 0, 4096);
    cdb_rw16(&r, false, lba, 8);
    r.ranges = b;
    const struct vstor_reply read = srb_call(c, &r);
    return wrote.received && read.received && wrote.bytes[12 + SRB_STATUS] == 0x01 &&
           read.bytes[12 + SRB_STATUS] == 0x01 && buffer_is(BUF_B, 4096, round + 1);
}

static void corrupt(struct channel* c, uint32_t kind) {
    uint8_t* in = in_control(c);
    uint8_t d[16];
    switch (kind % 4) {
    case 0:
        put32(in + RING_WRITE, in_size(c) + 4096);
        break;
    case 1:
        put32(in + RING_WRITE, get32(in + RING_WRITE) + 8);
        break;
    case 2:
        put_descriptor(d, 0x42, 2, 2, 1, 1);
        ring_put(c, d, 16);
        break;
    default:
        put_descriptor(d, PACKET_INBAND, 2, 0xFFFF, 1, 1);
        ring_put(c, d, 16);
        break;
    }
    signal_channel(c->relid);
}

static void barrage(struct channel* c) {
    const uint64_t end = ref_now() + ref_ms(BARRAGE_SECONDS * 1000ull);
    uint32_t rounds = 0, failures = 0, reconnects = 0, what = 0;
    const uint64_t e[3] = {8192, SCRATCH_PFN, memory_size / 4096 + 1};
    while (ref_now() < end) {
        uint32_t failed = 0;
        corrupt(c, rounds);
        if (rounds % 8 == 0 && !channel_dead(c))
            failed |= 1;
        if (!reopen(c))
            failed |= 2;
        else if (!verified_io(c, rounds))
            failed |= 4;
        send_gpadl(scsi_relid, 0x400, 1, 24, e, 3);
        if (gpadl_answer(0x400) != STATUS_UNSUCCESSFUL)
            failed |= 8;
        post_header_only(99);
        if (rounds % 32 == 31) {
            ++reconnects;
            if (!unload() || !reconnect(c))
                failed |= 16;
        }
        if (failed != 0) {
            ++failures;
            what |= failed;
            print("hostile: barrage round ");
            print_dec(rounds);
            print_value_hex("failed", failed);
            put_char('\n');
        }
        ++rounds;
    }
    print("hostile: barrage rounds=");
    print_dec(rounds);
    print(" reconnects=");
    print_dec(reconnects);
    print(" failures=");
    print_dec(failures);
    put_char('\n');
    result("barrage: ring faults, reopens, verified I/O, bad GPADLs, unknown messages, unloads",
           rounds >= 10 && failures == 0, "every fault contained, every I/O verified", what);
}

void guest_main(uint64_t memory_bytes, uint64_t vcpu_index, uint64_t vcpu_count) {
    (void)vcpu_count;
    if (vcpu_index != 0)
        return;
    memory_size = memory_bytes;
    synic_enable();
    canaries_fill();
    println("hostile: SynIC on, attacking the VMBus host");

    attack_contact();
    attack_hypercalls();
    attack_messages();
    if (scsi_relid == 0) {
        println("hostile: FAIL no SCSI controller offered: nothing more to attack");
        return;
    }
    attack_gpadls();

    struct channel scsi = {scsi_relid, RING_GPADL, RING_PFN << 12, 9, 5, 0};
    attack_open(&scsi);
    attack_indices(&scsi);
    attack_packets(&scsi);
    attack_vstor(&scsi);
    attack_srbs(&scsi);
    attack_flood(&scsi);
    attack_signals(&scsi);
    attack_unload(&scsi);
    result("canary pages around the rings and buffers", canaries_intact(), "untouched", 0);

    barrage(&scsi);
    result("canary pages after the barrage", canaries_intact(), "untouched", 0);
    print(passed == total ? "hostile: PASS " : "hostile: FAIL ");
    print_dec(passed);
    put_char('/');
    print_dec(total);
    put_char('\n');
}
