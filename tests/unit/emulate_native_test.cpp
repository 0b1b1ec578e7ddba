// The emulator against the real CPU: every supported instruction form runs natively on the host
// (in an executable page, registers and RFLAGS loaded from a struct by a small assembly
// trampoline) and through the emulator on a model guest that sees the same bytes at the same
// addresses, with the data pages randomly split between guest RAM and MMIO. Registers, RFLAGS
// and memory must come out identical.
//
// Architecturally undefined flags: the emulator produces what Intel CPUs do - AND/OR/XOR/TEST
// clear AF; BT/BTS/BTR/BTC leave OF/SF/AF/PF unchanged (ZF is documented as unchanged). On an
// Intel host they are compared like every other flag; on other vendors they are masked.
// Set HALCYON_EMULATE_NATIVE_CASES to run more (or fewer) cases per form.
//
// The form table was assembled once with `llvm-mc -triple=x86_64 -show-encoding` from the Intel
// syntax shown next to each entry.
#include "tests/unit/emulate_test_support.hpp"

#include <asm/prctl.h>
#include <cpuid.h>
#include <cstdio>
#include <cstdlib>
#include <gtest/gtest.h>
#include <random>
#include <string>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace {

using namespace halcyon;
using namespace halcyon::emulate;
using halcyon::emulate::testing::IdentityGuest;

// How the registers are constrained so that memory operands land in the data pages.
enum class Setup {
    mem,      // [rbx + r8*scale + disp]
    mem32,    // the same with 32-bit addressing: upper halves of rbx/r8 are garbage
    moffs,    // the 8-byte absolute address at the end of the encoding is patched
    rip,      // RIP-relative into the data pages
    fs,       // fs:[rbx], rbx relative to the host's FS base
    gs,       // gs:[rbx]
    reg,      // registers only (flag coverage)
    bits,     // BT* with a register bit offset in rax: a bit string around rbx
    string,   // MOVS/STOS/LODS: rsi, rdi in the data pages, small rcx, random DF
    string32, // the same with 32-bit addressing (garbage upper halves)
    stringfs, // fs: source
};

struct Form {
    const char* text;
    Setup setup;
    std::vector<uint8_t> bytes;
};

