/* vmbus_hostile_ring.h: the ring and storvsc attacks of vmbus_hostile.c (included once, after
 * its helpers): corrupted indices, packet lengths larger than what was written or than the ring,
 * oversized, zero-length, unknown and inconsistent packets, vstor protocol violations (each must
 * fault exactly this channel, which the guest then reopens), and SCSI requests the target must
 * refuse in their completion: absent LUNs, LBAs past the end, data buffers outside RAM or in
 * MMIO. */
#pragma once

static uint8_t big_packet[20 * 1024 + 64];

/* Whether the channel is closed host-side: with sane indices again, a valid request gets no
 * answer. */
static bool channel_dead(struct channel* c) {
    put32(out_control(c) + RING_READ, get32(out_control(c) + RING_WRITE));
    put32(in_control(c) + RING_WRITE, get32(in_control(c) + RING_READ));
    uint8_t vstor[VSTOR_PACKET] = {0};
    put32(vstor, VSTOR_QUERY_PROPERTIES);
    return !wait_reply(c, vstor_send(c, vstor), NOTHING_MS).received;
}

/* CLOSE_CHANNEL, fresh rings, OPEN_CHANNEL on the same GPADL and the storvsc handshake. */
static bool reopen(struct channel* c) {
    post_relid(MSG_CLOSE_CHANNEL, c->relid);
    reset_rings(c);
    return open_channel(c->relid, ++open_ids, c->gpadl, c->in_pages) == 0 && storvsc_handshake(c);
}

/* After an attack that must cost the guest this channel: it is dead, and it comes back. */
static void check_faulted(const char* name, struct channel* c) {
    const bool dead = channel_dead(c);
    const bool back = reopen(c);
    result(name, dead && back, "channel closed (no answer), reopened",
           (dead ? 0 : 1) | (back ? 0 : 2));
}

static void put_descriptor(uint8_t* d, uint16_t type, uint16_t offset8, uint16_t len8,
                           uint16_t flags, uint64_t id) {
    d[0] = (uint8_t)type;
    d[1] = (uint8_t)(type >> 8);
    d[2] = (uint8_t)offset8;
    d[3] = (uint8_t)(offset8 >> 8);
    d[4] = (uint8_t)len8;
    d[5] = (uint8_t)(len8 >> 8);
    d[6] = (uint8_t)flags;
    d[7] = (uint8_t)(flags >> 8);
    put64(d + 8, id);
}

/* A vstor packet of `size` bytes (operation, completion flag) as the payload of a VMBus packet
 * of `type` and `flags`. */
static void send_vstor_as(struct channel* c, uint16_t type, uint16_t flags, uint32_t operation,
                          uint32_t size) {
    uint8_t vstor[VSTOR_PACKET] = {0};
    put32(vstor, operation);
    put32(vstor + 4, 1);
    uint8_t packet[16 + VSTOR_PACKET];
    const uint32_t n = build_packet(packet, type, flags, ++c->next_id, vstor, size);
    ring_put(c, packet, n);
    signal_channel(c->relid);
}

