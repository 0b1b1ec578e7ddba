/* vmbus_hostile_gpadl.h: the GPADL and OPEN_CHANNEL attacks of vmbus_hostile.c (included once,
 * after its helpers): pages outside RAM, in MMIO and beyond any physical address, range counts
 * and lengths that do not add up, the per-VM pool and count limits, unknown handles, duplicate
 * ids, overlapping and aliased rings, and ring splits, owners and indices that are wrong. */
#pragma once

static void expect_gpadl_refused(const char* name, uint32_t id, uint16_t range_count,
                                 uint16_t range_bytes, const uint64_t* entries, uint32_t count) {
    send_gpadl(scsi_relid, id, range_count, range_bytes, entries, count);
    const uint32_t status = gpadl_answer(id);
    result(name, status == STATUS_UNSUCCESSFUL, "GPADL_CREATED 0xc0000001", status);
}

static void attack_gpadls(void) {
    const uint64_t beyond = memory_size / 4096 + 16;
    uint64_t e[4];
    e[0] = 8192;
    e[1] = SCRATCH_PFN;
    e[2] = beyond;
    expect_gpadl_refused("GPADL with a page beyond the guest's RAM", 0x101, 1, 24, e, 3);
    e[2] = 0xFEE00; /* the local APIC */
    expect_gpadl_refused("GPADL with a page in MMIO (local APIC)", 0x102, 1, 24, e, 3);
    e[2] = ~0ull;
    expect_gpadl_refused("GPADL with pfn 0xffffffffffffffff", 0x103, 1, 24, e, 3);
    e[2] = SCRATCH_PFN + 1;
    expect_gpadl_refused("GPADL range count 65535", 0x104, 0xFFFF, 24, e, 3);
    e[0] = 0xFFFFFFFFull; /* 4 GiB - 1 bytes over two pages */
    expect_gpadl_refused("GPADL range of 4 GiB over 2 pages", 0x105, 1, 24, e, 3);

    /* The pool: GPADLs of 8191 entries each (the most one may have) that never complete. The
     * host holds their entries for them until the pool of the VM is full. */
    e[0] = 8190ull * 4096;
    e[1] = SCRATCH_PFN;
    bool silent = true;
    for (uint32_t i = 0; i < 8; ++i) {
        send_gpadl(scsi_relid, 0x110 + i, 1, 0xFFF8, e, 2);
        silent &= no_message();
    }
    send_gpadl(scsi_relid, 0x118, 1, 0xFFF8, e, 2);
    uint32_t status = gpadl_answer(0x118);
    result("GPADLs of 8191 entries until the VM's pool is full",
           silent && status == STATUS_UNSUCCESSFUL, "8 held incomplete, the 9th 0xc0000001",
           status);
    bool torn = true;
    for (uint32_t i = 0; i < 8; ++i)
        torn &= teardown_gpadl(scsi_relid, 0x110 + i);
    result("GPADL_TEARDOWN of incomplete GPADLs", torn, "GPADL_TORNDOWN each", torn);

    uint8_t body[24] = {0};
    put32(body, MSG_GPADL_BODY);
    put32(body + 12, 0xDEAD);
    put64(body + 16, SCRATCH_PFN);
    post(body, sizeof(body));
    result("GPADL_BODY for an unknown GPADL", no_message(), "ignored", 0);

    status = create_gpadl(60, 0x120, SCRATCH_PFN, 1);
    result("GPADL for relid 60 (not offered)", status == STATUS_UNSUCCESSFUL,
           "GPADL_CREATED 0xc0000001", status);

    status = create_gpadl(scsi_relid, 0x121, SCRATCH_PFN, 2);
    const uint32_t again = create_gpadl(scsi_relid, 0x121, SCRATCH_PFN + 2, 2);
    const bool first_kept = teardown_gpadl(scsi_relid, 0x121);
    result("GPADL id used twice", status == 0 && again == STATUS_UNSUCCESSFUL && first_kept,
           "GPADL_CREATED 0xc0000001, the first one kept", again);

    /* Overlap is the guest's own business as long as no ring aliases itself. */
    status = create_gpadl(scsi_relid, 0x122, SCRATCH_PFN, 2);
    const uint32_t overlapping = create_gpadl(scsi_relid, 0x123, SCRATCH_PFN + 1, 2);
    result("two GPADLs over overlapping pages", status == 0 && overlapping == 0,
           "both GPADL_CREATED 0 (data GPADLs may overlap)", overlapping);

    uint8_t teardown[16] = {0};
    put32(teardown, MSG_GPADL_TEARDOWN);
    put32(teardown + 8, scsi_relid);
    put32(teardown + 12, 0xBEEF);
    post(teardown, 16);
    result("GPADL_TEARDOWN of an unknown GPADL", no_message(), "ignored", 0);
    put32(teardown + 8, other_relid);
    put32(teardown + 12, 0x122);
    post(teardown, 16);
    result("GPADL_TEARDOWN naming the wrong relid", no_message(), "ignored", 0);
    teardown_gpadl(scsi_relid, 0x122);
    teardown_gpadl(scsi_relid, 0x123);

    /* The number of GPADLs: every one over the same page (overlap again). */
    uint32_t created = 0;
    for (uint32_t i = 0; i < 128; ++i)
        created += create_gpadl(scsi_relid, 0x1000 + i, SCRATCH_PFN, 1) == 0;
    status = create_gpadl(scsi_relid, 0x1000 + 128, SCRATCH_PFN, 1);
    uint32_t released = 0;
    for (uint32_t i = 0; i < 128; ++i)
        released += teardown_gpadl(scsi_relid, 0x1000 + i);
    result("129 GPADLs", created == 128 && status == STATUS_UNSUCCESSFUL && released == 128,
           "128 created, the 129th 0xc0000001, all torn down", status);
}

