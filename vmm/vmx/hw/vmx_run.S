// uint64_t vmx_run_guest(GeneralRegisters* registers, uint64_t* guest_cr2, uint64_t launched):
// one trip into a VT-x guest and back. Returns 0 after a VM exit, 1 if VMLAUNCH/VMRESUME failed
// with VMfailInvalid (CF), 2 with VMfailValid (ZF: the VM-instruction error field says why).
//
// A VM entry loads the guest's RIP, RSP, RFLAGS, control registers, segments and the MSRs the
// controls name from the VMCS; a VM exit loads the host's from the host-state area, with RSP =
// HOST_RSP and RIP = HOST_RIP = vmx_guest_exit. Everything else is ours to switch here:
//   - the general registers other than RSP: loaded from and stored to `registers`
//     (vmm::GeneralRegisters; offsets below, checked by static_asserts in vmx_vcpu.cpp);
//   - CR2, which neither direction touches.
// HOST_RSP is written right before the entry so that the exit finds the two pointers pushed
// below on its stack. The caller runs with IF = 0; a VM exit clears RFLAGS, so it gets IF = 0
// back either way. (The syscall MSRs, DR6 and XCR0 are switched by the caller in C++.)
    .set REG_RAX, 0
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
    .set VMCS_HOST_RSP, 0x6C14

    .text
    .globl vmx_run_guest
    .type vmx_run_guest, @function
vmx_run_guest:
    // Callee-saved registers of the SysV ABI: the guest will overwrite them.
    pushq %rbp
    movq %rsp, %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    pushq %rsi // guest_cr2, at 8(%rsp) when the exit arrives
    pushq %rdi // registers, at (%rsp) when the exit arrives

    movl $VMCS_HOST_RSP, %eax
    vmwrite %rsp, %rax
    jbe .Lhost_rsp_failed

    movq (%rsi), %rax
    movq %rax, %cr2

    testq %rdx, %rdx // launched? (the MOVs below keep the flags)
    movq REG_RAX(%rdi), %rax
    movq REG_RBX(%rdi), %rbx
    movq REG_RCX(%rdi), %rcx
    movq REG_RDX(%rdi), %rdx
    movq REG_RSI(%rdi), %rsi
    movq REG_RBP(%rdi), %rbp
    movq REG_R8(%rdi), %r8
    movq REG_R9(%rdi), %r9
    movq REG_R10(%rdi), %r10
    movq REG_R11(%rdi), %r11
    movq REG_R12(%rdi), %r12
    movq REG_R13(%rdi), %r13
    movq REG_R14(%rdi), %r14
    movq REG_R15(%rdi), %r15
    movq REG_RDI(%rdi), %rdi
    jnz .Lresume
    vmlaunch
    jmp .Lentry_failed
.Lresume:
    vmresume
.Lentry_failed:
    // Still on the host's stack with the guest's registers loaded; CF/ZF tell how it failed.
    movl $1, %eax
    jc .Lunwind
    movl $2, %eax
    jmp .Lunwind

.Lhost_rsp_failed:
    movl $1, %eax
    jc .Lunwind
    movl $2, %eax
.Lunwind:
    addq $16, %rsp // registers, guest_cr2
    jmp .Lrestore

    .globl vmx_guest_exit
    .type vmx_guest_exit, @function
vmx_guest_exit:
    // RSP = HOST_RSP: (%rsp) = registers, 8(%rsp) = guest_cr2. Every other register but RSP
    // and RIP is the guest's.
    pushq %rax
    movq 8(%rsp), %rax // registers
    movq %rbx, REG_RBX(%rax)
    movq %rcx, REG_RCX(%rax)
    movq %rdx, REG_RDX(%rax)
    movq %rsi, REG_RSI(%rax)
    movq %rdi, REG_RDI(%rax)
    movq %rbp, REG_RBP(%rax)
    movq %r8, REG_R8(%rax)
    movq %r9, REG_R9(%rax)
    movq %r10, REG_R10(%rax)
    movq %r11, REG_R11(%rax)
    movq %r12, REG_R12(%rax)
    movq %r13, REG_R13(%rax)
    movq %r14, REG_R14(%rax)
    movq %r15, REG_R15(%rax)
    popq %rbx // the guest's RAX
    movq %rbx, REG_RAX(%rax)
    addq $8, %rsp // registers
    popq %rsi     // guest_cr2
    movq %cr2, %rax
    movq %rax, (%rsi)
    xorl %eax, %eax
.Lrestore:
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size vmx_guest_exit, . - vmx_guest_exit
    .size vmx_run_guest, . - vmx_run_guest

    .section .note.GNU-stack, "", @progbits
