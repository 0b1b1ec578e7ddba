// The CPU-exception path: every fault in the core is fatal, so this prints a crash report that
// lets a developer find the bug without a debugger, then stops the CPU. The report is written
// through log::EmergencyOutput, which never waits on a log lock this CPU already holds.
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/interrupts.hpp"
#include "vmm/arch/x86_64/percpu.hpp"
#include "vmm/core/log.hpp"
#include "vmm/core/panic.hpp"
#include "vmm/core/symbols.hpp"

#if HALCYON_HAVE_ZYDIS
#include <Zydis/Decoder.h>
#include <Zydis/Mnemonic.h>
#endif

extern "C" const char __text_start[];
extern "C" const char __text_end[];

namespace halcyon::x86 {
namespace {

struct VectorName {
    const char* mnemonic;
    const char* description;
};

constexpr VectorName kVectorNames[32] = {
    {"#DE", "divide error"},
    {"#DB", "debug"},
    {"NMI", "non-maskable interrupt"},
    {"#BP", "breakpoint"},
    {"#OF", "overflow"},
    {"#BR", "bound range exceeded"},
    {"#UD", "invalid opcode"},
    {"#NM", "device not available"},
    {"#DF", "double fault"},
    {"#CSO", "coprocessor segment overrun"},
    {"#TS", "invalid TSS"},
    {"#NP", "segment not present"},
    {"#SS", "stack-segment fault"},
    {"#GP", "general protection"},
    {"#PF", "page fault"},
    {"#15", "reserved"},
    {"#MF", "x87 floating-point error"},
    {"#AC", "alignment check"},
    {"#MC", "machine check"},
    {"#XM", "SIMD floating-point exception"},
    {"#VE", "virtualization exception"},
    {"#CP", "control protection"},
    {"#22", "reserved"},
    {"#23", "reserved"},
    {"#24", "reserved"},
    {"#25", "reserved"},
    {"#26", "reserved"},
    {"#27", "reserved"},
    {"#HV", "hypervisor injection"},
    {"#VC", "VMM communication"},
    {"#SX", "security exception"},
    {"#31", "reserved"},
};

constexpr uint64_t kNmiVector = 2;
constexpr uint64_t kPageFaultVector = 14;

// Per CPU: set while that CPU writes a crash report, so a fault inside the report itself ends
// in a one-line message instead of recursing.
bool g_reporting[kMaxCpus] = {};

using ull = unsigned long long;

void print_page_fault(log::EmergencyOutput& out, uint64_t error_code, uint64_t address) {
    out.print("CRASH page fault at 0x%016llx: %s, %s, %s%s%s\n", static_cast<ull>(address),
              (error_code & 1) ? "protection violation" : "not present",
              (error_code & 2) ? "write" : "read", (error_code & 4) ? "user" : "supervisor",
              (error_code & 8) ? ", reserved bit set" : "",
              (error_code & 16) ? ", instruction fetch" : "");
}

void print_instruction(log::EmergencyOutput& out, uint64_t rip) {
    const auto text_start = reinterpret_cast<uint64_t>(__text_start);
    const auto text_end = reinterpret_cast<uint64_t>(__text_end);
    // Only the core's own text is known to be mapped; reading anywhere else could fault again.
    if (rip < text_start || rip >= text_end) {
        out.print("CRASH instruction: (rip outside the core's text, not decoded)\n");
        return;
    }
    const uint64_t available = text_end - rip < 15 ? text_end - rip : 15;
    const auto* bytes = reinterpret_cast<const uint8_t*>(rip);
#if HALCYON_HAVE_ZYDIS
    ZydisDecoder decoder;
    ZydisDecodedInstruction instruction;
    if (ZYAN_SUCCESS(
            ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)) &&
        ZYAN_SUCCESS(
            ZydisDecoderDecodeInstruction(&decoder, nullptr, bytes, available, &instruction))) {
        char hex[3 * 15 + 1] = {};
        for (uint8_t i = 0; i < instruction.length; ++i) {
            static constexpr char kDigits[] = "0123456789abcdef";
            hex[i * 3] = kDigits[bytes[i] >> 4];
            hex[i * 3 + 1] = kDigits[bytes[i] & 0xF];
            hex[i * 3 + 2] = i + 1 < instruction.length ? ' ' : '\0';
        }
        out.print("CRASH instruction: %s (%u bytes: %s)\n",
                  ZydisMnemonicGetString(instruction.mnemonic), instruction.length, hex);
        return;
    }
    out.print("CRASH instruction: (not decodable) %02x %02x %02x %02x\n", bytes[0],
              available > 1 ? bytes[1] : 0, available > 2 ? bytes[2] : 0,
              available > 3 ? bytes[3] : 0);
#else
    out.print("CRASH instruction: (decoder not built) %02x %02x %02x %02x\n", bytes[0],
              available > 1 ? bytes[1] : 0, available > 2 ? bytes[2] : 0,
              available > 3 ? bytes[3] : 0);
#endif
}

void print_report(log::EmergencyOutput& out, const InterruptFrame& f, uint32_t cpu_index,
                  uint64_t cr2) {
    const VectorName& name = kVectorNames[f.vector];
    out.print("CRASH cpu%u: vector %llu (%s %s) error 0x%016llx\n", cpu_index,
              static_cast<ull>(f.vector), name.mnemonic, name.description,
              static_cast<ull>(f.error_code));
    out.print("CRASH rip=0x%016llx rsp=0x%016llx rflags=0x%016llx cr2=0x%016llx cr3=0x%016llx\n",
              static_cast<ull>(f.rip), static_cast<ull>(f.rsp), static_cast<ull>(f.rflags),
              static_cast<ull>(cr2), static_cast<ull>(read_cr3()));
    out.print("CRASH cs=0x%04llx ss=0x%04llx cr0=0x%016llx cr4=0x%016llx\n", static_cast<ull>(f.cs),
              static_cast<ull>(f.ss), static_cast<ull>(read_cr0()), static_cast<ull>(read_cr4()));
    out.print("CRASH rax=0x%016llx rbx=0x%016llx rcx=0x%016llx rdx=0x%016llx\n",
              static_cast<ull>(f.rax), static_cast<ull>(f.rbx), static_cast<ull>(f.rcx),
              static_cast<ull>(f.rdx));
    out.print("CRASH rsi=0x%016llx rdi=0x%016llx rbp=0x%016llx r8 =0x%016llx\n",
              static_cast<ull>(f.rsi), static_cast<ull>(f.rdi), static_cast<ull>(f.rbp),
              static_cast<ull>(f.r8));
    out.print("CRASH r9 =0x%016llx r10=0x%016llx r11=0x%016llx r12=0x%016llx\n",
              static_cast<ull>(f.r9), static_cast<ull>(f.r10), static_cast<ull>(f.r11),
              static_cast<ull>(f.r12));
    out.print("CRASH r13=0x%016llx r14=0x%016llx r15=0x%016llx\n", static_cast<ull>(f.r13),
              static_cast<ull>(f.r14), static_cast<ull>(f.r15));
    if (f.vector == kPageFaultVector)
        print_page_fault(out, f.error_code, cr2);
    print_instruction(out, f.rip);
    out.print("CRASH backtrace:\n");
    symbols::print_backtrace(out, "CRASH", f.rip, false, f.rbp);
    out.print("CRASH cpu%u halted\n", cpu_index);
}

} // namespace

void handle_exception(InterruptFrame& frame) {
    // Read CR2 first: a fault while reporting would overwrite it.
    const uint64_t cr2 = read_cr2();

    // An NMI after a panic or crash is the "stop" signal from the CPU that went down first.
    if (frame.vector == kNmiVector && panic_in_progress())
        halt_forever();

    const PerCpu* cpu = this_cpu_if_ready();
    const uint32_t index = cpu != nullptr ? cpu->index : 0;
    if (g_reporting[index]) {
        log::EmergencyOutput out;
        out.print("CRASH cpu%u: vector %llu at rip=0x%016llx while writing a crash report\n", index,
                  static_cast<ull>(frame.vector), static_cast<ull>(frame.rip));
        halt_forever();
    }
    g_reporting[index] = true;
    begin_panic();
    {
        log::EmergencyOutput out;
        print_report(out, frame, index, cr2);
    }
    stop_other_cpus();
    halt_forever();
}

} // namespace halcyon::x86
