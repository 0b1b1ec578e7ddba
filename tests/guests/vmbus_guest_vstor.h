/* vmbus_guest_vstor.h: the vstor side of the flat guests' VMBus client (vmbus_guest.h, which
 * it needs first): Linux's storvsc wire format as a test guest sends it - 64-byte packets
 * {operation, flags, status, union}, the initialization handshake, SRBs in-band or with one
 * GPA-direct range, and the completions that answer them. Included once, by one guest. */
#pragma once

#include "vmbus_guest.h"

/* --- vstor (the synthetic SCSI protocol): 64-byte packets, header {op, flags, status} --- */
#define VSTOR_PACKET 64
#define VSTOR_COMPLETE_IO 1
#define VSTOR_EXECUTE_SRB 3
#define VSTOR_BEGIN_INIT 7
#define VSTOR_END_INIT 8
#define VSTOR_QUERY_VERSION 9
#define VSTOR_QUERY_PROPERTIES 10
#define PACKET_INBAND 6
#define PACKET_GPA_DIRECT 9
#define PACKET_COMPLETION 11
#define FLAG_COMPLETION_REQUESTED 1

/* SRB fields (offsets from the SRB, which starts at byte 12 of the vstor packet). */
#define SRB_LENGTH 0
#define SRB_STATUS 2
#define SRB_SCSI_STATUS 3
#define SRB_LUN 7
#define SRB_CDB_LENGTH 8
#define SRB_SENSE_LENGTH 9
#define SRB_DATA_IN 10
#define SRB_TRANSFER 12
#define SRB_CDB 16
#define SRB_BYTES 0x34
#define DATA_OUT 0
#define DATA_IN 1
#define NO_DATA 2

/* A completion for transaction `id`: the 64-byte vstor packet of the reply. */
struct vstor_reply {
    bool received;
    uint16_t packet_type;
    uint8_t bytes[VSTOR_PACKET];
};

static struct vstor_reply wait_reply(struct channel* c, uint64_t id, uint32_t timeout_ms) {
    struct vstor_reply reply;
    reply.received = false;
    reply.packet_type = 0;
    uint8_t packet[256];
    const uint64_t deadline = ref_now() + ref_ms(timeout_ms);
    for (;;) {
        const uint64_t now = ref_now();
        if (now >= deadline)
            return reply;
        const uint32_t length =
            ring_get(c, packet, sizeof(packet), (uint32_t)((deadline - now) / 10000) + 1);
        if (length == 0)
            return reply;
        const uint32_t offset = 8u * (packet[2] | (uint32_t)packet[3] << 8);
        if (get64(packet + 8) != id || offset >= length)
            continue; /* an unsolicited packet (ENUMERATE_BUS): not ours */
        reply.received = true;
        reply.packet_type = (uint16_t)(packet[0] | packet[1] << 8);
        fill_bytes(reply.bytes, 0, VSTOR_PACKET);
        const uint32_t n = length - offset < VSTOR_PACKET ? length - offset : VSTOR_PACKET;
        copy_bytes(reply.bytes, packet + offset, n);
        return reply;
    }
}

/* Sends a 64-byte vstor packet in-band with completion requested and signals the channel. */
static uint64_t vstor_send(struct channel* c, const uint8_t* vstor) {
    uint8_t packet[16 + VSTOR_PACKET];
    const uint64_t id = ++c->next_id;
    const uint32_t n =
        build_packet(packet, PACKET_INBAND, FLAG_COMPLETION_REQUESTED, id, vstor, VSTOR_PACKET);
    ring_put(c, packet, n);
    signal_channel(c->relid);
    return id;
}

/* A vstor operation without data; the reply's NTSTATUS, NO_ANSWER if none came. */
static uint32_t vstor_call(struct channel* c, uint32_t operation, uint32_t argument) {
    uint8_t vstor[VSTOR_PACKET] = {0};
    put32(vstor, operation);
    put32(vstor + 4, 1);
    put32(vstor + 12, argument);
    const struct vstor_reply reply = wait_reply(c, vstor_send(c, vstor), ANSWER_MS);
    if (!reply.received || get32(reply.bytes) != VSTOR_COMPLETE_IO)
        return NO_ANSWER;
    return get32(reply.bytes + 8);
}

