/* root_partition: a tiny root partition (`privileged = yes`) driving the privileged hypercall
 * interface end to end (docs/management-partition.md): it creates a child partition, deposits
 * memory for it, writes a program into a large page of its own memory and maps that page into
 * the child, creates and sets up a VP, runs it with HvDispatchVp and handles its intercepts
 * from SINT 0 of its SynIC (an OUT, an intercepted CPUID, HLTs), injects an interrupt, and
 * tears the child down, getting every page back - with the child's writes in it. On the way,
 * every input a hostile root could send wrong is sent wrong once. The child itself tries
 * HvCreatePartition and must get ACCESS_DENIED (root_child.h). */
#include "root_calls.h"
#include "root_child.h"

#define CHILD_PAGE 0x400000ull   /* the child's memory, at its guest-physical 0 */
#define DEPOSIT_PAGE 0x600000ull /* deposited for the child's overhead */
#define B_DEPOSIT_PAGE 0x800000ull
#define B_MEMORY_PAGE 0xA00000ull
#define B_EXTRA_PAGE 0xC00000ull
#define ROUNDS 200

static struct checks checks = {"root", 0, 0};

static bool check_status(const char* what, uint64_t result, uint16_t expected) {
    check_begin(&checks, what);
    print_value_hex("status", hv_status(result));
    return check_end(&checks, hv_status(result) == expected);
}

static bool check_status_reps(const char* what, uint64_t result, uint16_t expected, uint32_t reps) {
    check_begin(&checks, what);
    print_value_hex("status", hv_status(result));
    print_value("reps", hv_reps(result));
    return check_end(&checks, hv_status(result) == expected && hv_reps(result) == reps);
}

/* --- the test --- */

/* 64-bit mode with the child's GDT, page tables and IDT (limit `idt_limit`). */
static uint64_t set_long_mode(uint64_t id, uint16_t idt_limit, uint32_t* count_out) {
    const struct reg regs[] = {
        {REG_CR0, 0x80010033, 0},
        {REG_CR3, CHILD_PML4, 0},
        {REG_CR4, 0x220, 0},
        {REG_EFER, 0xD00, 0},
        {REG_PAT, 0x0007040600070406ull, 0},
        segment(REG_CS, 0x08, 0xA09B, 0xFFFFFFFF),
        segment(REG_DS, 0x10, 0xC093, 0xFFFFFFFF),
        segment(REG_ES, 0x10, 0xC093, 0xFFFFFFFF),
        segment(REG_SS, 0x10, 0xC093, 0xFFFFFFFF),
        segment(REG_FS, 0x10, 0xC093, 0xFFFFFFFF),
        segment(REG_GS, 0x10, 0xC093, 0xFFFFFFFF),
        segment(REG_TR, 0, 0x008B, 0x67),
        segment(REG_LDTR, 0, 0x0082, 0),
        {REG_GDTR, 23ull << 48, CHILD_GDT},
        {REG_IDTR, (uint64_t)idt_limit << 48, CHILD_IDT},
        {REG_RIP, CHILD_CODE, 0},
        {REG_RSP, CHILD_STACK, 0},
        {REG_RFLAGS, 0x2, 0},
        {REG_R12, ROUNDS, 0},
    };
    *count_out = sizeof(regs) / sizeof(regs[0]);
    return set_registers(id, 0, regs, *count_out);
}

