#include "mgmt/partition/runtime/crash.hpp"

#include "lib/format/format.hpp"
#include "mgmt/partition/runtime/cpu_tables.hpp"
#include "mgmt/partition/runtime/serial.hpp"

#include <stdarg.h>
#include <stddef.h>

extern "C" uint8_t __image_start[];
extern "C" uint8_t __image_end[];

namespace halcyon::mgmt::partition {
namespace {

constexpr size_t kStackDumpWords = 32;

uint64_t g_region_base = 0;
uint64_t g_region_size = 0;
bool g_crashing = false;

// No locks and no allocation: the report must come out whatever state the program is in.
__attribute__((format(printf, 1, 2))) void report(const char* fmt, ...) {
    char line[160];
    va_list args;
    va_start(args, fmt);
    size_t length = format::vformat(line, sizeof(line) - 1, fmt, args);
    va_end(args);
    if (length > sizeof(line) - 2)
        length = sizeof(line) - 2;
    line[length++] = '\n';
    serial_write(line, length);
}

uint64_t read_cr2() {
    uint64_t value;
    asm volatile("mov %%cr2, %0" : "=r"(value));
    return value;
}

// Whether [address, address + bytes) is memory the partition can read without faulting again.
bool readable(uint64_t address, uint64_t bytes) {
    const uint64_t image = reinterpret_cast<uint64_t>(__image_start);
    const uint64_t image_end = reinterpret_cast<uint64_t>(__image_end);
    if (address >= image && address <= image_end && bytes <= image_end - address)
        return true;
    return address >= g_region_base && address - g_region_base <= g_region_size &&
           bytes <= g_region_size - (address - g_region_base);
}

void dump_stack(uint64_t rsp) {
    uint64_t words = kStackDumpWords;
    while (words > 0 && !readable(rsp, words * 8))
        words /= 2;
    if (words == 0) {
        report("mgmt: stack at 0x%llx is outside the partition's memory",
               static_cast<unsigned long long>(rsp));
        return;
    }
    const auto* stack = reinterpret_cast<const uint64_t*>(rsp);
    for (uint64_t i = 0; i < words; i += 4)
        report("mgmt: stack 0x%016llx: %016llx %016llx %016llx %016llx",
               static_cast<unsigned long long>(rsp + i * 8),
               static_cast<unsigned long long>(stack[i]),
               static_cast<unsigned long long>(stack[i + 1]),
               static_cast<unsigned long long>(stack[i + 2]),
               static_cast<unsigned long long>(stack[i + 3]));
}

} // namespace

void set_crash_memory(uint64_t region_base, uint64_t region_size) {
    g_region_base = region_base;
    g_region_size = region_size;
}

const char* exception_name(uint64_t vector) {
    static const char* const kNames[32] = {"divide error",
                                           "debug",
                                           "NMI",
                                           "breakpoint",
                                           "overflow",
                                           "bound range exceeded",
                                           "invalid opcode",
                                           "device not available",
                                           "double fault",
                                           "coprocessor segment overrun",
                                           "invalid TSS",
                                           "segment not present",
                                           "stack-segment fault",
                                           "general protection",
                                           "page fault",
                                           "reserved (15)",
                                           "x87 floating point",
                                           "alignment check",
                                           "machine check",
                                           "SIMD floating point",
                                           "virtualization",
                                           "control protection",
                                           "reserved (22)",
                                           "reserved (23)",
                                           "reserved (24)",
                                           "reserved (25)",
                                           "reserved (26)",
                                           "reserved (27)",
                                           "hypervisor injection",
                                           "VMM communication",
                                           "security",
                                           "reserved (31)"};
    return vector < 32 ? kNames[vector] : "unknown";
}

} // namespace halcyon::mgmt::partition

using halcyon::mgmt::partition::ExceptionFrame;

extern "C" void mgmt_exception(ExceptionFrame* frame) {
    using namespace halcyon::mgmt::partition;
    using ull = unsigned long long;
    if (g_crashing) {
        // A fault inside the report: stop here rather than loop.
        report("mgmt: CRASH (again: vector %llu inside the report)", ull(frame->vector));
        triple_fault();
    }
    g_crashing = true;
    report("mgmt: CRASH %s (#%llu) error=0x%llx rip=0x%llx cr2=0x%llx",
           exception_name(frame->vector), ull(frame->vector), ull(frame->error), ull(frame->rip),
           ull(read_cr2()));
    report("mgmt: rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx", ull(frame->rax),
           ull(frame->rbx), ull(frame->rcx), ull(frame->rdx));
    report("mgmt: rsi=%016llx rdi=%016llx rbp=%016llx rsp=%016llx", ull(frame->rsi),
           ull(frame->rdi), ull(frame->rbp), ull(frame->rsp));
    report("mgmt: r8=%016llx r9=%016llx r10=%016llx r11=%016llx", ull(frame->r8), ull(frame->r9),
           ull(frame->r10), ull(frame->r11));
    report("mgmt: r12=%016llx r13=%016llx r14=%016llx r15=%016llx", ull(frame->r12),
           ull(frame->r13), ull(frame->r14), ull(frame->r15));
    report("mgmt: cs=%llx ss=%llx rflags=%016llx", ull(frame->cs), ull(frame->ss),
           ull(frame->rflags));
    dump_stack(frame->rsp);
    report("mgmt: CRASH END");
    triple_fault();
}