static void attack_indices(struct channel* c) {
    uint8_t* in = in_control(c);
    put32(in + RING_WRITE, in_size(c) + 8);
    signal_channel(c->relid);
    check_faulted("write_index beyond the ring", c);

    put32(in + RING_WRITE, get32(in + RING_WRITE) + 12);
    signal_channel(c->relid);
    check_faulted("write_index not 8-byte aligned", c);

    uint64_t eight = 0x0000000A00020006ull;
    ring_copy_in(c, get32(in + RING_WRITE), &eight, 8);
    put32(in + RING_WRITE, get32(in + RING_WRITE) + 8);
    signal_channel(c->relid);
    check_faulted("8 bytes in the ring (a partial packet)", c);

    uint8_t d[16];
    put_descriptor(d, PACKET_INBAND, 2, 100, 1, 1);
    ring_put(c, d, 16);
    signal_channel(c->relid);
    check_faulted("len8 of 800 bytes with 24 written", c);

    put_descriptor(d, PACKET_INBAND, 2, (uint16_t)(in_size(c) / 8 + 1), 1, 1);
    ring_put(c, d, 16);
    signal_channel(c->relid);
    check_faulted("len8 larger than the ring", c);

    uint8_t vstor[VSTOR_PACKET] = {0};
    put32(vstor, VSTOR_QUERY_PROPERTIES);
    uint8_t packet[16 + VSTOR_PACKET];
    build_packet(packet, PACKET_INBAND, 1, 1, vstor, VSTOR_PACKET);
    put_descriptor(packet, PACKET_INBAND, 1, 10, 1, 1);
    ring_put(c, packet, sizeof(packet));
    signal_channel(c->relid);
    check_faulted("offset8 inside the descriptor", c);

    fill_bytes(big_packet, 0, sizeof(big_packet));
    const uint32_t big = 16 + 20 * 1024;
    put_descriptor(big_packet, PACKET_INBAND, 2, (uint16_t)(big / 8), 1, 1);
    put32(big_packet + 16, VSTOR_BEGIN_INIT);
    ring_put(c, big_packet, big);
    signal_channel(c->relid);
    check_faulted("a 20 KiB packet (host limit 16 KiB)", c);

    /* The guest->host ring's read_index belongs to the host: garbage there changes nothing. */
    put32(in + RING_READ, 0x7777);
    struct srb_request tur = {0};
    tur.cdb_length = 6;
    tur.data_in = NO_DATA;
    const struct vstor_reply reply = srb_call(c, &tur);
    const bool ok = reply.received && reply.bytes[12 + SRB_STATUS] == 0x01 &&
                    get32(in + RING_READ) == get32(in + RING_WRITE);
    result("read_index garbage in the guest->host ring", ok,
           "ignored: the host keeps its own read index", get32(in + RING_READ));

    /* The host->guest ring's read_index is the guest's: garbage there is a corrupt ring. */
    put32(out_control(c) + RING_READ, 0xFFFFFFF0);
    srb_send(c, &tur);
    check_faulted("read_index garbage in the host->guest ring", c);

    /* A host->guest ring that looks full: the host waits (pending_send_sz) and resumes once the
     * guest frees space. */
    uint8_t* out = out_control(c);
    const uint32_t write = get32(out + RING_WRITE);
    put32(out + RING_READ, (write + 8) % out_size(c));
    const uint64_t id = srb_send(c, &tur);
    const bool waited = !wait_reply(c, id, NOTHING_MS).received && get32(out + RING_PENDING) != 0;
    put32(out + RING_READ, write);
    signal_channel(c->relid);
    const struct vstor_reply late = wait_reply(c, id, ANSWER_MS);
    result("host->guest ring full", waited && late.received && get32(out + RING_PENDING) == 0,
           "host waits with pending_send_sz, answers once there is room", waited);
}

static void attack_packets(struct channel* c) {
    send_vstor_as(c, PACKET_INBAND, 1, VSTOR_BEGIN_INIT, 0);
    check_faulted("zero-length packet on storvsc's channel", c);
    send_vstor_as(c, 0x42, 1, VSTOR_BEGIN_INIT, VSTOR_PACKET);
    check_faulted("packet type 0x42", c);
    send_vstor_as(c, 7, 1, VSTOR_BEGIN_INIT, VSTOR_PACKET);
    check_faulted("transfer-page packet from the guest", c);
    send_vstor_as(c, PACKET_INBAND, 0x8001, VSTOR_BEGIN_INIT, VSTOR_PACKET);
    check_faulted("packet flags 0x8001", c);

    uint8_t packet[16 + 8 + 16 + VSTOR_PACKET];
    fill_bytes(packet, 0, sizeof(packet));
    put_descriptor(packet, PACKET_GPA_DIRECT, 5, sizeof(packet) / 8, 1, 1);
    put32(packet + 20, 1000); /* range count */
    put32(packet + 24, 4096);
    put64(packet + 32, BUF_A_PFN);
    put32(packet + 40, VSTOR_EXECUTE_SRB);
    ring_put(c, packet, sizeof(packet));
    signal_channel(c->relid);
    check_faulted("GPA-direct packet with 1000 ranges", c);

    put32(packet + 20, 1);
    put32(packet + 24, 1u << 20); /* 1 MiB over one pfn */
    ring_put(c, packet, sizeof(packet));
    signal_channel(c->relid);
    check_faulted("GPA-direct range of 1 MiB over one page", c);
}

