/* The instruction forms mmio_forms.c runs on RAM and on the MMIO scratch page: every form the
 * MMIO emulator supports (vmm/emulate/emulator.hpp), in every operand size, with register,
 * immediate and sign-extended immediate operands, both operand orders, high-byte and REX byte
 * registers, SIB addressing and moffs.
 *
 * Conventions (set up by mmio_forms.c): RBX points at the operand (page + 2048); R12 = -2 and
 * R13 = 3 are index registers; every other register holds the test value in its low bytes
 * under register-specific garbage. String forms use RSI/RDI/RCX/RAX and DF as the CPU does.
 * Each entry is X(id, instruction text, operand size, compared flags). */
#pragma once

/* Arithmetic flags compared after each form: all six (CF PF AF ZF SF OF), all but AF (which
 * AND/OR/XOR/TEST leave undefined), or only CF (BT/BTS/BTR/BTC leave the others undefined). */
#define F_ALL 0x8D5
#define F_LOGIC 0x8C5
#define F_CF 0x001

#define ALU_FORMS(X, op, flags)                                                                    \
    X(op##_rm_b, #op "b %cl, (%rbx)", 1, flags)                                                    \
    X(op##_rm_w, #op "w %cx, (%rbx)", 2, flags)                                                    \
    X(op##_rm_l, #op "l %ecx, (%rbx)", 4, flags)                                                   \
    X(op##_rm_q, #op "q %rcx, (%rbx)", 8, flags)                                                   \
    X(op##_mr_b, #op "b (%rbx), %cl", 1, flags)                                                    \
    X(op##_mr_w, #op "w (%rbx), %cx", 2, flags)                                                    \
    X(op##_mr_l, #op "l (%rbx), %ecx", 4, flags)                                                   \
    X(op##_mr_q, #op "q (%rbx), %rcx", 8, flags)                                                   \
    X(op##_ib, #op "b $0x81, (%rbx)", 1, flags)                                                    \
    X(op##_iw, #op "w $0x1234, (%rbx)", 2, flags)                                                  \
    X(op##_iw8, #op "w $-3, (%rbx)", 2, flags)                                                     \
    X(op##_il, #op "l $0x80000001, (%rbx)", 4, flags)                                              \
    X(op##_il8, #op "l $-3, (%rbx)", 4, flags)                                                     \
    X(op##_iq, #op "q $-0x789abcde, (%rbx)", 8, flags)                                             \
    X(op##_iq8, #op "q $0x7f, (%rbx)", 8, flags)

#define UNARY_FORMS(X, op)                                                                         \
    X(op##_b, #op "b (%rbx)", 1, F_ALL)                                                            \
    X(op##_w, #op "w (%rbx)", 2, F_ALL)                                                            \
    X(op##_l, #op "l (%rbx)", 4, F_ALL)                                                            \
    X(op##_q, #op "q (%rbx)", 8, F_ALL)

#define BIT_IMMEDIATE_FORMS(X, op)                                                                 \
    X(op##_iw, #op "w $13, (%rbx)", 2, F_CF)                                                       \
    X(op##_il, #op "l $5, (%rbx)", 4, F_CF)                                                        \
    X(op##_il_wrap, #op "l $37, (%rbx)", 4, F_CF)                                                  \
    X(op##_iq, #op "q $63, (%rbx)", 8, F_CF)                                                       \
    X(op##_iq_wrap, #op "q $71, (%rbx)", 8, F_CF)

/* Register bit offsets address a bit string around the operand (signed, any size). */
#define BIT_REGISTER_FORMS(X, op)                                                                  \
    X(op##_rw, #op "w %cx, (%rbx)", 2, F_CF)                                                       \
    X(op##_rl, #op "l %ecx, (%rbx)", 4, F_CF)                                                      \
    X(op##_rq, #op "q %rcx, (%rbx)", 8, F_CF)

/* Value forms: a memory operand at RBX and (mostly) a register operand. */
#define MOV_FORMS(X)                                                                               \
    X(mov_st_cl, "movb %cl, (%rbx)", 1, F_ALL)                                                     \
    X(mov_st_ah, "movb %ah, (%rbx)", 1, F_ALL)                                                     \
    X(mov_st_sil, "movb %sil, (%rbx)", 1, F_ALL)                                                   \
    X(mov_st_r9b, "movb %r9b, 8(%rbx)", 1, F_ALL)                                                  \
    X(mov_st_w, "movw %cx, (%rbx)", 2, F_ALL)                                                      \
    X(mov_st_l, "movl %ecx, (%rbx)", 4, F_ALL)                                                     \
    X(mov_st_q, "movq %rcx, (%rbx)", 8, F_ALL)                                                     \
    X(mov_st_sib, "movq %r10, 8(%rbx,%r12,4)", 8, F_ALL)                                           \
    X(mov_ld_cl, "movb (%rbx), %cl", 1, F_ALL)                                                     \
    X(mov_ld_ch, "movb (%rbx), %ch", 1, F_ALL)                                                     \
    X(mov_ld_dil, "movb (%rbx), %dil", 1, F_ALL)                                                   \
    X(mov_ld_w, "movw (%rbx), %cx", 2, F_ALL)                                                      \
    X(mov_ld_l, "movl (%rbx), %ecx", 4, F_ALL)                                                     \
    X(mov_ld_q, "movq (%rbx), %rcx", 8, F_ALL)                                                     \
    X(mov_ld_sib, "movl -24(%rbx,%r13,8), %r11d", 4, F_ALL)                                        \
    X(mov_im_b, "movb $0xa5, (%rbx)", 1, F_ALL)                                                    \
    X(mov_im_w, "movw $0x8001, (%rbx)", 2, F_ALL)                                                  \
    X(mov_im_l, "movl $0x87654321, (%rbx)", 4, F_ALL)                                              \
    X(mov_im_q, "movq $-0x12345678, (%rbx)", 8, F_ALL)                                             \
    X(movnti_l, "movnti %ecx, (%rbx)", 4, F_ALL)                                                   \
    X(movnti_q, "movnti %rcx, (%rbx)", 8, F_ALL)

#define EXTEND_FORMS(X)                                                                            \
    X(movzbw, "movzbw (%rbx), %cx", 1, F_ALL)                                                      \
    X(movzbl, "movzbl (%rbx), %ecx", 1, F_ALL)                                                     \
    X(movzbq, "movzbq (%rbx), %rcx", 1, F_ALL)                                                     \
    X(movzwl, "movzwl (%rbx), %ecx", 2, F_ALL)                                                     \
    X(movzwq, "movzwq (%rbx), %r9", 2, F_ALL)                                                      \
    X(movsbw, "movsbw (%rbx), %cx", 1, F_ALL)                                                      \
    X(movsbl, "movsbl (%rbx), %ecx", 1, F_ALL)                                                     \
    X(movsbq, "movsbq (%rbx), %rcx", 1, F_ALL)                                                     \
    X(movswl, "movswl (%rbx), %ecx", 2, F_ALL)                                                     \
    X(movswq, "movswq (%rbx), %rcx", 2, F_ALL)                                                     \
    X(movslq, "movslq (%rbx), %rcx", 4, F_ALL)

#define XCHG_FORMS(X)                                                                              \
    X(xchg_b, "xchgb %cl, (%rbx)", 1, F_ALL)                                                       \
    X(xchg_w, "xchgw %cx, (%rbx)", 2, F_ALL)                                                       \
    X(xchg_l, "xchgl %ecx, (%rbx)", 4, F_ALL)                                                      \
    X(xchg_q, "xchgq %rcx, (%rbx)", 8, F_ALL)                                                      \
    X(xchg_q_r14, "xchgq (%rbx), %r14", 8, F_ALL)

#define ARITHMETIC_FORMS(X)                                                                        \
    ALU_FORMS(X, add, F_ALL)                                                                       \
    ALU_FORMS(X, adc, F_ALL)                                                                       \
    ALU_FORMS(X, sub, F_ALL)                                                                       \
    ALU_FORMS(X, sbb, F_ALL)                                                                       \
    ALU_FORMS(X, cmp, F_ALL)                                                                       \
    ALU_FORMS(X, and, F_LOGIC)                                                                     \
    ALU_FORMS(X, or, F_LOGIC)                                                                      \
    ALU_FORMS(X, xor, F_LOGIC)                                                                     \
    X(add_ah, "addb %ah, (%rbx)", 1, F_ALL)                                                        \
    X(sub_dh, "subb (%rbx), %dh", 1, F_ALL)                                                        \
    X(xor_sil, "xorb %sil, (%rbx)", 1, F_LOGIC)                                                    \
    X(or_r9b, "orb (%rbx), %r9b", 1, F_LOGIC)                                                      \
    X(test_b, "testb %cl, (%rbx)", 1, F_LOGIC)                                                     \
    X(test_w, "testw %cx, (%rbx)", 2, F_LOGIC)                                                     \
    X(test_l, "testl %ecx, (%rbx)", 4, F_LOGIC)                                                    \
    X(test_q, "testq %rcx, (%rbx)", 8, F_LOGIC)                                                    \
    X(test_ib, "testb $0xa5, (%rbx)", 1, F_LOGIC)                                                  \
    X(test_iw, "testw $0x8001, (%rbx)", 2, F_LOGIC)                                                \
    X(test_il, "testl $0x80000001, (%rbx)", 4, F_LOGIC)                                            \
    X(test_iq, "testq $-2, (%rbx)", 8, F_LOGIC)                                                    \
    UNARY_FORMS(X, inc)                                                                            \
    UNARY_FORMS(X, dec)                                                                            \
    UNARY_FORMS(X, neg)                                                                            \
    UNARY_FORMS(X, not )

#define BIT_FORMS(X)                                                                               \
    BIT_IMMEDIATE_FORMS(X, bt)                                                                     \
    BIT_IMMEDIATE_FORMS(X, bts)                                                                    \
    BIT_IMMEDIATE_FORMS(X, btr)                                                                    \
    BIT_IMMEDIATE_FORMS(X, btc)

#define BIT_OFFSET_FORMS(X)                                                                        \
    BIT_REGISTER_FORMS(X, bt)                                                                      \
    BIT_REGISTER_FORMS(X, bts)                                                                     \
    BIT_REGISTER_FORMS(X, btr)                                                                     \
    BIT_REGISTER_FORMS(X, btc)

/* moffs forms carry the address in the instruction, so each has a RAM and an MMIO variant:
 * X(id, text before the address, text after it, size). The 0x67 forms use a 32-bit moffs. */
#define MOFFS_FORMS(X)                                                                             \
    X(moffs_ld_b, "movabsb ", ", %al", 1)                                                          \
    X(moffs_ld_w, "movabsw ", ", %ax", 2)                                                          \
    X(moffs_ld_l, "movabsl ", ", %eax", 4)                                                         \
    X(moffs_ld_q, "movabsq ", ", %rax", 8)                                                         \
    X(moffs_st_b, "movabsb %al, ", "", 1)                                                          \
    X(moffs_st_w, "movabsw %ax, ", "", 2)                                                          \
    X(moffs_st_l, "movabsl %eax, ", "", 4)                                                         \
    X(moffs_st_q, "movabsq %rax, ", "", 8)                                                         \
    X(moffs32_ld_l, ".byte 0x67, 0xa1; .long ", "", 4)                                             \
    X(moffs32_st_l, ".byte 0x67, 0xa3; .long ", "", 4)

/* String forms: X(id, text, element size, kind, repeated). */
#define STRING_MOVS 0
#define STRING_STOS 1
#define STRING_LODS 2
#define STRING_FORMS(X)                                                                            \
    X(movsb, "movsb", 1, STRING_MOVS, 0)                                                           \
    X(movsw, "movsw", 2, STRING_MOVS, 0)                                                           \
    X(movsl, "movsl", 4, STRING_MOVS, 0)                                                           \
    X(movsq, "movsq", 8, STRING_MOVS, 0)                                                           \
    X(rep_movsb, "rep movsb", 1, STRING_MOVS, 1)                                                   \
    X(rep_movsw, "rep movsw", 2, STRING_MOVS, 1)                                                   \
    X(rep_movsl, "rep movsl", 4, STRING_MOVS, 1)                                                   \
    X(rep_movsq, "rep movsq", 8, STRING_MOVS, 1)                                                   \
    X(repne_movsb, ".byte 0xf2, 0xa4", 1, STRING_MOVS, 1)                                          \
    X(addr32_rep_movsb, ".byte 0x67, 0xf3, 0xa4", 1, STRING_MOVS, 1)                               \
    X(stosb, "stosb", 1, STRING_STOS, 0)                                                           \
    X(stosw, "stosw", 2, STRING_STOS, 0)                                                           \
    X(stosl, "stosl", 4, STRING_STOS, 0)                                                           \
    X(stosq, "stosq", 8, STRING_STOS, 0)                                                           \
    X(rep_stosb, "rep stosb", 1, STRING_STOS, 1)                                                   \
    X(rep_stosw, "rep stosw", 2, STRING_STOS, 1)                                                   \
    X(rep_stosl, "rep stosl", 4, STRING_STOS, 1)                                                   \
    X(rep_stosq, "rep stosq", 8, STRING_STOS, 1)                                                   \
    X(addr32_rep_stosl, ".byte 0x67, 0xf3, 0xab", 4, STRING_STOS, 1)                               \
    X(lodsb, "lodsb", 1, STRING_LODS, 0)                                                           \
    X(lodsw, "lodsw", 2, STRING_LODS, 0)                                                           \
    X(lodsl, "lodsl", 4, STRING_LODS, 0)                                                           \
    X(lodsq, "lodsq", 8, STRING_LODS, 0)                                                           \
    X(rep_lodsb, "rep lodsb", 1, STRING_LODS, 1)                                                   \
    X(rep_lodsw, "rep lodsw", 2, STRING_LODS, 1)                                                   \
    X(rep_lodsl, "rep lodsl", 4, STRING_LODS, 1)                                                   \
    X(rep_lodsq, "rep lodsq", 8, STRING_LODS, 1)