static void setup_child_vp(uint64_t id) {
    uint32_t count = 0;
    const uint64_t result = set_long_mode(id, 0xFFF, &count);
    check_status_reps("HvSetVpRegisters: 64-bit mode, GDT, IDT, RIP, RSP, R12 (19 registers)",
                      result, HV_STATUS_SUCCESS, count);
    uint64_t rip = 0;
    check_status("HvGetVpRegisters RIP", get_register(id, REG_RIP, &rip), HV_STATUS_SUCCESS);
    check_ok(&checks, "RIP reads back as set", rip == CHILD_CODE);

    const struct reg bad_efer[] = {{REG_RAX, 7, 0}, {REG_EFER, 0xD00 | (1u << 12), 0}};
    check_status_reps("EFER.SVME: INVALID_REGISTER_VALUE after 1 rep",
                      set_registers(id, 0, bad_efer, 2), HV_STATUS_INVALID_REGISTER_VALUE, 1);
    check_status_reps("unknown register name: INVALID_PARAMETER", set_register(id, 0x12345678, 0),
                      HV_STATUS_INVALID_PARAMETER, 0);
    check_status("CR0.PG without PE: INVALID_REGISTER_VALUE", set_register(id, REG_CR0, 0x80000000),
                 HV_STATUS_INVALID_REGISTER_VALUE);
    check_status("bad PAT memory type: INVALID_REGISTER_VALUE",
                 set_register(id, REG_PAT, 0x0007040600070402ull),
                 HV_STATUS_INVALID_REGISTER_VALUE);
}

static void run_the_child(uint64_t id) {
    struct message m = run_child(id);
    check_begin(&checks, "intercept: OUT to port 0x520 with the marker");
    print_value_hex("type", m.type);
    print_value_hex("port", m.port);
    print_value_hex("rax", m.rax);
    print_value("length", m.instruction_length);
    check_end(&checks, m.type == MESSAGE_IO && m.port == PORT_HELLO && m.access == 1 &&
                           (uint32_t)m.rax == HELLO_MARKER && m.instruction_length == 1 &&
                           (m.access_info & 7) == 4 && m.rip == CHILD_CODE + 10);
    complete(id, &m);

    m = run_child(id);
    check_begin(&checks, "intercept: CPUID 0x13370000");
    print_value_hex("type", m.type);
    print_value_hex("leaf", m.rax);
    print_value("length", m.instruction_length);
    check_end(&checks, m.type == MESSAGE_CPUID && (uint32_t)m.rax == LEAF_ANSWERED &&
                           m.instruction_length == 2 && m.access == 2);
    const struct reg answer[] = {{REG_RAX, 0x48616C63, 0},
                                 {REG_RBX, 0x796F6E21, 0},
                                 {REG_RCX, 0, 0},
                                 {REG_RDX, 0, 0},
                                 {REG_RIP, m.rip + 2, 0}};
    check_status_reps("CPUID answered with HvSetVpRegisters", set_registers(id, 0, answer, 5),
                      HV_STATUS_SUCCESS, 5);

    m = run_child(id);
    check_begin(&checks, "the child saw the root's CPUID answer (OUT 0x521)");
    print_value_hex("ebx", m.rax);
    check_end(&checks,
              m.type == MESSAGE_IO && m.port == PORT_CPUID_SEEN && (uint32_t)m.rax == 0x796F6E21);
    complete(id, &m);

    /* ROUNDS intercepted CPUIDs: the cost of a whole round trip (dispatch, message, set RIP). */
    const uint64_t preempted_before = preemptions;
    const uint64_t begin = rdtsc();
    uint32_t answered = 0;
    for (uint32_t i = 0; i < ROUNDS; ++i) {
        m = run_child(id);
        if (m.type != MESSAGE_CPUID || (uint32_t)m.rax != LEAF_TIMED)
            break;
        complete(id, &m);
        ++answered;
    }
    const uint64_t cycles = rdtsc() - begin;
    check_begin(&checks, "intercepted CPUID round trips");
    print_value("rounds", answered);
    print_value("cycles_per_round_trip", answered ? cycles / answered : 0);
    print_value("preemptions", preemptions - preempted_before);
    check_end(&checks, answered == ROUNDS);

    m = run_child(id);
    check_begin(&checks, "the child's own HvCreatePartition got ACCESS_DENIED (OUT 0x522)");
    print_value_hex("status", m.rax);
    check_end(&checks, m.type == MESSAGE_IO && m.port == PORT_HYPERCALL_STATUS &&
                           (m.rax & 0xFFFF) == HV_STATUS_ACCESS_DENIED);
    complete(id, &m);

    m = run_child(id);
    check_begin(&checks, "intercept: HLT with interrupts enabled");
    print_value_hex("type", m.type);
    print_value_hex("rflags", m.rflags);
    check_end(&checks, m.type == MESSAGE_HALT && (m.rflags & 0x200) != 0);

    clear_page(INPUT_PAGE);
    put64(INPUT_PAGE, 0, id);
    put32(INPUT_PAGE, 8, 0);  /* fixed */
    put64(INPUT_PAGE, 16, 0); /* APIC ID 0 */
    put32(INPUT_PAGE, 24, 5);
    check_status("HvAssertVirtualInterrupt vector 5: INVALID_PARAMETER",
                 hypercall(HVCALL_ASSERT_VIRTUAL_INTERRUPT, INPUT_PAGE, 0),
                 HV_STATUS_INVALID_PARAMETER);
    put32(INPUT_PAGE, 24, CHILD_VECTOR);
    check_status("HvAssertVirtualInterrupt vector 0x40 to VP 0",
                 hypercall(HVCALL_ASSERT_VIRTUAL_INTERRUPT, INPUT_PAGE, 0), HV_STATUS_SUCCESS);
    m = run_child(id);
    check_begin(&checks, "the interrupt woke the VP: its handler ran (OUT 0x523)");
    print_value_hex("port", m.port);
    print_value_hex("rax", m.rax);
    check_end(&checks, m.type == MESSAGE_IO && m.port == PORT_INTERRUPT && m.rax == CHILD_VECTOR);
    complete(id, &m);

    m = run_child(id);
    check_begin(&checks, "intercept: the final HLT with interrupts disabled");
    print_value_hex("rflags", m.rflags);
    check_end(&checks, m.type == MESSAGE_HALT && (m.rflags & 0x200) == 0);

    check_status("HvSignalEventDirect to a VP without a SynIC: INVALID_SYNIC_STATE",
                 (put64(INPUT_PAGE, 0, id), put64(INPUT_PAGE, 8, 0),
                  hypercall(HVCALL_SIGNAL_EVENT_DIRECT, INPUT_PAGE, OUTPUT_PAGE)),
                 HV_STATUS_INVALID_SYNIC_STATE);
    check_status("explicit suspend set", set_register(id, REG_EXPLICIT_SUSPEND, 1),
                 HV_STATUS_SUCCESS);
    const struct dispatched suspended = dispatch(id);
    check_ok(&checks, "a suspended VP is not run: BLOCKED/SUSPEND",
             suspended.status == HV_STATUS_SUCCESS && suspended.state == 1 && suspended.event == 1);
}