const Form kForms[] = {
    {"mov byte ptr [rbx], al", Setup::mem, {0x88, 0x03}},
    {"mov word ptr [rbx], ax", Setup::mem, {0x66, 0x89, 0x03}},
    {"mov dword ptr [rbx], eax", Setup::mem, {0x89, 0x03}},
    {"mov qword ptr [rbx], rax", Setup::mem, {0x48, 0x89, 0x03}},
    {"mov al, byte ptr [rbx]", Setup::mem, {0x8a, 0x03}},
    {"mov ax, word ptr [rbx]", Setup::mem, {0x66, 0x8b, 0x03}},
    {"mov eax, dword ptr [rbx]", Setup::mem, {0x8b, 0x03}},
    {"mov rax, qword ptr [rbx]", Setup::mem, {0x48, 0x8b, 0x03}},
    {"mov ah, byte ptr [rbx]", Setup::mem, {0x8a, 0x23}},
    {"mov byte ptr [rbx+1], ch", Setup::mem, {0x88, 0x6b, 0x01}},
    {"mov sil, byte ptr [rbx]", Setup::mem, {0x40, 0x8a, 0x33}},
    {"mov byte ptr [rbx-3], dil", Setup::mem, {0x40, 0x88, 0x7b, 0xfd}},
    {"mov r9b, byte ptr [rbx+r8*2+3]", Setup::mem, {0x46, 0x8a, 0x4c, 0x43, 0x03}},
    {"mov dword ptr [rbx+r8*4-8], r10d", Setup::mem, {0x46, 0x89, 0x54, 0x83, 0xf8}},
    {"mov r11, qword ptr [rbx+r8*8+0x20]", Setup::mem, {0x4e, 0x8b, 0x5c, 0xc3, 0x20}},
    {"mov r12w, word ptr [rbx+r8]", Setup::mem, {0x66, 0x46, 0x8b, 0x24, 0x03}},
    {"mov qword ptr [rbx+0x7f], r15", Setup::mem, {0x4c, 0x89, 0x7b, 0x7f}},
    {"mov byte ptr [rbx], 0x5a", Setup::mem, {0xc6, 0x03, 0x5a}},
    {"mov word ptr [rbx], 0x1234", Setup::mem, {0x66, 0xc7, 0x03, 0x34, 0x12}},
    {"mov dword ptr [rbx], 0x89abcdef", Setup::mem, {0xc7, 0x03, 0xef, 0xcd, 0xab, 0x89}},
    {"mov qword ptr [rbx], -5", Setup::mem, {0x48, 0xc7, 0x03, 0xfb, 0xff, 0xff, 0xff}},
    {"mov qword ptr [rbx], 0x7fffffff", Setup::mem, {0x48, 0xc7, 0x03, 0xff, 0xff, 0xff, 0x7f}},
    {"mov word ptr [rbx+r8*2], -2", Setup::mem, {0x66, 0x42, 0xc7, 0x04, 0x43, 0xfe, 0xff}},
    {"movabs al, byte ptr [0x1122334455667788]",
     Setup::moffs,
     {0xa0, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}},
    {"movabs ax, word ptr [0x1122334455667788]",
     Setup::moffs,
     {0x66, 0xa1, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}},
    {"movabs eax, dword ptr [0x1122334455667788]",
     Setup::moffs,
     {0xa1, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}},
    {"movabs rax, qword ptr [0x1122334455667788]",
     Setup::moffs,
     {0x48, 0xa1, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}},
    {"movabs byte ptr [0x1122334455667788], al",
     Setup::moffs,
     {0xa2, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}},
    {"movabs word ptr [0x1122334455667788], ax",
     Setup::moffs,
     {0x66, 0xa3, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}},
    {"movabs dword ptr [0x1122334455667788], eax",
     Setup::moffs,
     {0xa3, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}},
    {"movabs qword ptr [0x1122334455667788], rax",
     Setup::moffs,
     {0x48, 0xa3, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}},
    {"mov eax, dword ptr [rip+0x1000]", Setup::rip, {0x8b, 0x05, 0x00, 0x10, 0x00, 0x00}},
    {"mov qword ptr [rip+0x1800], rdx", Setup::rip, {0x48, 0x89, 0x15, 0x00, 0x18, 0x00, 0x00}},
    {"mov byte ptr [rip+0x1ff0], 7", Setup::rip, {0xc6, 0x05, 0xf0, 0x1f, 0x00, 0x00, 0x07}},
    {"add dword ptr [rip+0x1234], ecx", Setup::rip, {0x01, 0x0d, 0x34, 0x12, 0x00, 0x00}},
    {"movzx ecx, word ptr [rip+0x2001]", Setup::rip, {0x0f, 0xb7, 0x0d, 0x01, 0x20, 0x00, 0x00}},
    {"mov eax, dword ptr fs:[rbx]", Setup::fs, {0x64, 0x8b, 0x03}},
    {"mov qword ptr fs:[rbx], rcx", Setup::fs, {0x64, 0x48, 0x89, 0x0b}},
    {"add byte ptr fs:[rbx], dl", Setup::fs, {0x64, 0x00, 0x13}},
    {"mov rax, qword ptr gs:[rbx]", Setup::gs, {0x65, 0x48, 0x8b, 0x03}},
    {"mov word ptr gs:[rbx], si", Setup::gs, {0x65, 0x66, 0x89, 0x33}},
    {"mov eax, dword ptr [ebx]", Setup::mem32, {0x67, 0x8b, 0x03}},
    {"mov word ptr [ebx+r8d*2+4], dx", Setup::mem32, {0x67, 0x66, 0x42, 0x89, 0x54, 0x43, 0x04}},
    {"sub qword ptr [ebx], rcx", Setup::mem32, {0x67, 0x48, 0x29, 0x0b}},
    {"mov ds:[rbx], eax", Setup::mem, {0x3e, 0x89, 0x03}},
    {"mov es:[rbx], eax", Setup::mem, {0x26, 0x89, 0x03}},
    {"mov ss:[rbx], eax", Setup::mem, {0x36, 0x89, 0x03}},
    {"mov cs:[rbx], eax", Setup::mem, {0x2e, 0x89, 0x03}},
    {"movzx eax, byte ptr [rbx]", Setup::mem, {0x0f, 0xb6, 0x03}},
    {"movzx ecx, word ptr [rbx]", Setup::mem, {0x0f, 0xb7, 0x0b}},
    {"movzx rdx, byte ptr [rbx]", Setup::mem, {0x48, 0x0f, 0xb6, 0x13}},
    {"movzx r9, word ptr [rbx]", Setup::mem, {0x4c, 0x0f, 0xb7, 0x0b}},
    {"movzx si, byte ptr [rbx]", Setup::mem, {0x66, 0x0f, 0xb6, 0x33}},
    {"movzx r10w, byte ptr [rbx]", Setup::mem, {0x66, 0x44, 0x0f, 0xb6, 0x13}},
    {"movsx eax, byte ptr [rbx]", Setup::mem, {0x0f, 0xbe, 0x03}},
    {"movsx rcx, word ptr [rbx]", Setup::mem, {0x48, 0x0f, 0xbf, 0x0b}},
    {"movsx dx, byte ptr [rbx]", Setup::mem, {0x66, 0x0f, 0xbe, 0x13}},
    {"movsxd rax, dword ptr [rbx]", Setup::mem, {0x48, 0x63, 0x03}},
    {"movsx r10d, word ptr [rbx]", Setup::mem, {0x44, 0x0f, 0xbf, 0x13}},
    {"movsx r11, byte ptr [rbx]", Setup::mem, {0x4c, 0x0f, 0xbe, 0x1b}},
    {".byte 0x63, 0x0b", Setup::mem, {0x63, 0x0b}},
    {"add byte ptr [rbx], cl", Setup::mem, {0x00, 0x0b}},
    {"add word ptr [rbx], dx", Setup::mem, {0x66, 0x01, 0x13}},
    {"add dword ptr [rbx], esi", Setup::mem, {0x01, 0x33}},
    {"add qword ptr [rbx], rdi", Setup::mem, {0x48, 0x01, 0x3b}},
    {"add al, byte ptr [rbx]", Setup::mem, {0x02, 0x03}},
    {"add r9w, word ptr [rbx]", Setup::mem, {0x66, 0x44, 0x03, 0x0b}},
    {"add ecx, dword ptr [rbx]", Setup::mem, {0x03, 0x0b}},
    {"add rdx, qword ptr [rbx]", Setup::mem, {0x48, 0x03, 0x13}},
    {"add ah, byte ptr [rbx+2]", Setup::mem, {0x02, 0x63, 0x02}},
    {"add byte ptr [rbx], 0x81", Setup::mem, {0x80, 0x03, 0x81}},
    {"add word ptr [rbx], 0x7fff", Setup::mem, {0x66, 0x81, 0x03, 0xff, 0x7f}},
    {"add dword ptr [rbx], 0x80000000", Setup::mem, {0x81, 0x03, 0x00, 0x00, 0x00, 0x80}},
    {"add qword ptr [rbx], -0x12345678", Setup::mem, {0x48, 0x81, 0x03, 0x88, 0xa9, 0xcb, 0xed}},
    {"add dword ptr [rbx], 1", Setup::mem, {0x83, 0x03, 0x01}},
    {"add qword ptr [rbx], -1", Setup::mem, {0x48, 0x83, 0x03, 0xff}},
    {"add word ptr [rbx], -128", Setup::mem, {0x66, 0x83, 0x03, 0x80}},
    {"add eax, ecx", Setup::reg, {0x01, 0xc8}},
    {"add cl, dh", Setup::reg, {0x00, 0xf1}},
    {"add r10, r11", Setup::reg, {0x4d, 0x01, 0xda}},
    {"add ax, 0x8000", Setup::reg, {0x66, 0x05, 0x00, 0x80}},
    {"add rsi, 0x7f", Setup::reg, {0x48, 0x83, 0xc6, 0x7f}},
    {"lock add dword ptr [rbx], eax", Setup::mem, {0xf0, 0x01, 0x03}},
    {"adc byte ptr [rbx], cl", Setup::mem, {0x10, 0x0b}},
    {"adc word ptr [rbx], dx", Setup::mem, {0x66, 0x11, 0x13}},
    {"adc dword ptr [rbx], esi", Setup::mem, {0x11, 0x33}},
    {"adc qword ptr [rbx], rdi", Setup::mem, {0x48, 0x11, 0x3b}},
    {"adc al, byte ptr [rbx]", Setup::mem, {0x12, 0x03}},
    {"adc r9w, word ptr [rbx]", Setup::mem, {0x66, 0x44, 0x13, 0x0b}},
    {"adc ecx, dword ptr [rbx]", Setup::mem, {0x13, 0x0b}},
    {"adc rdx, qword ptr [rbx]", Setup::mem, {0x48, 0x13, 0x13}},
    {"adc ah, byte ptr [rbx+2]", Setup::mem, {0x12, 0x63, 0x02}},
    {"adc byte ptr [rbx], 0x81", Setup::mem, {0x80, 0x13, 0x81}},
    {"adc word ptr [rbx], 0x7fff", Setup::mem, {0x66, 0x81, 0x13, 0xff, 0x7f}},
    {"adc dword ptr [rbx], 0x80000000", Setup::mem, {0x81, 0x13, 0x00, 0x00, 0x00, 0x80}},
    {"adc qword ptr [rbx], -0x12345678", Setup::mem, {0x48, 0x81, 0x13, 0x88, 0xa9, 0xcb, 0xed}},
    {"adc dword ptr [rbx], 1", Setup::mem, {0x83, 0x13, 0x01}},
    {"adc qword ptr [rbx], -1", Setup::mem, {0x48, 0x83, 0x13, 0xff}},
    {"adc word ptr [rbx], -128", Setup::mem, {0x66, 0x83, 0x13, 0x80}},
    {"adc eax, ecx", Setup::reg, {0x11, 0xc8}},
    {"adc cl, dh", Setup::reg, {0x10, 0xf1}},
    {"adc r10, r11", Setup::reg, {0x4d, 0x11, 0xda}},
    {"adc ax, 0x8000", Setup::reg, {0x66, 0x15, 0x00, 0x80}},
    {"adc rsi, 0x7f", Setup::reg, {0x48, 0x83, 0xd6, 0x7f}},
    {"lock adc dword ptr [rbx], eax", Setup::mem, {0xf0, 0x11, 0x03}},
    {"sub byte ptr [rbx], cl", Setup::mem, {0x28, 0x0b}},
    {"sub word ptr [rbx], dx", Setup::mem, {0x66, 0x29, 0x13}},
    {"sub dword ptr [rbx], esi", Setup::mem, {0x29, 0x33}},
    {"sub qword ptr [rbx], rdi", Setup::mem, {0x48, 0x29, 0x3b}},
    {"sub al, byte ptr [rbx]", Setup::mem, {0x2a, 0x03}},
    {"sub r9w, word ptr [rbx]", Setup::mem, {0x66, 0x44, 0x2b, 0x0b}},
    {"sub ecx, dword ptr [rbx]", Setup::mem, {0x2b, 0x0b}},
    {"sub rdx, qword ptr [rbx]", Setup::mem, {0x48, 0x2b, 0x13}},
    {"sub ah, byte ptr [rbx+2]", Setup::mem, {0x2a, 0x63, 0x02}},
    {"sub byte ptr [rbx], 0x81", Setup::mem, {0x80, 0x2b, 0x81}},
    {"sub word ptr [rbx], 0x7fff", Setup::mem, {0x66, 0x81, 0x2b, 0xff, 0x7f}},
    {"sub dword ptr [rbx], 0x80000000", Setup::mem, {0x81, 0x2b, 0x00, 0x00, 0x00, 0x80}},
    {"sub qword ptr [rbx], -0x12345678", Setup::mem, {0x48, 0x81, 0x2b, 0x88, 0xa9, 0xcb, 0xed}},
    {"sub dword ptr [rbx], 1", Setup::mem, {0x83, 0x2b, 0x01}},
    {"sub qword ptr [rbx], -1", Setup::mem, {0x48, 0x83, 0x2b, 0xff}},
    {"sub word ptr [rbx], -128", Setup::mem, {0x66, 0x83, 0x2b, 0x80}},
    {"sub eax, ecx", Setup::reg, {0x29, 0xc8}},
    {"sub cl, dh", Setup::reg, {0x28, 0xf1}},
    {"sub r10, r11", Setup::reg, {0x4d, 0x29, 0xda}},
    {"sub ax, 0x8000", Setup::reg, {0x66, 0x2d, 0x00, 0x80}},
    {"sub rsi, 0x7f", Setup::reg, {0x48, 0x83, 0xee, 0x7f}},
    {"lock sub dword ptr [rbx], eax", Setup::mem, {0xf0, 0x29, 0x03}},
    {"sbb byte ptr [rbx], cl", Setup::mem, {0x18, 0x0b}},
    {"sbb word ptr [rbx], dx", Setup::mem, {0x66, 0x19, 0x13}},
    {"sbb dword ptr [rbx], esi", Setup::mem, {0x19, 0x33}},
    {"sbb qword ptr [rbx], rdi", Setup::mem, {0x48, 0x19, 0x3b}},
    {"sbb al, byte ptr [rbx]", Setup::mem, {0x1a, 0x03}},
    {"sbb r9w, word ptr [rbx]", Setup::mem, {0x66, 0x44, 0x1b, 0x0b}},
    {"sbb ecx, dword ptr [rbx]", Setup::mem, {0x1b, 0x0b}},
    {"sbb rdx, qword ptr [rbx]", Setup::mem, {0x48, 0x1b, 0x13}},
    {"sbb ah, byte ptr [rbx+2]", Setup::mem, {0x1a, 0x63, 0x02}},
    {"sbb byte ptr [rbx], 0x81", Setup::mem, {0x80, 0x1b, 0x81}},
    {"sbb word ptr [rbx], 0x7fff", Setup::mem, {0x66, 0x81, 0x1b, 0xff, 0x7f}},
    {"sbb dword ptr [rbx], 0x80000000", Setup::mem, {0x81, 0x1b, 0x00, 0x00, 0x00, 0x80}},
    {"sbb qword ptr [rbx], -0x12345678", Setup::mem, {0x48, 0x81, 0x1b, 0x88, 0xa9, 0xcb, 0xed}},
    {"sbb dword ptr [rbx], 1", Setup::mem, {0x83, 0x1b, 0x01}},
    {"sbb qword ptr [rbx], -1", Setup::mem, {0x48, 0x83, 0x1b, 0xff}},
    {"sbb word ptr [rbx], -128", Setup::mem, {0x66, 0x83, 0x1b, 0x80}},
    {"sbb eax, ecx", Setup::reg, {0x19, 0xc8}},
    {"sbb cl, dh", Setup::reg, {0x18, 0xf1}},
    {"sbb r10, r11", Setup::reg, {0x4d, 0x19, 0xda}},
    {"sbb ax, 0x8000", Setup::reg, {0x66, 0x1d, 0x00, 0x80}},
    {"sbb rsi, 0x7f", Setup::reg, {0x48, 0x83, 0xde, 0x7f}},
    {"lock sbb dword ptr [rbx], eax", Setup::mem, {0xf0, 0x19, 0x03}},
    {"cmp byte ptr [rbx], cl", Setup::mem, {0x38, 0x0b}},
    {"cmp word ptr [rbx], dx", Setup::mem, {0x66, 0x39, 0x13}},
    {"cmp dword ptr [rbx], esi", Setup::mem, {0x39, 0x33}},
    {"cmp qword ptr [rbx], rdi", Setup::mem, {0x48, 0x39, 0x3b}},
    {"cmp al, byte ptr [rbx]", Setup::mem, {0x3a, 0x03}},
    {"cmp r9w, word ptr [rbx]", Setup::mem, {0x66, 0x44, 0x3b, 0x0b}},
    {"cmp ecx, dword ptr [rbx]", Setup::mem, {0x3b, 0x0b}},
    {"cmp rdx, qword ptr [rbx]", Setup::mem, {0x48, 0x3b, 0x13}},
    {"cmp ah, byte ptr [rbx+2]", Setup::mem, {0x3a, 0x63, 0x02}},
    {"cmp byte ptr [rbx], 0x81", Setup::mem, {0x80, 0x3b, 0x81}},
    {"cmp word ptr [rbx], 0x7fff", Setup::mem, {0x66, 0x81, 0x3b, 0xff, 0x7f}},
    {"cmp dword ptr [rbx], 0x80000000", Setup::mem, {0x81, 0x3b, 0x00, 0x00, 0x00, 0x80}},
    {"cmp qword ptr [rbx], -0x12345678", Setup::mem, {0x48, 0x81, 0x3b, 0x88, 0xa9, 0xcb, 0xed}},
    {"cmp dword ptr [rbx], 1", Setup::mem, {0x83, 0x3b, 0x01}},
    {"cmp qword ptr [rbx], -1", Setup::mem, {0x48, 0x83, 0x3b, 0xff}},
    {"cmp word ptr [rbx], -128", Setup::mem, {0x66, 0x83, 0x3b, 0x80}},
    {"cmp eax, ecx", Setup::reg, {0x39, 0xc8}},
    {"cmp cl, dh", Setup::reg, {0x38, 0xf1}},
    {"cmp r10, r11", Setup::reg, {0x4d, 0x39, 0xda}},
    {"cmp ax, 0x8000", Setup::reg, {0x66, 0x3d, 0x00, 0x80}},
    {"cmp rsi, 0x7f", Setup::reg, {0x48, 0x83, 0xfe, 0x7f}},
    {"cmp dword ptr [rbx+r8], 0", Setup::mem, {0x42, 0x83, 0x3c, 0x03, 0x00}},
    {"and byte ptr [rbx], cl", Setup::mem, {0x20, 0x0b}},
    {"and word ptr [rbx], dx", Setup::mem, {0x66, 0x21, 0x13}},
    {"and dword ptr [rbx], esi", Setup::mem, {0x21, 0x33}},
    {"and qword ptr [rbx], rdi", Setup::mem, {0x48, 0x21, 0x3b}},
    {"and al, byte ptr [rbx]", Setup::mem, {0x22, 0x03}},
    {"and r9w, word ptr [rbx]", Setup::mem, {0x66, 0x44, 0x23, 0x0b}},
    {"and ecx, dword ptr [rbx]", Setup::mem, {0x23, 0x0b}},
    {"and rdx, qword ptr [rbx]", Setup::mem, {0x48, 0x23, 0x13}},
    {"and ah, byte ptr [rbx+2]", Setup::mem, {0x22, 0x63, 0x02}},
    {"and byte ptr [rbx], 0x81", Setup::mem, {0x80, 0x23, 0x81}},
    {"and word ptr [rbx], 0x7fff", Setup::mem, {0x66, 0x81, 0x23, 0xff, 0x7f}},
    {"and dword ptr [rbx], 0x80000000", Setup::mem, {0x81, 0x23, 0x00, 0x00, 0x00, 0x80}},
    {"and qword ptr [rbx], -0x12345678", Setup::mem, {0x48, 0x81, 0x23, 0x88, 0xa9, 0xcb, 0xed}},
    {"and dword ptr [rbx], 1", Setup::mem, {0x83, 0x23, 0x01}},
    {"and qword ptr [rbx], -1", Setup::mem, {0x48, 0x83, 0x23, 0xff}},
    {"and word ptr [rbx], -128", Setup::mem, {0x66, 0x83, 0x23, 0x80}},
    {"and eax, ecx", Setup::reg, {0x21, 0xc8}},
    {"and cl, dh", Setup::reg, {0x20, 0xf1}},
    {"and r10, r11", Setup::reg, {0x4d, 0x21, 0xda}},
    {"and ax, 0x8000", Setup::reg, {0x66, 0x25, 0x00, 0x80}},
    {"and rsi, 0x7f", Setup::reg, {0x48, 0x83, 0xe6, 0x7f}},
    {"lock and dword ptr [rbx], eax", Setup::mem, {0xf0, 0x21, 0x03}},
    {"or byte ptr [rbx], cl", Setup::mem, {0x08, 0x0b}},
    {"or word ptr [rbx], dx", Setup::mem, {0x66, 0x09, 0x13}},
    {"or dword ptr [rbx], esi", Setup::mem, {0x09, 0x33}},
    {"or qword ptr [rbx], rdi", Setup::mem, {0x48, 0x09, 0x3b}},
    {"or al, byte ptr [rbx]", Setup::mem, {0x0a, 0x03}},
    {"or r9w, word ptr [rbx]", Setup::mem, {0x66, 0x44, 0x0b, 0x0b}},
    {"or ecx, dword ptr [rbx]", Setup::mem, {0x0b, 0x0b}},
    {"or rdx, qword ptr [rbx]", Setup::mem, {0x48, 0x0b, 0x13}},
    {"or ah, byte ptr [rbx+2]", Setup::mem, {0x0a, 0x63, 0x02}},
    {"or byte ptr [rbx], 0x81", Setup::mem, {0x80, 0x0b, 0x81}},
    {"or word ptr [rbx], 0x7fff", Setup::mem, {0x66, 0x81, 0x0b, 0xff, 0x7f}},
    {"or dword ptr [rbx], 0x80000000", Setup::mem, {0x81, 0x0b, 0x00, 0x00, 0x00, 0x80}},
    {"or qword ptr [rbx], -0x12345678", Setup::mem, {0x48, 0x81, 0x0b, 0x88, 0xa9, 0xcb, 0xed}},
    {"or dword ptr [rbx], 1", Setup::mem, {0x83, 0x0b, 0x01}},
    {"or qword ptr [rbx], -1", Setup::mem, {0x48, 0x83, 0x0b, 0xff}},
    {"or word ptr [rbx], -128", Setup::mem, {0x66, 0x83, 0x0b, 0x80}},
    {"or eax, ecx", Setup::reg, {0x09, 0xc8}},
    {"or cl, dh", Setup::reg, {0x08, 0xf1}},
    {"or r10, r11", Setup::reg, {0x4d, 0x09, 0xda}},
    {"or ax, 0x8000", Setup::reg, {0x66, 0x0d, 0x00, 0x80}},
    {"or rsi, 0x7f", Setup::reg, {0x48, 0x83, 0xce, 0x7f}},
    {"lock or dword ptr [rbx], eax", Setup::mem, {0xf0, 0x09, 0x03}},
    {"xor byte ptr [rbx], cl", Setup::mem, {0x30, 0x0b}},
    {"xor word ptr [rbx], dx", Setup::mem, {0x66, 0x31, 0x13}},
    {"xor dword ptr [rbx], esi", Setup::mem, {0x31, 0x33}},
    {"xor qword ptr [rbx], rdi", Setup::mem, {0x48, 0x31, 0x3b}},
    {"xor al, byte ptr [rbx]", Setup::mem, {0x32, 0x03}},
    {"xor r9w, word ptr [rbx]", Setup::mem, {0x66, 0x44, 0x33, 0x0b}},
    {"xor ecx, dword ptr [rbx]", Setup::mem, {0x33, 0x0b}},
    {"xor rdx, qword ptr [rbx]", Setup::mem, {0x48, 0x33, 0x13}},
    {"xor ah, byte ptr [rbx+2]", Setup::mem, {0x32, 0x63, 0x02}},
    {"xor byte ptr [rbx], 0x81", Setup::mem, {0x80, 0x33, 0x81}},
    {"xor word ptr [rbx], 0x7fff", Setup::mem, {0x66, 0x81, 0x33, 0xff, 0x7f}},
    {"xor dword ptr [rbx], 0x80000000", Setup::mem, {0x81, 0x33, 0x00, 0x00, 0x00, 0x80}},
    {"xor qword ptr [rbx], -0x12345678", Setup::mem, {0x48, 0x81, 0x33, 0x88, 0xa9, 0xcb, 0xed}},
    {"xor dword ptr [rbx], 1", Setup::mem, {0x83, 0x33, 0x01}},
    {"xor qword ptr [rbx], -1", Setup::mem, {0x48, 0x83, 0x33, 0xff}},
    {"xor word ptr [rbx], -128", Setup::mem, {0x66, 0x83, 0x33, 0x80}},
    {"xor eax, ecx", Setup::reg, {0x31, 0xc8}},
    {"xor cl, dh", Setup::reg, {0x30, 0xf1}},
    {"xor r10, r11", Setup::reg, {0x4d, 0x31, 0xda}},
    {"xor ax, 0x8000", Setup::reg, {0x66, 0x35, 0x00, 0x80}},
    {"xor rsi, 0x7f", Setup::reg, {0x48, 0x83, 0xf6, 0x7f}},
    {"lock xor dword ptr [rbx], eax", Setup::mem, {0xf0, 0x31, 0x03}},
    {"test byte ptr [rbx], cl", Setup::mem, {0x84, 0x0b}},
    {"test word ptr [rbx], 0x8001", Setup::mem, {0x66, 0xf7, 0x03, 0x01, 0x80}},
    {"test dword ptr [rbx], eax", Setup::mem, {0x85, 0x03}},
    {"test qword ptr [rbx], rdx", Setup::mem, {0x48, 0x85, 0x13}},
    {"test qword ptr [rbx], -16", Setup::mem, {0x48, 0xf7, 0x03, 0xf0, 0xff, 0xff, 0xff}},
    {"test byte ptr [rbx], 0x80", Setup::mem, {0xf6, 0x03, 0x80}},
    {"test dword ptr [rbx], 0xffffffff", Setup::mem, {0xf7, 0x03, 0xff, 0xff, 0xff, 0xff}},
    {"test eax, ecx", Setup::reg, {0x85, 0xc8}},
    {"test r8b, r9b", Setup::reg, {0x45, 0x84, 0xc8}},
    {"test rax, rax", Setup::reg, {0x48, 0x85, 0xc0}},
    {"inc byte ptr [rbx]", Setup::mem, {0xfe, 0x03}},
    {"inc word ptr [rbx]", Setup::mem, {0x66, 0xff, 0x03}},
    {"inc dword ptr [rbx]", Setup::mem, {0xff, 0x03}},
    {"inc qword ptr [rbx]", Setup::mem, {0x48, 0xff, 0x03}},
    {"inc ecx", Setup::reg, {0xff, 0xc1}},
    {"inc r10b", Setup::reg, {0x41, 0xfe, 0xc2}},
    {"inc dx", Setup::reg, {0x66, 0xff, 0xc2}},
    {"dec byte ptr [rbx]", Setup::mem, {0xfe, 0x0b}},
    {"dec word ptr [rbx]", Setup::mem, {0x66, 0xff, 0x0b}},
    {"dec dword ptr [rbx]", Setup::mem, {0xff, 0x0b}},
    {"dec qword ptr [rbx]", Setup::mem, {0x48, 0xff, 0x0b}},
    {"dec ecx", Setup::reg, {0xff, 0xc9}},
    {"dec r10b", Setup::reg, {0x41, 0xfe, 0xca}},
    {"dec dx", Setup::reg, {0x66, 0xff, 0xca}},
    {"neg byte ptr [rbx]", Setup::mem, {0xf6, 0x1b}},
    {"neg word ptr [rbx]", Setup::mem, {0x66, 0xf7, 0x1b}},
    {"neg dword ptr [rbx]", Setup::mem, {0xf7, 0x1b}},
    {"neg qword ptr [rbx]", Setup::mem, {0x48, 0xf7, 0x1b}},
    {"neg ecx", Setup::reg, {0xf7, 0xd9}},
    {"neg r10b", Setup::reg, {0x41, 0xf6, 0xda}},
    {"neg dx", Setup::reg, {0x66, 0xf7, 0xda}},
    {"not byte ptr [rbx]", Setup::mem, {0xf6, 0x13}},
    {"not word ptr [rbx]", Setup::mem, {0x66, 0xf7, 0x13}},
    {"not dword ptr [rbx]", Setup::mem, {0xf7, 0x13}},
    {"not qword ptr [rbx]", Setup::mem, {0x48, 0xf7, 0x13}},
    {"not ecx", Setup::reg, {0xf7, 0xd1}},
    {"not r10b", Setup::reg, {0x41, 0xf6, 0xd2}},
    {"not dx", Setup::reg, {0x66, 0xf7, 0xd2}},
    {"lock inc qword ptr [rbx]", Setup::mem, {0xf0, 0x48, 0xff, 0x03}},
    {"lock neg word ptr [rbx]", Setup::mem, {0x66, 0xf0, 0xf7, 0x1b}},
    {"lock not byte ptr [rbx]", Setup::mem, {0xf0, 0xf6, 0x13}},
    {"xchg byte ptr [rbx], al", Setup::mem, {0x86, 0x03}},
    {"xchg word ptr [rbx], cx", Setup::mem, {0x66, 0x87, 0x0b}},
    {"xchg dword ptr [rbx], edx", Setup::mem, {0x87, 0x13}},
    {"xchg qword ptr [rbx], rsi", Setup::mem, {0x48, 0x87, 0x33}},
    {"xchg r9, qword ptr [rbx]", Setup::mem, {0x4c, 0x87, 0x0b}},
    {"lock xchg dword ptr [rbx], edi", Setup::mem, {0xf0, 0x87, 0x3b}},
    {"xchg byte ptr [rbx], ah", Setup::mem, {0x86, 0x23}},
    {"bt word ptr [rbx], 13", Setup::mem, {0x66, 0x0f, 0xba, 0x23, 0x0d}},
    {"bt dword ptr [rbx], 35", Setup::mem, {0x0f, 0xba, 0x23, 0x23}},
    {"bts qword ptr [rbx], 63", Setup::mem, {0x48, 0x0f, 0xba, 0x2b, 0x3f}},
    {"btr dword ptr [rbx], 7", Setup::mem, {0x0f, 0xba, 0x33, 0x07}},
    {"btc word ptr [rbx], 200", Setup::mem, {0x66, 0x0f, 0xba, 0x3b, 0xc8}},
    {"bts word ptr [rbx], 0", Setup::mem, {0x66, 0x0f, 0xba, 0x2b, 0x00}},
    {"btr qword ptr [rbx], 100", Setup::mem, {0x48, 0x0f, 0xba, 0x33, 0x64}},
    {"btc dword ptr [rbx], 31", Setup::mem, {0x0f, 0xba, 0x3b, 0x1f}},
    {"lock bts dword ptr [rbx], 3", Setup::mem, {0xf0, 0x0f, 0xba, 0x2b, 0x03}},
    {"bt word ptr [rbx], ax", Setup::bits, {0x66, 0x0f, 0xa3, 0x03}},
    {"bt dword ptr [rbx], eax", Setup::bits, {0x0f, 0xa3, 0x03}},
    {"bt qword ptr [rbx], rax", Setup::bits, {0x48, 0x0f, 0xa3, 0x03}},
    {"bts word ptr [rbx], ax", Setup::bits, {0x66, 0x0f, 0xab, 0x03}},
    {"bts dword ptr [rbx], eax", Setup::bits, {0x0f, 0xab, 0x03}},
    {"bts qword ptr [rbx], rax", Setup::bits, {0x48, 0x0f, 0xab, 0x03}},
    {"btr word ptr [rbx], ax", Setup::bits, {0x66, 0x0f, 0xb3, 0x03}},
    {"btr dword ptr [rbx], eax", Setup::bits, {0x0f, 0xb3, 0x03}},
    {"btr qword ptr [rbx], rax", Setup::bits, {0x48, 0x0f, 0xb3, 0x03}},
    {"btc word ptr [rbx], ax", Setup::bits, {0x66, 0x0f, 0xbb, 0x03}},
    {"btc dword ptr [rbx], eax", Setup::bits, {0x0f, 0xbb, 0x03}},
    {"btc qword ptr [rbx], rax", Setup::bits, {0x48, 0x0f, 0xbb, 0x03}},
    {"lock btc qword ptr [rbx], rax", Setup::bits, {0xf0, 0x48, 0x0f, 0xbb, 0x03}},
    {"bt eax, ecx", Setup::reg, {0x0f, 0xa3, 0xc8}},
    {"bts rdx, r9", Setup::reg, {0x4c, 0x0f, 0xab, 0xca}},
    {"btr cx, si", Setup::reg, {0x66, 0x0f, 0xb3, 0xf1}},
    {"btc r10d, 33", Setup::reg, {0x41, 0x0f, 0xba, 0xfa, 0x21}},
    {"bt r11w, 17", Setup::reg, {0x66, 0x41, 0x0f, 0xba, 0xe3, 0x11}},
    {"movsb", Setup::string, {0xa4}},
    {"rep movsb", Setup::string, {0xf3, 0xa4}},
    {"stosb", Setup::string, {0xaa}},
    {"rep stosb", Setup::string, {0xf3, 0xaa}},
    {"lodsb", Setup::string, {0xac}},
    {"rep lodsb", Setup::string, {0xf3, 0xac}},
    {"movsw", Setup::string, {0x66, 0xa5}},
    {"rep movsw", Setup::string, {0xf3, 0x66, 0xa5}},
    {"stosw", Setup::string, {0x66, 0xab}},
    {"rep stosw", Setup::string, {0xf3, 0x66, 0xab}},
    {"lodsw", Setup::string, {0x66, 0xad}},
    {"rep lodsw", Setup::string, {0xf3, 0x66, 0xad}},
    {"movsd", Setup::string, {0xa5}},
    {"rep movsd", Setup::string, {0xf3, 0xa5}},
    {"stosd", Setup::string, {0xab}},
    {"rep stosd", Setup::string, {0xf3, 0xab}},
    {"lodsd", Setup::string, {0xad}},
    {"rep lodsd", Setup::string, {0xf3, 0xad}},
    {"movsq", Setup::string, {0x48, 0xa5}},
    {"rep movsq", Setup::string, {0xf3, 0x48, 0xa5}},
    {"stosq", Setup::string, {0x48, 0xab}},
    {"rep stosq", Setup::string, {0xf3, 0x48, 0xab}},
    {"lodsq", Setup::string, {0x48, 0xad}},
    {"rep lodsq", Setup::string, {0xf3, 0x48, 0xad}},
    {"addr32 rep movsb", Setup::string32, {0x67, 0xf3, 0xa4}},
    {"addr32 movsd", Setup::string32, {0x67, 0xa5}},
    {"addr32 rep stosq", Setup::string32, {0x67, 0xf3, 0x48, 0xab}},
    {"addr32 stosw", Setup::string32, {0x67, 0x66, 0xab}},
    {"addr32 rep movsq", Setup::string32, {0x67, 0xf3, 0x48, 0xa5}},
    {"addr32 lodsd", Setup::string32, {0x67, 0xad}},
    {".byte 0xf2, 0xa4", Setup::string, {0xf2, 0xa4}},
    {".byte 0xf2, 0x48, 0xab", Setup::string, {0xf2, 0x48, 0xab}},
    {"rep movsb byte ptr es:[rdi], byte ptr fs:[rsi]", Setup::stringfs, {0xf3, 0x64, 0xa4}},
    {"movs qword ptr es:[rdi], qword ptr fs:[rsi]", Setup::stringfs, {0x48, 0x64, 0xa5}},
    {"rep lodsw word ptr fs:[rsi]", Setup::stringfs, {0xf3, 0x66, 0x64, 0xad}},
};