static void attack_vstor(struct channel* c) {
    send_vstor_as(c, PACKET_INBAND, 0, VSTOR_QUERY_PROPERTIES, VSTOR_PACKET);
    check_faulted("vstor request without completion requested", c);
    send_vstor_as(c, PACKET_INBAND, 1, 99, VSTOR_PACKET);
    check_faulted("vstor operation 99", c);
    send_vstor_as(c, PACKET_COMPLETION, 0, VSTOR_QUERY_PROPERTIES, VSTOR_PACKET);
    check_faulted("completion packet sent to storvsc", c);
    send_vstor_as(c, PACKET_INBAND, 1, VSTOR_EXECUTE_SRB, 40);
    check_faulted("EXECUTE_SRB of 40 bytes", c);

    const uint64_t one_page[2] = {4096, BUF_A_PFN};
    struct srb_request r = {0};
    r.lun = 0;
    cdb_rw16(&r, false, 0, 16); /* 8 KiB */
    r.ranges = one_page;
    r.range_entries = 2;
    srb_send(c, &r);
    check_faulted("SRB of 8 KiB with a 4 KiB buffer", c);
}

static bool sense_is(const struct vstor_reply* reply, uint8_t key, uint8_t asc) {
    const uint8_t* sense = reply->bytes + 12 + SRB_CDB;
    return (sense[2] & 0x0F) == key && sense[12] == asc;
}

static void expect_srb(const char* name, struct channel* c, const struct srb_request* r,
                       uint8_t srb_status, uint8_t key, uint8_t asc, const char* answer) {
    const struct vstor_reply reply = srb_call(c, r);
    const uint8_t status = reply.bytes[12 + SRB_STATUS];
    bool ok = reply.received && (status & 0x3F) == srb_status;
    if (key != 0)
        ok &= (status & 0x80) != 0 && reply.bytes[12 + SRB_SCSI_STATUS] == 2 &&
              sense_is(&reply, key, asc);
    result(name, ok, answer, reply.received ? status : NO_ANSWER);
}

static bool buffer_is(uint64_t gpa, uint32_t bytes, uint64_t seed) {
    const uint8_t* p = (const uint8_t*)gpa;
    for (uint32_t i = 0; i < bytes; ++i)
        if (p[i] != (seed == 0 ? 0 : (uint8_t)(seed + i * 7)))
            return false;
    return true;
}

static void pattern(uint64_t gpa, uint32_t bytes, uint64_t seed) {
    uint8_t* p = (uint8_t*)gpa;
    for (uint32_t i = 0; i < bytes; ++i)
        p[i] = (uint8_t)(seed + i * 7);
}

