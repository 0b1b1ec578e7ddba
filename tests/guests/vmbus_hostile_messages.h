/* vmbus_hostile_messages.h: the message-level attacks of vmbus_hostile.c (included once, after
 * its helpers): contact and version games, malformed hypercall inputs on the VMBus host's real
 * ports, unknown, host-only, truncated and out-of-state channel-management messages, and a
 * flood from a guest that never empties its message slot. */
#pragma once

static void attack_contact(void) {
    post_header_only(MSG_REQUEST_OFFERS);
    result("REQUEST_OFFERS before INITIATE_CONTACT", no_message(), "ignored (not connected)", 0);

    uint64_t status = initiate_contact(CONNECTION_CONTACT, VERSION_5_3, 0, VMBUS_SINT, 20);
    result("INITIATE_CONTACT truncated to 20 of 40 bytes", status == HV_OK && no_message(),
           "ignored", status);

    uint32_t supported;
    initiate_contact(CONNECTION_CONTACT, 0x60000, 0, VMBUS_SINT, 40);
    supported = version_answer(0);
    result("INITIATE_CONTACT version 6.0", supported == 0, "VERSION_RESPONSE supported=0",
           supported);
    initiate_contact(CONNECTION_CONTACT, 0x12345678, 0, VMBUS_SINT, 40);
    supported = version_answer(0);
    result("INITIATE_CONTACT version 0x12345678", supported == 0, "VERSION_RESPONSE supported=0",
           supported);
    initiate_contact(CONNECTION_CONTACT, VERSION_5_3, 7, VMBUS_SINT, 40);
    supported = version_answer(0);
    result("INITIATE_CONTACT target vCPU 7 of 1", supported == 0, "VERSION_RESPONSE supported=0",
           supported);
    initiate_contact(CONNECTION_CONTACT, VERSION_5_3, 0, 5, 40);
    supported = version_answer(0);
    result("INITIATE_CONTACT messages on SINT 5", supported == 0, "VERSION_RESPONSE supported=0",
           supported);

    uint32_t connection = 0;
    initiate_contact(CONNECTION_CONTACT, VERSION_5_3, 0, VMBUS_SINT, 40);
    supported = version_answer(&connection);
    result("INITIATE_CONTACT 5.3 after the refusals", supported == 1 && connection == 1,
           "VERSION_RESPONSE supported=1 connection 1", supported);
}

static void attack_hypercalls(void) {
    uint8_t message[240];
    fill_bytes(message, 0, sizeof(message));
    put32(message, MSG_REQUEST_OFFERS);
    uint64_t status = post_to(CONNECTION_MESSAGES, 1, message, 4);
    result("HvPostMessage of 4 bytes (shorter than a VMBus header)",
           status == HV_OK && no_message(), "ignored", status);
    status = post_to(CONNECTION_MESSAGES, 1, message, 241);
    result("HvPostMessage of 241 bytes", status == HV_INVALID_PARAMETER,
           "HV_STATUS_INVALID_PARAMETER", status);
    status = post_to(CONNECTION_MESSAGES, 0, message, 8);
    result("HvPostMessage message type 0", status == HV_INVALID_PARAMETER,
           "HV_STATUS_INVALID_PARAMETER", status);
    status = post_to(CONNECTION_MESSAGES, 0x80000001, message, 8);
    result("HvPostMessage hypervisor message type", status == HV_INVALID_PARAMETER,
           "HV_STATUS_INVALID_PARAMETER", status);
    put32((void*)(POST_PAGE + 4), 1); /* reserved word */
    status = hypercall(CALL_POST_MESSAGE, POST_PAGE, 0);
    result("HvPostMessage reserved field set", status == HV_INVALID_HYPERCALL_INPUT,
           "HV_STATUS_INVALID_HYPERCALL_INPUT", status);
    status = hypercall(CALL_POST_MESSAGE, memory_size + 0x10000, 0);
    result("HvPostMessage input beyond the guest's RAM", status == HV_INVALID_ALIGNMENT,
           "HV_STATUS_INVALID_ALIGNMENT", status);
    status = hypercall(CALL_POST_MESSAGE, POST_PAGE + 4, 0);
    result("HvPostMessage misaligned input", status == HV_INVALID_ALIGNMENT,
           "HV_STATUS_INVALID_ALIGNMENT", status);
    status = post_to(CHANNEL_CONNECTION(1), 1, message, 8);
    result("HvPostMessage to a channel's event connection", status == HV_INVALID_CONNECTION_ID,
           "HV_STATUS_INVALID_CONNECTION_ID", status);
    status = post_to(0x7777, 1, message, 8);
    result("HvPostMessage to an unknown connection", status == HV_INVALID_CONNECTION_ID,
           "HV_STATUS_INVALID_CONNECTION_ID", status);
    status = hypercall(CALL_SIGNAL_EVENT | CALL_FAST, CONNECTION_MESSAGES, 0);
    result("HvSignalEvent on the message connection", status == HV_INVALID_CONNECTION_ID,
           "HV_STATUS_INVALID_CONNECTION_ID", status);
    status = signal_channel(64);
    result("HvSignalEvent on relid 64 (never offered)", status == HV_INVALID_CONNECTION_ID,
           "HV_STATUS_INVALID_CONNECTION_ID", status);
    status = hypercall(CALL_SIGNAL_EVENT | CALL_FAST, (2048ull << 32) | CHANNEL_CONNECTION(1), 0);
    result("HvSignalEvent flag number 2048", status == HV_INVALID_PARAMETER,
           "HV_STATUS_INVALID_PARAMETER", status);
    status = hypercall(CALL_SIGNAL_EVENT | CALL_FAST, (1ull << 50) | CHANNEL_CONNECTION(1), 0);
    result("HvSignalEvent reserved bits", status == HV_INVALID_HYPERCALL_INPUT,
           "HV_STATUS_INVALID_HYPERCALL_INPUT", status);
}