static bool all_ones(uint64_t address) {
    return *(volatile uint64_t*)address == ~0ull;
}

static void second_child(void) {
    /* Deposits come back with HvWithdrawMemory as far as the charges allow; memory mapped
     * into a child comes back when it is deleted without any unmap. */
    uint64_t b = 0;
    check_status("child B: HvCreatePartition", create_partition(0, 0, &b), HV_STATUS_SUCCESS);
    memory_fill(B_EXTRA_PAGE, B_EXTRA_PAGE + 0x200000, 7);
    const uint64_t extra_sum = memory_checksum(B_EXTRA_PAGE, B_EXTRA_PAGE + 0x200000);
    const uint64_t pages[] = {PFN(B_DEPOSIT_PAGE), PFN(B_EXTRA_PAGE)};
    check_status_reps("child B: deposit two large pages", deposit(b, pages, 2), HV_STATUS_SUCCESS,
                      2);
    check_status("child B: HvInitializePartition (fast form)",
                 hypercall(HVCALL_INITIALIZE_PARTITION | CALL_FAST, b, 0), HV_STATUS_SUCCESS);
    put64(INPUT_PAGE, 0, b);
    put64(INPUT_PAGE, 8, 0);
    put64(OUTPUT_PAGE, 0, 0);
    const uint64_t withdrawn = hypercall(HVCALL_WITHDRAW_MEMORY | REPS(2), INPUT_PAGE, OUTPUT_PAGE);
    check_status_reps("child B: withdraw 2: one comes back, then NO_RESOURCES", withdrawn,
                      HV_STATUS_NO_RESOURCES, 1);
    const uint64_t back = get64(OUTPUT_PAGE, 0) << 12;
    check_begin(&checks, "child B: the withdrawn page is back in the root's view, unchanged");
    print_value_hex("page", back);
    check_end(&checks, (back == B_EXTRA_PAGE &&
                        memory_checksum(B_EXTRA_PAGE, B_EXTRA_PAGE + 0x200000) == extra_sum) ||
                           (back == B_DEPOSIT_PAGE && !all_ones(B_DEPOSIT_PAGE)));
    memory_fill(B_MEMORY_PAGE, B_MEMORY_PAGE + 0x200000, 11);
    const uint64_t memory_sum = memory_checksum(B_MEMORY_PAGE, B_MEMORY_PAGE + 0x200000);
    check_status("child B: map a large page at 1 GiB",
                 map_pages(b, 0x40000000, MAP_LARGE_RWX, PFN(B_MEMORY_PAGE)), HV_STATUS_SUCCESS);
    check_ok(&checks, "child B: the mapped page left the root's view", all_ones(B_MEMORY_PAGE));

    /* A child that cannot run hurts nobody: one whose page tables are not memory (its
     * instructions cannot be fetched), and one whose state the CPU refuses (long-mode paging
     * without PAE), each end in an unrecoverable-exception message; the core logs them and
     * goes on. */
    check_status("child B: HvCreateVp 0", create_vp(b, 0), HV_STATUS_SUCCESS);
    uint32_t count = 0;
    check_status("child B: 64-bit mode without memory at its page tables, IDT limit 0",
                 set_long_mode(b, 0, &count), HV_STATUS_SUCCESS);
    struct message m = run_child(b);
    check_begin(&checks, "child B: no memory under its page tables: HVMSG_UNRECOVERABLE_EXCEPTION");
    print_value_hex("type", m.type);
    check_end(&checks, m.type == MESSAGE_UNRECOVERABLE);
    check_status("child B: CR4 without PAE in long mode (the CPU refuses it)",
                 set_register(b, REG_CR4, 0x200), HV_STATUS_SUCCESS);
    m = run_child(b);
    check_begin(&checks, "child B: refused entry: HVMSG_UNRECOVERABLE_EXCEPTION");
    print_value_hex("type", m.type);
    check_end(&checks, m.type == MESSAGE_UNRECOVERABLE);
    check_status("child B: HvDeletePartition (fast form)",
                 hypercall(HVCALL_DELETE_PARTITION | CALL_FAST, b, 0), HV_STATUS_SUCCESS);
    check_ok(&checks, "child B: its memory and deposit are back, unchanged",
             memory_checksum(B_MEMORY_PAGE, B_MEMORY_PAGE + 0x200000) == memory_sum &&
                 !all_ones(B_DEPOSIT_PAGE) && !all_ones(B_EXTRA_PAGE));
}