static void attack_srbs(struct channel* c) {
    const uint64_t beyond = memory_size / 4096 + 16;
    const uint64_t a[2] = {4096, BUF_A_PFN};
    struct srb_request r = {0};
    cdb_rw16(&r, false, 0, 8);
    r.ranges = a;
    r.range_entries = 2;
    r.lun = 9;
    expect_srb("READ from LUN 9 (no disk there)", c, &r, 0x20, 5, 0x25,
               "SRB_STATUS_INVALID_LUN, LOGICAL UNIT NOT SUPPORTED");
    r.lun = 200;
    expect_srb("READ from LUN 200", c, &r, 0x20, 5, 0x25,
               "SRB_STATUS_INVALID_LUN, LOGICAL UNIT NOT SUPPORTED");
    r.lun = 0;
    cdb_rw16(&r, false, DISK_SECTORS, 8);
    expect_srb("READ at the LBA past the end", c, &r, 0x04, 5, 0x21,
               "CHECK CONDITION, LOGICAL BLOCK ADDRESS OUT OF RANGE");
    cdb_rw16(&r, false, DISK_SECTORS - 4, 8);
    expect_srb("READ of 8 blocks from 4 before the end", c, &r, 0x04, 5, 0x21,
               "CHECK CONDITION, LOGICAL BLOCK ADDRESS OUT OF RANGE");
    cdb_rw16(&r, false, ~0ull - 3, 8);
    expect_srb("READ at LBA 2^64 - 4", c, &r, 0x04, 5, 0x21,
               "CHECK CONDITION, LOGICAL BLOCK ADDRESS OUT OF RANGE");

    const uint64_t outside[2] = {4096, beyond};
    cdb_rw16(&r, false, 0, 8);
    r.ranges = outside;
    expect_srb("READ into a page beyond the guest's RAM", c, &r, 0x06, 0, 0,
               "SRB_STATUS_INVALID_REQUEST");
    const uint32_t apic_id = apic_read(APIC_ID), apic_version = apic_read(APIC_VERSION);
    const uint64_t mmio[2] = {4096, 0xFEE00};
    r.ranges = mmio;
    expect_srb("READ into the local APIC's page", c, &r, 0x06, 0, 0, "SRB_STATUS_INVALID_REQUEST");
    result("the local APIC after that READ",
           apic_read(APIC_ID) == apic_id && apic_read(APIC_VERSION) == apic_version, "unchanged",
           apic_read(APIC_ID));

    pattern(BUF_B, 4096, 0x5A);
    cdb_rw16(&r, true, 4096, 8);
    r.ranges = outside;
    expect_srb("WRITE from a page beyond the guest's RAM", c, &r, 0x06, 0, 0,
               "SRB_STATUS_INVALID_REQUEST");
    cdb_rw16(&r, false, 4096, 8);
    const uint64_t b[2] = {4096, BUF_B_PFN};
    r.ranges = b;
    const struct vstor_reply back = srb_call(c, &r);
    result("the sectors of that WRITE",
           back.received && back.bytes[12 + SRB_STATUS] == 0x01 && buffer_is(BUF_B, 4096, 0),
           "still zeros: nothing was written", back.bytes[12 + SRB_STATUS]);

    const uint64_t split[3] = {8192, BUF_A_PFN, beyond};
    cdb_rw16(&r, false, 0, 16);
    r.ranges = split;
    r.range_entries = 3;
    expect_srb("READ into one page of RAM and one beyond", c, &r, 0x06, 0, 0,
               "SRB_STATUS_INVALID_REQUEST");

    r.ranges = a;
    r.range_entries = 2;
    cdb_rw16(&r, false, 0, 8);
    r.cdb_length = 0;
    expect_srb("CDB length 0", c, &r, 0x06, 0, 0, "SRB_STATUS_INVALID_REQUEST");
    r.cdb_length = 200;
    expect_srb("CDB length 200", c, &r, 0x06, 0, 0, "SRB_STATUS_INVALID_REQUEST");
    cdb_rw16(&r, false, 0, 8);
    r.data_in = DATA_OUT;
    expect_srb("READ with the data direction of a write", c, &r, 0x06, 0, 0,
               "SRB_STATUS_INVALID_REQUEST");

    /* UNMAP with a descriptor past the end: refused before anything is unmapped. */
    uint8_t* list = (uint8_t*)BUF_A;
    fill_bytes(list, 0, 24);
    list[1] = 22; /* UNMAP DATA LENGTH */
    list[3] = 16; /* BLOCK DESCRIPTOR DATA LENGTH */
    for (int i = 0; i < 8; ++i)
        list[8 + i] = (uint8_t)((DISK_SECTORS - 8) >> (56 - 8 * i));
    list[19] = 64; /* 64 blocks: past the end */
    const uint64_t unmap_list[2] = {24, BUF_A_PFN};
    struct srb_request u = {0};
    u.cdb_length = 10;
    u.cdb[0] = 0x42;
    u.cdb[8] = 24;
    u.data_in = DATA_OUT;
    u.transfer = 24;
    u.ranges = unmap_list;
    u.range_entries = 2;
    expect_srb("UNMAP of blocks past the end", c, &u, 0x04, 5, 0x21,
               "CHECK CONDITION, LOGICAL BLOCK ADDRESS OUT OF RANGE");

    /* And the disk still works. */
    pattern(BUF_A, 4096, 0x33);
    cdb_rw16(&r, true, 8192, 8);
    r.ranges = a;
    const struct vstor_reply wrote = srb_call(c, &r);
    fill_bytes((void*)BUF_B, 0, 4096);
    cdb_rw16(&r, false, 8192, 8);
    r.ranges = b;
    const struct vstor_reply read = srb_call(c, &r);
    result("WRITE and READ back after all that",
           wrote.received && read.received && wrote.bytes[12 + SRB_STATUS] == 0x01 &&
               read.bytes[12 + SRB_STATUS] == 0x01 && buffer_is(BUF_B, 4096, 0x33),
           "SRB_STATUS_SUCCESS, the data read back", read.bytes[12 + SRB_STATUS]);
}