static void attack_messages(void) {
    post_header_only(99);
    result("message type 99", no_message(), "ignored", 0);
    uint8_t offer[196];
    fill_bytes(offer, 0xA5, sizeof(offer));
    put32(offer, MSG_OFFER);
    uint64_t status = post(offer, sizeof(offer));
    result("OFFER_CHANNEL sent by the guest", status == HV_OK && no_message(), "ignored", status);
    uint8_t request[8] = {0};
    put32(request, MSG_REQUEST_OFFERS);
    post_to(CONNECTION_CONTACT, 1, request, 8);
    result("REQUEST_OFFERS on connection 4", no_message(), "ignored", 0);
    post_relid(MSG_TL_CONNECT_REQUEST, 1);
    result("TL_CONNECT_REQUEST (hv_sock)", no_message(), "ignored", 0);

    offer_count = request_offers(offers);
    for (int i = 0; i < offer_count; ++i) {
        if (same_guid(offers[i].interface_type, kScsiInterface))
            scsi_relid = offers[i].relid;
        else if (other_relid == 0)
            other_relid = offers[i].relid;
    }
    result("REQUEST_OFFERS", offer_count >= 2 && scsi_relid != 0 && other_relid != 0,
           "OFFER_CHANNEL per device (SCSI among them), ALL_OFFERS_DELIVERED",
           (uint64_t)offer_count);
    post_header_only(MSG_REQUEST_OFFERS);
    result("REQUEST_OFFERS a second time", no_message(), "ignored", 0);

    uint8_t m[148];
    fill_bytes(m, 0, sizeof(m));
    put32(m, MSG_GPADL_HEADER);
    put32(m + 8, scsi_relid);
    put32(m + 12, 0x77);
    post(m, 19);
    result("GPADL_HEADER truncated to 19 bytes", no_message(), "ignored", 0);
    post_open(scsi_relid, 1, 0x77, 0, 2, 147);
    result("OPEN_CHANNEL truncated to 147 bytes", no_message(), "ignored", 0);
    post_relid(MSG_CLOSE_CHANNEL, scsi_relid);
    result("CLOSE_CHANNEL of a channel that is not open", no_message(), "ignored", 0);
    post_relid(MSG_RELID_RELEASED, scsi_relid);
    result("RELID_RELEASED of a channel never rescinded", no_message(), "ignored", 0);

    fill_bytes(m, 0, 16);
    put32(m, MSG_MODIFY_CHANNEL);
    put32(m + 8, scsi_relid);
    post(m, 16);
    struct vmbus_message answer;
    const bool answered = expect_message(MSG_MODIFY_CHANNEL_RESPONSE, &answer);
    result("MODIFYCHANNEL of a channel that is not open",
           answered && get32(answer.bytes + 12) == STATUS_UNSUCCESSFUL,
           "MODIFYCHANNEL_RESPONSE 0xc0000001", answered ? get32(answer.bytes + 12) : NO_ANSWER);
}

/* The guest stops emptying its message slot and keeps posting MODIFYCHANNEL (each answered):
 * the SynIC's queue and then the host's outbox fill up, the host answers
 * HV_STATUS_INSUFFICIENT_BUFFERS instead of dropping anything, and once the guest reads again
 * every accepted message has exactly one answer. */
static void attack_flood(const struct channel* c) {
    uint8_t m[16] = {0};
    put32(m, MSG_MODIFY_CHANNEL);
    put32(m + 8, c->relid);
    uint32_t accepted = 0;
    uint64_t status = HV_OK;
    while (accepted < 1000) {
        status = post(m, 16);
        if (status != HV_OK)
            break;
        ++accepted;
    }
    uint32_t answers = 0, good = 0;
    struct vmbus_message answer;
    while (receive(&answer, 200)) {
        ++answers;
        good += answer.type == MSG_MODIFY_CHANNEL_RESPONSE && get32(answer.bytes + 12) == 0;
    }
    print("hostile: flood accepted=");
    print_dec(accepted);
    print(" answers=");
    print_dec(answers);
    put_char('\n');
    result("message flood without reading the slot",
           status == HV_INSUFFICIENT_BUFFERS && accepted >= 17 && answers == accepted &&
               good == accepted,
           "HV_STATUS_INSUFFICIENT_BUFFERS once full, every accepted message answered", status);
}