// ---- Native execution --------------------------------------------------------------------------

struct NativeState {
    uint64_t gpr[16]; // RSP (index 4) is neither loaded nor stored
    uint64_t rflags;
};
static_assert(offsetof(NativeState, rflags) == 128);

extern "C" void halcyon_emulate_native_run(NativeState* state);
extern "C" char halcyon_emulate_native_return[];
extern "C" uint64_t halcyon_emulate_native_target;

// Saves the callee-saved registers and the state pointer, loads every GPR but RSP and RFLAGS,
// jumps to the instruction, which jumps back to ..._return to store them. The instruction must
// not touch RSP; CLD restores the ABI's DF=0 before any compiled code runs again.
asm(R"(
    .text
    .globl halcyon_emulate_native_run
halcyon_emulate_native_run:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdi
    pushq 128(%rdi)
    popfq
    mov 0(%rdi), %rax
    mov 8(%rdi), %rcx
    mov 16(%rdi), %rdx
    mov 24(%rdi), %rbx
    mov 40(%rdi), %rbp
    mov 48(%rdi), %rsi
    mov 64(%rdi), %r8
    mov 72(%rdi), %r9
    mov 80(%rdi), %r10
    mov 88(%rdi), %r11
    mov 96(%rdi), %r12
    mov 104(%rdi), %r13
    mov 112(%rdi), %r14
    mov 120(%rdi), %r15
    mov 56(%rdi), %rdi
    jmp *halcyon_emulate_native_target(%rip)
    .globl halcyon_emulate_native_return
halcyon_emulate_native_return:
    pushfq
    push %rdi
    mov 16(%rsp), %rdi
    mov %rax, 0(%rdi)
    mov %rcx, 8(%rdi)
    mov %rdx, 16(%rdi)
    mov %rbx, 24(%rdi)
    mov %rbp, 40(%rdi)
    mov %rsi, 48(%rdi)
    mov %r8, 64(%rdi)
    mov %r9, 72(%rdi)
    mov %r10, 80(%rdi)
    mov %r11, 88(%rdi)
    mov %r12, 96(%rdi)
    mov %r13, 104(%rdi)
    mov %r14, 112(%rdi)
    mov %r15, 120(%rdi)
    popq 56(%rdi)
    popq 128(%rdi)
    cld
    add $8, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret
    .data
    .globl halcyon_emulate_native_target
    .p2align 3
halcyon_emulate_native_target:
    .quad 0
    .text
)");

