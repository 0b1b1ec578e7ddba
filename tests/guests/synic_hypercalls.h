/* synic_hypercalls.h: the HvPostMessage / HvSignalEvent part of the synic test guest (synic.c
 * includes it once, after its helpers): nobody serves any connection in that VM, so valid calls
 * end in HV_STATUS_INVALID_CONNECTION_ID, and every malformed input in its TLFS status. */
#pragma once

static void put_message(uint64_t at, uint32_t connection, uint32_t reserved, uint32_t type,
                        uint32_t size) {
    volatile uint32_t* p = (volatile uint32_t*)at;
    p[0] = connection;
    p[1] = reserved;
    p[2] = type;
    p[3] = size;
    for (unsigned i = 0; i < 240; ++i)
        ((volatile uint8_t*)at)[16 + i] = (uint8_t)i;
}

static void test_hypercalls(void) {
    const uint64_t in = INPUT_PAGE;
    put_message(in, 1, 0, 1, 16);
    check_status("HvPostMessage to an unregistered connection: INVALID_CONNECTION_ID",
                 hypercall(CALL_POST_MESSAGE, in, 0), HV_STATUS_INVALID_CONNECTION_ID);
    put_message(in, 4, 0, 14, 240);
    check_status("HvPostMessage, 240-byte payload, no port: INVALID_CONNECTION_ID",
                 hypercall(CALL_POST_MESSAGE, in, 0), HV_STATUS_INVALID_CONNECTION_ID);
    put_message(in, 1, 0, 0, 16);
    check_status("HvPostMessage type 0: INVALID_PARAMETER", hypercall(CALL_POST_MESSAGE, in, 0),
                 HV_STATUS_INVALID_PARAMETER);
    put_message(in, 1, 0, 0x80000010, 16);
    check_status("HvPostMessage hypervisor type: INVALID_PARAMETER",
                 hypercall(CALL_POST_MESSAGE, in, 0), HV_STATUS_INVALID_PARAMETER);
    put_message(in, 1, 0, 1, 241);
    check_status("HvPostMessage 241 bytes: INVALID_PARAMETER", hypercall(CALL_POST_MESSAGE, in, 0),
                 HV_STATUS_INVALID_PARAMETER);
    put_message(in, 1, 7, 1, 16);
    check_status("HvPostMessage reserved field: INVALID_HYPERCALL_INPUT",
                 hypercall(CALL_POST_MESSAGE, in, 0), HV_STATUS_INVALID_HYPERCALL_INPUT);
    put_message(in, 0x01000001, 0, 1, 16);
    check_status("HvPostMessage connection id bits 31:24: INVALID_HYPERCALL_INPUT",
                 hypercall(CALL_POST_MESSAGE, in, 0), HV_STATUS_INVALID_HYPERCALL_INPUT);
    put_message(in, 1, 0, 1, 16);
    check_status("HvPostMessage fast: INVALID_HYPERCALL_INPUT",
                 hypercall(CALL_POST_MESSAGE | CALL_FAST, in, 0),
                 HV_STATUS_INVALID_HYPERCALL_INPUT);
    check_status("HvPostMessage rep count: INVALID_HYPERCALL_INPUT",
                 hypercall(CALL_POST_MESSAGE | (1ull << 32), in, 0),
                 HV_STATUS_INVALID_HYPERCALL_INPUT);
    check_status("HvPostMessage misaligned input: INVALID_ALIGNMENT",
                 hypercall(CALL_POST_MESSAGE, in + 4, 0), HV_STATUS_INVALID_ALIGNMENT);
    put_message(in - 128, 1, 0, 1, 16);
    check_status("HvPostMessage input across a page: INVALID_ALIGNMENT",
                 hypercall(CALL_POST_MESSAGE, in - 128, 0), HV_STATUS_INVALID_ALIGNMENT);
    check_status("HvPostMessage input beyond the guest's memory: INVALID_ALIGNMENT",
                 hypercall(CALL_POST_MESSAGE, 0x7FFFF000000ull, 0), HV_STATUS_INVALID_ALIGNMENT);

    check_status("HvSignalEvent fast, unregistered: INVALID_CONNECTION_ID",
                 hypercall(CALL_SIGNAL_EVENT | CALL_FAST, 0x0000000500000021ull, 0),
                 HV_STATUS_INVALID_CONNECTION_ID);
    *(volatile uint64_t*)in = 0x0000000000000021ull;
    check_status("HvSignalEvent memory form, unregistered: INVALID_CONNECTION_ID",
                 hypercall(CALL_SIGNAL_EVENT, in, 0), HV_STATUS_INVALID_CONNECTION_ID);
    check_status("HvSignalEvent flag 2048: INVALID_PARAMETER",
                 hypercall(CALL_SIGNAL_EVENT | CALL_FAST, (2048ull << 32) | 0x21, 0),
                 HV_STATUS_INVALID_PARAMETER);
    check_status("HvSignalEvent reserved bits: INVALID_HYPERCALL_INPUT",
                 hypercall(CALL_SIGNAL_EVENT | CALL_FAST, (1ull << 48) | 0x21, 0),
                 HV_STATUS_INVALID_HYPERCALL_INPUT);
    check_status("HvSignalEvent misaligned memory input: INVALID_ALIGNMENT",
                 hypercall(CALL_SIGNAL_EVENT, in + 2, 0), HV_STATUS_INVALID_ALIGNMENT);
    check_status("unknown call code 0x5E: INVALID_HYPERCALL_CODE", hypercall(0x5E, in, 0),
                 HV_STATUS_INVALID_HYPERCALL_CODE);
    check_status("reserved control bit: INVALID_HYPERCALL_INPUT",
                 hypercall(CALL_SIGNAL_EVENT | CALL_FAST | (1ull << 31), 0x21, 0),
                 HV_STATUS_INVALID_HYPERCALL_INPUT);
}