/* BEGIN_INITIALIZATION, QUERY_PROTOCOL_VERSION 6.2, QUERY_PROPERTIES, END_INITIALIZATION. */
static bool storvsc_handshake(struct channel* c) {
    return vstor_call(c, VSTOR_BEGIN_INIT, 0) == 0 &&
           vstor_call(c, VSTOR_QUERY_VERSION, 0x0602) == 0 &&
           vstor_call(c, VSTOR_QUERY_PROPERTIES, 0) == 0 && vstor_call(c, VSTOR_END_INIT, 0) == 0;
}

/* An SRB: EXECUTE_SRB with the CDB, direction and transfer length; data through a GPA-direct
 * range list of `range_entries` u64s ({byte_count, byte_offset}, pfns...) when there are any. */
struct srb_request {
    uint8_t lun;
    uint8_t cdb_length;
    uint8_t cdb[16];
    uint8_t data_in;
    uint32_t transfer;
    const uint64_t* ranges; /* range header + pfns, one range */
    uint32_t range_entries;
};

static void build_srb(uint8_t* vstor, const struct srb_request* r) {
    fill_bytes(vstor, 0, VSTOR_PACKET);
    put32(vstor, VSTOR_EXECUTE_SRB);
    put32(vstor + 4, 1);
    uint8_t* srb = vstor + 12;
    srb[SRB_LENGTH] = SRB_BYTES;
    srb[SRB_LUN] = r->lun;
    srb[SRB_CDB_LENGTH] = r->cdb_length;
    srb[SRB_SENSE_LENGTH] = 0x14;
    srb[SRB_DATA_IN] = r->data_in;
    put32(srb + SRB_TRANSFER, r->transfer);
    copy_bytes(srb + SRB_CDB, r->cdb, 16);
}

static uint64_t srb_send(struct channel* c, const struct srb_request* r) {
    uint8_t vstor[VSTOR_PACKET];
    build_srb(vstor, r);
    const uint64_t id = ++c->next_id;
    if (r->range_entries == 0) {
        uint8_t packet[16 + VSTOR_PACKET];
        const uint32_t n =
            build_packet(packet, PACKET_INBAND, FLAG_COMPLETION_REQUESTED, id, vstor, VSTOR_PACKET);
        ring_put(c, packet, n);
    } else {
        /* descriptor, {reserved, range_count = 1}, the range, then the vstor packet */
        uint8_t packet[16 + 8 + 8 * 34 + VSTOR_PACKET];
        const uint32_t header = 16 + 8 + 8 * r->range_entries;
        const uint32_t total = header + VSTOR_PACKET;
        fill_bytes(packet, 0, total);
        packet[0] = PACKET_GPA_DIRECT;
        packet[2] = (uint8_t)(header / 8);
        packet[4] = (uint8_t)(total / 8);
        packet[6] = FLAG_COMPLETION_REQUESTED;
        put64(packet + 8, id);
        put32(packet + 20, 1);
        for (uint32_t i = 0; i < r->range_entries; ++i)
            put64(packet + 24 + 8 * i, r->ranges[i]);
        copy_bytes(packet + header, vstor, VSTOR_PACKET);
        ring_put(c, packet, total);
    }
    signal_channel(c->relid);
    return id;
}

static struct vstor_reply srb_call(struct channel* c, const struct srb_request* r) {
    return wait_reply(c, srb_send(c, r), ANSWER_MS);
}

/* CDBs (big-endian fields). */
static void cdb_rw16(struct srb_request* r, bool write, uint64_t lba, uint32_t blocks) {
    fill_bytes(r->cdb, 0, 16);
    r->cdb_length = 16;
    r->cdb[0] = write ? 0x8A : 0x88;
    for (int i = 0; i < 8; ++i)
        r->cdb[2 + i] = (uint8_t)(lba >> (56 - 8 * i));
    for (int i = 0; i < 4; ++i)
        r->cdb[10 + i] = (uint8_t)(blocks >> (24 - 8 * i));
    r->data_in = write ? DATA_OUT : DATA_IN;
    r->transfer = blocks * 512;
}