void guest_main(uint64_t memory_size, uint64_t vcpu_index, uint64_t vcpu_count) {
    uint32_t r[4];
    cpuid(0x40000003, 0, r);
    check_begin(&checks, "CPUID 0x40000003 EBX: CreatePartitions, partition id, memory pool");
    print_value_hex("ebx", r[1]);
    check_end(&checks, (r[1] & 0x7) == 0x7);

    enable_hypercalls();
    wrmsr(MSR_SIMP, SIMP_PAGE | 1);
    wrmsr(MSR_SINT0, SINT_MASKED | SINT_POLLING); /* intercept messages, no interrupt */
    wrmsr(MSR_SCONTROL, 1);

    put64(OUTPUT_PAGE, 0, 0);
    const uint64_t got_id = hypercall(HVCALL_GET_PARTITION_ID, 0, OUTPUT_PAGE);
    check_ok(&checks, "HvGetPartitionId: the root is partition 1",
             hv_status(got_id) == HV_STATUS_SUCCESS && get64(OUTPUT_PAGE, 0) == 1);

    uint64_t id = 0;
    check_status("HvCreatePartition with isolation: INVALID_PARAMETER", create_partition(0, 1, &id),
                 HV_STATUS_INVALID_PARAMETER);
    check_status("HvCreatePartition", create_partition((1ull << 13) | (1ull << 22), 0, &id),
                 HV_STATUS_SUCCESS);
    check_ok(&checks, "the child's partition id is 2", id == 2);
    check_status("HvInitializePartition of id 99: INVALID_PARTITION_ID",
                 partition_call(HVCALL_INITIALIZE_PARTITION, 99), HV_STATUS_INVALID_PARTITION_ID);
    check_status("HvInitializePartition without a deposit: INSUFFICIENT_MEMORY",
                 partition_call(HVCALL_INITIALIZE_PARTITION, id), HV_STATUS_INSUFFICIENT_MEMORY);
    check_status("HvMapGpaPages before initialization: INVALID_PARTITION_STATE",
                 map_pages(id, 0, MAP_LARGE_RWX, PFN(CHILD_PAGE)),
                 HV_STATUS_INVALID_PARTITION_STATE);

    memory_fill(DEPOSIT_PAGE, DEPOSIT_PAGE + 0x200000, 3);
    const uint64_t deposit_sum = memory_checksum(DEPOSIT_PAGE, DEPOSIT_PAGE + 0x200000);
    uint64_t page = PFN(DEPOSIT_PAGE);
    check_status_reps("HvDepositMemory: one large page", deposit(id, &page, 1), HV_STATUS_SUCCESS,
                      1);
    check_ok(&checks, "the deposited page left the root's view (reads all ones)",
             all_ones(DEPOSIT_PAGE));
    check_status_reps("the same page again: INVALID_PARAMETER", deposit(id, &page, 1),
                      HV_STATUS_INVALID_PARAMETER, 0);
    const uint64_t wrong[] = {PFN(CHILD_PAGE) + 1, PFN(0x100000000ull), PFN(0xFEE00000ull)};
    check_status_reps("a page not 2 MiB aligned: INVALID_PARAMETER", deposit(id, &wrong[0], 1),
                      HV_STATUS_INVALID_PARAMETER, 0);
    check_status_reps("a page beyond the root's memory: INVALID_PARAMETER",
                      deposit(id, &wrong[1], 1), HV_STATUS_INVALID_PARAMETER, 0);
    check_status_reps("the local APIC's page: INVALID_PARAMETER", deposit(id, &wrong[2], 1),
                      HV_STATUS_INVALID_PARAMETER, 0);
    check_status("HvInitializePartition", partition_call(HVCALL_INITIALIZE_PARTITION, id),
                 HV_STATUS_SUCCESS);
    check_status("HvInitializePartition twice: INVALID_PARTITION_STATE",
                 partition_call(HVCALL_INITIALIZE_PARTITION, id),
                 HV_STATUS_INVALID_PARTITION_STATE);
    put64(INPUT_PAGE, 0, id);
    put64(INPUT_PAGE, 8, 0);
    check_status_reps("HvWithdrawMemory while the charges need it: NO_RESOURCES",
                      hypercall(HVCALL_WITHDRAW_MEMORY | REPS(1), INPUT_PAGE, OUTPUT_PAGE),
                      HV_STATUS_NO_RESOURCES, 0);

    build_child_image(CHILD_PAGE);
    check_status("HvMapGpaPages without the large-page flag: INVALID_PARAMETER",
                 map_pages(id, 0, 0xF, PFN(CHILD_PAGE)), HV_STATUS_INVALID_PARAMETER);
    check_status("HvMapGpaPages onto the child's local APIC: INVALID_PARAMETER",
                 map_pages(id, 0xFEE00000, MAP_LARGE_RWX, PFN(CHILD_PAGE)),
                 HV_STATUS_INVALID_PARAMETER);
    check_status("HvMapGpaPages of the deposited page: INVALID_PARAMETER",
                 map_pages(id, 0, MAP_LARGE_RWX, PFN(DEPOSIT_PAGE)), HV_STATUS_INVALID_PARAMETER);
    check_status("HvMapGpaPages to partition 7: INVALID_PARTITION_ID",
                 map_pages(7, 0, MAP_LARGE_RWX, PFN(CHILD_PAGE)), HV_STATUS_INVALID_PARTITION_ID);
    check_status("HvMapGpaPages: the program's page at the child's 0",
                 map_pages(id, 0, MAP_LARGE_RWX, PFN(CHILD_PAGE)), HV_STATUS_SUCCESS);
    check_ok(&checks, "the mapped page left the root's view", all_ones(CHILD_PAGE));
    check_status("HvMapGpaPages onto a mapped address: INVALID_PARAMETER",
                 map_pages(id, 0, MAP_LARGE_RWX, PFN(B_MEMORY_PAGE)), HV_STATUS_INVALID_PARAMETER);

    check_status("HvInstallIntercept CPUID 0x13370000", install_intercept(id, 4, 2, LEAF_ANSWERED),
                 HV_STATUS_SUCCESS);
    check_status("HvInstallIntercept CPUID 0x13370001", install_intercept(id, 4, 2, LEAF_TIMED),
                 HV_STATUS_SUCCESS);
    check_status("HvInstallIntercept I/O port 0x520 (every port reaches the root)",
                 install_intercept(id, 3, 0, PORT_HELLO), HV_STATUS_SUCCESS);
    check_status("HvInstallIntercept type 5 (MMIO): INVALID_PARAMETER",
                 install_intercept(id, 1, 5, 0), HV_STATUS_INVALID_PARAMETER);
    check_status("HvCreateVp index 3: INVALID_VP_INDEX", create_vp(id, 3),
                 HV_STATUS_INVALID_VP_INDEX);
    check_status("HvCreateVp 0", create_vp(id, 0), HV_STATUS_SUCCESS);
    put64(INPUT_PAGE, 0, id);
    put64(INPUT_PAGE, 8, 1);
    check_status("HvDispatchVp of VP 1: INVALID_VP_INDEX",
                 hypercall(HVCALL_DISPATCH_VP, INPUT_PAGE, OUTPUT_PAGE),
                 HV_STATUS_INVALID_VP_INDEX);

    setup_child_vp(id);
    run_the_child(id);

    check_status_reps("HvUnmapGpaPages: the child's page back", unmap_pages(id, 0, 1),
                      HV_STATUS_SUCCESS, 1);
    check_status_reps("HvUnmapGpaPages of nothing mapped: INVALID_PARAMETER", unmap_pages(id, 0, 1),
                      HV_STATUS_INVALID_PARAMETER, 0);
    check_begin(&checks, "the page is back with the child's writes");
    print_value_hex("marker", get32(CHILD_PAGE + CHILD_DATA, 0));
    print_value_hex("hypercall_page", get32(CHILD_PAGE + 0x6000, 0));
    check_end(&checks, get32(CHILD_PAGE + CHILD_DATA, 0) == DATA_MARKER &&
                           get32(CHILD_PAGE + 0x6000, 0) == 0xFA1E0FF3u); /* ENDBR64 */
    check_status("HvDeletePartition", partition_call(HVCALL_DELETE_PARTITION, id),
                 HV_STATUS_SUCCESS);
    check_ok(&checks, "the deposit is back, unchanged",
             memory_checksum(DEPOSIT_PAGE, DEPOSIT_PAGE + 0x200000) == deposit_sum);
    check_status("HvDeletePartition twice: INVALID_PARTITION_ID",
                 partition_call(HVCALL_DELETE_PARTITION, id), HV_STATUS_INVALID_PARTITION_ID);
    check_status("HvDispatchVp of the deleted partition: INVALID_PARTITION_ID", dispatch(id).status,
                 HV_STATUS_INVALID_PARTITION_ID);

    second_child();

    /* The cost of a privileged call that does nothing but answer. */
    const uint64_t begin = rdtsc();
    for (uint32_t i = 0; i < ROUNDS; ++i)
        (void)hypercall(HVCALL_GET_PARTITION_ID, 0, OUTPUT_PAGE);
    print("root: HvGetPartitionId round trip");
    print_value("cycles", (rdtsc() - begin) / ROUNDS);
    put_char('\n');
    check_summary(&checks);
}