static void expect_open_refused(const char* name, uint32_t relid, uint32_t gpadl,
                                uint32_t target_vp, uint32_t split) {
    const uint32_t open_id = ++open_ids;
    post_open(relid, open_id, gpadl, target_vp, split, 148);
    const uint32_t status = open_answer(relid, open_id);
    result(name, status == STATUS_UNSUCCESSFUL, "OPEN_CHANNEL_RESULT 0xc0000001", status);
}

/* A ring GPADL of `count` entries (one range) on scsi_relid, then an OPEN with it that must be
 * refused; the GPADL goes again afterwards. */
static void expect_ring_refused(const char* name, uint32_t id, uint16_t ranges,
                                const uint64_t* entries, uint32_t count, uint32_t split) {
    send_gpadl(scsi_relid, id, ranges, (uint16_t)(8 * count), entries, count);
    const uint32_t created = gpadl_answer(id);
    if (created != 0) {
        result(name, false, "GPADL_CREATED 0, then OPEN_CHANNEL_RESULT 0xc0000001", created);
        return;
    }
    expect_open_refused(name, scsi_relid, id, 0, split);
    teardown_gpadl(scsi_relid, id);
}

static void attack_open(struct channel* c) {
    uint32_t status = create_gpadl(scsi_relid, c->gpadl, RING_PFN, c->in_pages + c->out_pages);
    result("ring GPADL of 14 pages", status == 0, "GPADL_CREATED 0", status);

    expect_open_refused("OPEN_CHANNEL with a GPADL that does not exist", scsi_relid, 0x999, 0,
                        c->in_pages);
    expect_open_refused("OPEN_CHANNEL with the ring split past the GPADL", scsi_relid, c->gpadl, 0,
                        200);
    expect_open_refused("OPEN_CHANNEL with a ring of 1 page", scsi_relid, c->gpadl, 0, 1);
    expect_open_refused("OPEN_CHANNEL for vCPU 9", scsi_relid, c->gpadl, 9, c->in_pages);
    expect_open_refused("OPEN_CHANNEL of relid 0", 0, c->gpadl, 0, c->in_pages);
    expect_open_refused("OPEN_CHANNEL of relid 99", 99, c->gpadl, 0, c->in_pages);

    status = create_gpadl(other_relid, 0x301, RING_PFN, 6);
    expect_open_refused("OPEN_CHANNEL with another channel's GPADL", scsi_relid, 0x301, 0, 3);
    teardown_gpadl(other_relid, 0x301);

    uint64_t e[8];
    e[0] = (8ull << 32) | (6 * 4096 - 8); /* byte_offset 8 */
    for (uint32_t i = 0; i < 6; ++i)
        e[1 + i] = RING_PFN + i;
    expect_ring_refused("OPEN_CHANNEL on a ring GPADL not page aligned", 0x302, 1, e, 7, 3);
    e[0] = 3 * 4096;
    e[1] = RING_PFN;
    e[2] = RING_PFN + 1;
    e[3] = RING_PFN + 2;
    e[4] = 3 * 4096;
    e[5] = RING_PFN + 3;
    e[6] = RING_PFN + 4;
    e[7] = RING_PFN + 5;
    expect_ring_refused("OPEN_CHANNEL on a GPADL of two ranges", 0x303, 2, e, 8, 3);
    e[0] = 4 * 4096;
    e[1] = RING_PFN;
    e[2] = RING_PFN + 1;
    e[3] = RING_PFN + 2;
    e[4] = RING_PFN + 1; /* the outbound data page is the inbound data page */
    expect_ring_refused("OPEN_CHANNEL on rings that share a page", 0x304, 1, e, 5, 2);

    reset_rings(c);
    put32(in_control(c) + RING_READ, 0x12345);
    expect_open_refused("OPEN_CHANNEL with read_index 0x12345", scsi_relid, c->gpadl, 0,
                        c->in_pages);
    reset_rings(c);
    put32(out_control(c) + RING_WRITE, out_size(c) + 8);
    expect_open_refused("OPEN_CHANNEL with write_index past the ring", scsi_relid, c->gpadl, 0,
                        c->in_pages);

    reset_rings(c);
    status = open_channel(scsi_relid, ++open_ids, c->gpadl, c->in_pages);
    const bool ready = status == 0 && storvsc_handshake(c);
    result("OPEN_CHANNEL and the storvsc handshake after the refusals", ready,
           "OPEN_CHANNEL_RESULT 0, every vstor step status 0", status);
    expect_open_refused("OPEN_CHANNEL of an open channel", scsi_relid, c->gpadl, 0, c->in_pages);

    /* The ring GPADL torn down under the open channel: the host closes the channel first and
     * never touches those pages again. */
    const bool torn = teardown_gpadl(scsi_relid, c->gpadl);
    uint8_t vstor[VSTOR_PACKET] = {0};
    put32(vstor, VSTOR_QUERY_PROPERTIES);
    const uint32_t before = get32(out_control(c) + RING_WRITE);
    const uint64_t id = vstor_send(c, vstor);
    const bool ignored =
        !wait_reply(c, id, NOTHING_MS).received && get32(out_control(c) + RING_WRITE) == before;
    status = create_gpadl(scsi_relid, c->gpadl, RING_PFN, c->in_pages + c->out_pages);
    reset_rings(c);
    const uint32_t reopened = open_channel(scsi_relid, ++open_ids, c->gpadl, c->in_pages);
    result("GPADL_TEARDOWN of the open channel's ring",
           torn && ignored && status == 0 && reopened == 0 && storvsc_handshake(c),
           "channel closed, GPADL_TORNDOWN, ring untouched; a new ring opens", reopened);
}
