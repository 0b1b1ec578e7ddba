// svm_run_guest(guest_vmcb_pa, registers, host_vmcb_pa): one trip into an SVM guest and back.
//
// VMRUN switches only part of the state (AMD APM vol. 2, 15.5): RAX, RSP, RIP, RFLAGS, the
// control registers and CS/SS/DS/ES come from the VMCB, and the host's copies go to VM_HSAVE_PA.
// Everything else is ours to switch:
//   - the general registers other than RAX/RSP: loaded from and stored to `registers`
//     (vmm::GeneralRegisters; offsets below, checked by static_asserts in svm_vcpu.cpp);
//   - FS, GS (including the GS base the core's this_cpu() depends on), TR, LDTR, KernelGsBase,
//     STAR/LSTAR/CSTAR/SFMASK and SYSENTER_*: VMSAVE the host's into its own page first, VMLOAD
//     the guest's from its VMCB, VMSAVE them back after the exit and VMLOAD the host's again.
// GIF is cleared around the switch so no interrupt or NMI can arrive while the CPU holds half
// of each world's state; VMRUN sets it for the guest and #VMEXIT clears it again. The caller
// runs with IF = 0 and gets IF = 0 back.
    .set REG_RBX, 8
    .set REG_RCX, 16
    .set REG_RDX, 24
    .set REG_RSI, 32
    .set REG_RDI, 40
    .set REG_RBP, 48
    .set REG_R8, 64
    .set REG_R9, 72
    .set REG_R10, 80
    .set REG_R11, 88
    .set REG_R12, 96
    .set REG_R13, 104
    .set REG_R14, 112
    .set REG_R15, 120

    .text
    .globl svm_run_guest
    .type svm_run_guest, @function
svm_run_guest:
    // Callee-saved registers of the SysV ABI: the guest will overwrite them.
    pushq %rbp
    movq %rsp, %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    pushq %rdx // host VMCB (for VMSAVE/VMLOAD of the host's extra state)
    pushq %rsi // where the guest's registers live

    clgi
    // With V_INTR_MASKING the host's RFLAGS.IF, as VMRUN saves it, decides whether physical
    // interrupts reach the host (as INTR exits) while the guest runs. So IF = 1 from here on;
    // GIF = 0 still holds every interrupt back until VMRUN starts the guest.
    sti
    movq %rdx, %rax
    vmsave %rax

    movq %rdi, %rax // guest VMCB: VMLOAD and VMRUN take it in RAX
    movq REG_RBX(%rsi), %rbx
    movq REG_RCX(%rsi), %rcx
    movq REG_RDX(%rsi), %rdx
    movq REG_RDI(%rsi), %rdi
    movq REG_RBP(%rsi), %rbp
    movq REG_R8(%rsi), %r8
    movq REG_R9(%rsi), %r9
    movq REG_R10(%rsi), %r10
    movq REG_R11(%rsi), %r11
    movq REG_R12(%rsi), %r12
    movq REG_R13(%rsi), %r13
    movq REG_R14(%rsi), %r14
    movq REG_R15(%rsi), %r15
    movq REG_RSI(%rsi), %rsi

    vmload %rax
    vmrun %rax
    // Back from the guest: RAX (= the guest VMCB address again, restored from the host save
    // area), RSP and RIP are the host's; every other general register is the guest's.
    vmsave %rax

    pushq %rdi
    movq 8(%rsp), %rdi // `registers`
    movq %rbx, REG_RBX(%rdi)
    movq %rcx, REG_RCX(%rdi)
    movq %rdx, REG_RDX(%rdi)
    movq %rsi, REG_RSI(%rdi)
    movq %rbp, REG_RBP(%rdi)
    movq %r8, REG_R8(%rdi)
    movq %r9, REG_R9(%rdi)
    movq %r10, REG_R10(%rdi)
    movq %r11, REG_R11(%rdi)
    movq %r12, REG_R12(%rdi)
    movq %r13, REG_R13(%rdi)
    movq %r14, REG_R14(%rdi)
    movq %r15, REG_R15(%rdi)
    popq %rax
    movq %rax, REG_RDI(%rdi)

    addq $8, %rsp // `registers`
    popq %rax     // host VMCB
    vmload %rax
    cli // the core runs with interrupts off; a pending one waits for the INTR exit handling
    stgi

    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size svm_run_guest, . - svm_run_guest

    .section .note.GNU-stack, "", @progbits