constexpr size_t kPage = 4096;
constexpr size_t kDataPages = 4;

uint64_t arch_base(int code) {
    unsigned long value = 0;
    syscall(SYS_arch_prctl, code, &value);
    return value;
}

class NativeComparison : public ::testing::Test {
protected:
    void SetUp() override {
        // Below 2 GiB so that 32-bit address-size forms can reach the data natively.
        void* area = mmap(nullptr, (1 + kDataPages) * kPage, PROT_READ | PROT_WRITE | PROT_EXEC,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
        ASSERT_NE(area, MAP_FAILED);
        code_ = static_cast<uint8_t*>(area);
        data_ = code_ + kPage;
        guest_.map_identity(code_, (1 + kDataPages) * kPage);
        guest_.add_ram(code_, kPage);
        guest_.freeze_ram();
        fs_base_ = arch_base(ARCH_GET_FS);
        gs_base_ = arch_base(ARCH_GET_GS);
        if (const char* cases = getenv("HALCYON_EMULATE_NATIVE_CASES"))
            cases_per_form_ = static_cast<unsigned>(atoi(cases));
    }
    void TearDown() override { munmap(code_, (1 + kDataPages) * kPage); }

    uint64_t edge_or_random() {
        static constexpr uint64_t kEdges[] = {0,
                                              1,
                                              ~0ULL,
                                              0x7F,
                                              0x80,
                                              0xFF,
                                              0x7FFF,
                                              0x8000,
                                              0xFFFF,
                                              0x7FFF'FFFF,
                                              0x8000'0000,
                                              0xFFFF'FFFF,
                                              0x7FFF'FFFF'FFFF'FFFF,
                                              0x8000'0000'0000'0000,
                                              0x0F,
                                              0x10,
                                              0x7F7F'7F7F'7F7F'7F7F,
                                              0x8080'8080'8080'8080,
                                              0xFFFF'FFFF'FFFF'FFFE};
        if (rng_() % 3 == 0)
            return kEdges[rng_() % std::size(kEdges)];
        return rng_();
    }
    uint64_t data_address(uint64_t low, uint64_t high) {
        return reinterpret_cast<uint64_t>(data_) + low + rng_() % (high - low);
    }

    void setup_registers(const Form& form, NativeState& state, std::vector<uint8_t>& bytes);
    void run_case(const Form& form);

    std::mt19937_64 rng_{0x4841'4C43'594F'4EULL};
    IdentityGuest guest_;
    uint8_t* code_ = nullptr;
    uint8_t* data_ = nullptr;
    uint64_t fs_base_ = 0;
    uint64_t gs_base_ = 0;
    unsigned cases_per_form_ = 100;
    uint64_t cases_run_ = 0;
    unsigned failures_ = 0;
};

bool host_is_intel() {
    unsigned eax, ebx, ecx, edx;
    __get_cpuid(0, &eax, &ebx, &ecx, &edx);
    return ebx == 0x756E'6547 && edx == 0x4965'6E69 && ecx == 0x6C65'746E; // "GenuineIntel"
}

// The flags a form leaves architecturally undefined.
uint64_t undefined_flags(const char* text) {
    const std::string s(text);
    const std::string mnemonic = s.substr(s.rfind("lock ", 0) == 0 ? 5 : 0);
    for (const char* logic : {"and ", "or ", "xor ", "test "})
        if (mnemonic.rfind(logic, 0) == 0)
            return rflags::kAdjust;
    for (const char* bit : {"bt ", "bts ", "btr ", "btc "})
        if (mnemonic.rfind(bit, 0) == 0)
            return rflags::kOverflow | rflags::kSign | rflags::kAdjust | rflags::kParity;
    return 0;
}

unsigned bit_operand_size(const char* text) {
    const std::string s(text);
    if (s.find("qword") != std::string::npos)
        return 8;
    if (s.find("dword") != std::string::npos)
        return 4;
    return 2;
}

void NativeComparison::setup_registers(const Form& form, NativeState& state,
                                       std::vector<uint8_t>& bytes) {
    const uint64_t garbage_high = rng_() << 32;
    switch (form.setup) {
    case Setup::mem:
        state.gpr[kRbx] = data_address(0x100, 0x3E00);
        state.gpr[kR8] = rng_() % 16;
        break;
    case Setup::mem32:
        state.gpr[kRbx] = data_address(0x100, 0x3E00) | garbage_high;
        state.gpr[kR8] = (rng_() % 16) | (rng_() << 32);
        break;
    case Setup::moffs: {
        const uint64_t target = data_address(0, kDataPages * kPage - 8);
        memcpy(bytes.data() + bytes.size() - 8, &target, 8);
        break;
    }
    case Setup::fs:
        state.gpr[kRbx] = data_address(0x100, 0x3E00) - fs_base_;
        break;
    case Setup::gs:
        state.gpr[kRbx] = data_address(0x100, 0x3E00) - gs_base_;
        break;
    case Setup::bits: {
        state.gpr[kRbx] = data_address(0x1F80, 0x2080);
        const unsigned size = bit_operand_size(form.text);
        // A signed bit offset reaching +-0x1E00 bytes; what lies above the operand size is
        // garbage the CPU must ignore.
        int64_t offset = static_cast<int64_t>(rng_() % (0x1E00 * 16)) - 0x1E00 * 8;
        if (size == 2)
            offset = static_cast<int16_t>(rng_());
        const uint64_t low = size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
        state.gpr[kRax] = (static_cast<uint64_t>(offset) & low) | (size == 8 ? 0 : rng_() & ~low);
        break;
    }
    case Setup::string:
    case Setup::string32:
    case Setup::stringfs:
        state.gpr[kRsi] = data_address(0x300, 0x3D00);
        state.gpr[kRdi] = data_address(0x300, 0x3D00);
        state.gpr[kRcx] = rng_() % 8 == 0 ? 0 : rng_() % 25;
        if (form.setup == Setup::string32) {
            state.gpr[kRsi] |= garbage_high;
            state.gpr[kRdi] |= rng_() << 32;
            state.gpr[kRcx] |= rng_() << 32;
        }
        if (form.setup == Setup::stringfs)
            state.gpr[kRsi] -= fs_base_;
        break;
    case Setup::rip:
    case Setup::reg:
        break;
    }
}

std::string describe(const NativeState& state) {
    std::string text;
    char line[64];
    for (int i = 0; i < 16; ++i) {
        snprintf(line, sizeof line, " r%d=%016llx", i,
                 static_cast<unsigned long long>(state.gpr[i]));
        text += line;
    }
    snprintf(line, sizeof line, " rflags=%llx", static_cast<unsigned long long>(state.rflags));
    return text + line;
}

void NativeComparison::run_case(const Form& form) {
    NativeState initial{};
    for (uint64_t& value : initial.gpr)
        value = edge_or_random();
    initial.gpr[kRsp] = 0;
    initial.rflags = 0x2 | (rng_() & rflags::kArithmetic) | (rng_() % 2 ? rflags::kDirection : 0);
    std::vector<uint8_t> bytes = form.bytes;
    setup_registers(form, initial, bytes);

    // The code page: the instruction, then `jmp *0(%rip)` back to the trampoline.
    memset(code_, 0xCC, kPage);
    memcpy(code_, bytes.data(), bytes.size());
    const uint8_t jump[] = {0xFF, 0x25, 0, 0, 0, 0};
    memcpy(code_ + bytes.size(), jump, sizeof jump);
    const uint64_t back = reinterpret_cast<uint64_t>(halcyon_emulate_native_return);
    memcpy(code_ + bytes.size() + sizeof jump, &back, 8);
    std::vector<uint8_t> initial_data(kDataPages * kPage);
    for (size_t i = 0; i < initial_data.size(); i += 8) {
        const uint64_t value = edge_or_random();
        memcpy(&initial_data[i], &value, 8);
    }

    memcpy(data_, initial_data.data(), initial_data.size());
    NativeState native = initial;
    halcyon_emulate_native_target = reinterpret_cast<uint64_t>(code_);
    halcyon_emulate_native_run(&native);
    const std::vector<uint8_t> native_data(data_, data_ + initial_data.size());

    // The emulator, on the same bytes; each data page is RAM or MMIO at random.
    memcpy(data_, initial_data.data(), initial_data.size());
    guest_.clear_data_regions();
    for (size_t page = 0; page < kDataPages; ++page) {
        if (rng_() % 2)
            guest_.add_mmio(data_ + page * kPage, kPage);
        else
            guest_.add_ram(data_ + page * kPage, kPage);
    }
    GuestRegisters regs = guest_.long_mode_registers();
    memcpy(regs.gpr, initial.gpr, sizeof regs.gpr);
    regs.rflags = initial.rflags;
    regs.rip = reinterpret_cast<uint64_t>(code_);
    regs.segment[kFs].base = fs_base_;
    regs.segment[kGs].base = gs_base_;
    EmulatorOptions options;
    options.max_rep_iterations = 1 + static_cast<uint32_t>(rng_() % 10);
    for (int round = 0;; ++round) {
        auto result = emulate_instruction(regs, guest_, guest_, options);
        ASSERT_FALSE(result.is_error()) << form.text << ": " << result.error().message();
        const EmulationOutcome outcome = result.release_value();
        ASSERT_EQ(outcome.status, EmulationStatus::completed)
            << form.text << ": " << (outcome.reason ? outcome.reason : "") << describe(initial);
        if (!outcome.rep_incomplete)
            break;
        ASSERT_EQ(regs.rip, reinterpret_cast<uint64_t>(code_)) << form.text;
        ASSERT_LT(round, 100) << form.text;
    }
    ++cases_run_;

    std::string mismatch;
    for (int i = 0; i < 16; ++i) {
        if (i != kRsp && regs.gpr[i] != native.gpr[i]) {
            char line[96];
            snprintf(line, sizeof line, " gpr%d emulated %016llx native %016llx", i,
                     static_cast<unsigned long long>(regs.gpr[i]),
                     static_cast<unsigned long long>(native.gpr[i]));
            mismatch += line;
        }
    }
    static const bool intel = host_is_intel();
    const uint64_t compared =
        (rflags::kArithmetic | rflags::kDirection) & ~(intel ? 0 : undefined_flags(form.text));
    if ((regs.rflags & compared) != (native.rflags & compared)) {
        char line[96];
        snprintf(line, sizeof line, " rflags emulated %llx native %llx",
                 static_cast<unsigned long long>(regs.rflags & compared),
                 static_cast<unsigned long long>(native.rflags & compared));
        mismatch += line;
    }
    if (regs.rip != reinterpret_cast<uint64_t>(code_) + bytes.size())
        mismatch += " rip";
    for (size_t i = 0; i < native_data.size(); ++i) {
        if (data_[i] != native_data[i]) {
            char line[96];
            snprintf(line, sizeof line, " memory +%#zx emulated %02x native %02x", i, data_[i],
                     native_data[i]);
            mismatch += line;
            break;
        }
    }
    if (!mismatch.empty()) {
        ++failures_;
        ADD_FAILURE() << form.text << ":" << mismatch << "\n  initial:" << describe(initial);
    }
}

TEST_F(NativeComparison, EveryFormMatchesTheHostCpu) {
    for (const Form& form : kForms) {
        for (unsigned i = 0; i < cases_per_form_ && failures_ < 40; ++i) {
            run_case(form);
            if (HasFatalFailure())
                return;
        }
    }
    // The random page split must have exercised both paths.
    EXPECT_GT(guest_.mmio_accesses, cases_run_ / 4);
    printf("native comparison: %zu forms, %llu cases, %llu MMIO accesses\n", std::size(kForms),
           static_cast<unsigned long long>(cases_run_),
           static_cast<unsigned long long>(guest_.mmio_accesses));
}

} // namespace
