/* root_unprivileged: an ordinary (non-privileged) VM tries the root partition's privileged
 * hypercalls (docs/management-partition.md). Every one - implemented or not, valid input or
 * garbage, fast or memory form, with rep counts - must return HV_STATUS_ACCESS_DENIED and
 * change nothing; the core logs each refusal. CPUID shows none of the root's privileges, and
 * the unprivileged hypercalls keep working. */
#include "root_hv.h"

static struct checks checks = {"unprivileged", 0, 0};

static const uint16_t kPrivilegedCodes[] = {
    HVCALL_CREATE_PARTITION,
    HVCALL_INITIALIZE_PARTITION,
    HVCALL_FINALIZE_PARTITION,
    HVCALL_DELETE_PARTITION,
    HVCALL_GET_PARTITION_PROPERTY,
    HVCALL_SET_PARTITION_PROPERTY,
    HVCALL_GET_PARTITION_ID,
    HVCALL_DEPOSIT_MEMORY,
    HVCALL_WITHDRAW_MEMORY,
    HVCALL_MAP_GPA_PAGES,
    HVCALL_UNMAP_GPA_PAGES,
    HVCALL_INSTALL_INTERCEPT,
    HVCALL_CREATE_VP,
    HVCALL_DELETE_VP,
    HVCALL_GET_VP_REGISTERS,
    HVCALL_SET_VP_REGISTERS,
    HVCALL_ASSERT_VIRTUAL_INTERRUPT,
    HVCALL_SIGNAL_EVENT_DIRECT,
    HVCALL_POST_MESSAGE_DIRECT,
    HVCALL_DISPATCH_VP,
    HVCALL_MAP_VP_STATE_PAGE,
    HVCALL_UNMAP_VP_STATE_PAGE,
    HVCALL_GET_VP_STATE,
    HVCALL_SET_VP_STATE,
    HVCALL_HALCYON_MANAGEMENT,
};
#define CODE_COUNT (sizeof(kPrivilegedCodes) / sizeof(kPrivilegedCodes[0]))

static bool check_status(const char* what, uint64_t result, uint16_t expected) {
    check_begin(&checks, what);
    print_value_hex("status", hv_status(result));
    return check_end(&checks, hv_status(result) == expected);
}

void guest_main(uint64_t memory_size, uint64_t vcpu_index, uint64_t vcpu_count) {
    uint32_t r[4];
    cpuid(0x40000003, 0, r);
    check_begin(&checks, "CPUID 0x40000003 EBX: no CreatePartitions, partition id, memory pool");
    print_value_hex("ebx", r[1]);
    check_end(&checks, (r[1] & 0x7) == 0);

    enable_hypercalls();
    /* A well-formed HvCreatePartition: what a root would send. */
    clear_page(INPUT_PAGE);
    put64(INPUT_PAGE, 0, (1ull << 13) | (1ull << 22));
    put64(OUTPUT_PAGE, 0, 0x5A5A5A5A5A5A5A5Aull);
    check_status("HvCreatePartition: ACCESS_DENIED",
                 hypercall(HVCALL_CREATE_PARTITION, INPUT_PAGE, OUTPUT_PAGE),
                 HV_STATUS_ACCESS_DENIED);
    check_ok(&checks, "HvCreatePartition wrote no partition id",
             get64(OUTPUT_PAGE, 0) == 0x5A5A5A5A5A5A5A5Aull);

    /* Every privileged code, memory form and (where it makes no sense) fast, with and without
     * a rep count, with garbage input: the privilege is checked before anything else. */
    uint32_t denied = 0;
    for (uint32_t i = 0; i < CODE_COUNT; ++i) {
        for (uint32_t page = 0; page < 4096; page += 8)
            put64(INPUT_PAGE, page, 0xFFFFFFFFFFFFFFFFull - page);
        const uint64_t code = kPrivilegedCodes[i];
        const bool rep = code == HVCALL_DEPOSIT_MEMORY || code == HVCALL_MAP_GPA_PAGES ||
                         code == HVCALL_GET_VP_REGISTERS || code == HVCALL_SET_VP_REGISTERS;
        const uint64_t memory_form = hypercall(code | (rep ? REPS(3) : 0), INPUT_PAGE, OUTPUT_PAGE);
        const uint64_t fast = hypercall(code | CALL_FAST, 2, 0);
        const uint64_t misaligned = hypercall(code, INPUT_PAGE + 3, OUTPUT_PAGE + 5);
        if (hv_status(memory_form) == HV_STATUS_ACCESS_DENIED && hv_reps(memory_form) == 0 &&
            hv_status(fast) == HV_STATUS_ACCESS_DENIED &&
            hv_status(misaligned) == HV_STATUS_ACCESS_DENIED) {
            ++denied;
        } else {
            print("unprivileged: code ");
            print_hex(code);
            print_value_hex(" memory", memory_form);
            print_value_hex("fast", fast);
            print_value_hex("misaligned", misaligned);
            put_char('\n');
        }
    }
    check_begin(&checks, "every privileged call code: ACCESS_DENIED in every form");
    print_value("denied", denied);
    print_value("codes", CODE_COUNT);
    check_end(&checks, denied == CODE_COUNT);

    /* The rest of the interface is untouched: an unknown code and an unprivileged call. */
    check_status("unknown code 0x7FFF: INVALID_HYPERCALL_CODE",
                 hypercall(0x7FFF, INPUT_PAGE, OUTPUT_PAGE), HV_STATUS_INVALID_HYPERCALL_CODE);
    clear_page(INPUT_PAGE);
    put32(INPUT_PAGE, 0, 1);  /* connection id */
    put32(INPUT_PAGE, 8, 1);  /* message type */
    put32(INPUT_PAGE, 12, 8); /* payload size */
    check_status("HvPostMessage still works: INVALID_CONNECTION_ID (no port)",
                 hypercall(HVCALL_POST_MESSAGE, INPUT_PAGE, 0), HV_STATUS_INVALID_CONNECTION_ID);
    check_summary(&checks);
}
