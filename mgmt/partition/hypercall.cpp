#include "mgmt/partition/hypercall.hpp"

#include "mgmt/partition/abi/boot_info.hpp"

extern "C" uint8_t __image_start[];
extern "C" uint8_t __image_end[];

namespace halcyon::mgmt::partition {
namespace {

constexpr uint32_t kMsrGuestOsId = 0x40000000;
constexpr uint32_t kMsrHypercall = 0x40000001;
// TLFS guest OS identity: bit 63 = open source, OS type in bits 62:56 (0x7F: "other"),
// the rest free for the vendor. The core only requires it to be non-zero before the page is
// enabled.
constexpr uint64_t kGuestOsId = 0xFF00'0000'0000'0001ull;
constexpr uint64_t kHypercallEnable = 1;

// HV_STATUS values the core returns for this call (names for the error text).
const char* status_name(uint16_t status) {
    switch (status) {
    case 0x2:
        return "HV_STATUS_INVALID_HYPERCALL_CODE";
    case 0x3:
        return "HV_STATUS_INVALID_HYPERCALL_INPUT";
    case 0x4:
        return "HV_STATUS_INVALID_ALIGNMENT";
    case 0x5:
        return "HV_STATUS_INVALID_PARAMETER";
    case 0x6:
        return "HV_STATUS_ACCESS_DENIED";
    default:
        return "an unexpected hypercall status";
    }
}

void cpuid(uint32_t leaf, uint32_t (&regs)[4]) {
    asm volatile("cpuid"
                 : "=a"(regs[0]), "=b"(regs[1]), "=c"(regs[2]), "=d"(regs[3])
                 : "a"(leaf), "c"(0));
}

void wrmsr(uint32_t msr, uint64_t value) {
    asm volatile("wrmsr"
                 :
                 : "c"(msr), "a"(static_cast<uint32_t>(value)),
                   "d"(static_cast<uint32_t>(value >> 32)));
}

// The 64-bit hypercall convention: RCX control, RDX input GPA, R8 output GPA, result in RAX.
uint64_t hypercall(uint64_t page, uint64_t control, uint64_t input, uint64_t output) {
    uint64_t result;
    register uint64_t r8 asm("r8") = output;
    asm volatile("call *%[page]"
                 : "=a"(result), "+c"(control), "+d"(input), "+r"(r8)
                 : [page] "r"(page)
                 : "memory", "r9", "r10", "r11", "cc");
    return result;
}

void put32(uint64_t address, uint32_t value) {
    *reinterpret_cast<volatile uint32_t*>(address) = value;
}
void put64(uint64_t address, uint64_t value) {
    *reinterpret_cast<volatile uint64_t*>(address) = value;
}

} // namespace

ErrorOr<uint64_t> AddressTranslator::physical(const void* pointer, size_t size) const {
    const uint64_t address = reinterpret_cast<uint64_t>(pointer);
    const uint64_t image = reinterpret_cast<uint64_t>(__image_start);
    const uint64_t image_end = reinterpret_cast<uint64_t>(__image_end);
    if (address >= image && address <= image_end && size <= image_end - address)
        return region_base_ + kImageOffset + (address - kImageLinkBase);
    if (address >= region_base_ && address - region_base_ <= region_size_ &&
        size <= region_size_ - (address - region_base_))
        return address;
    return Error(ErrorCode::out_of_range, "a management buffer is outside the partition's RAM");
}

bool hypercall_interface_present() {
    uint32_t regs[4];
    cpuid(1, regs);
    if ((regs[2] & (1u << 31)) == 0) // CPUID.1:ECX.hypervisor
        return false;
    cpuid(0x4000'0000, regs);
    if (regs[0] < 0x4000'0003)
        return false;
    cpuid(0x4000'0003, regs);
    return (regs[0] & (1u << 5)) != 0; // privileges: AccessHypercallMsrs
}

ErrorOr<void> ManagementHypercall::enable(PartitionMemory& memory,
                                          const AddressTranslator& address) {
    // Without the interface the MSR writes would fault: say so instead (a core that does not
    // serve the management partition, or a bare-metal test harness).
    if (!hypercall_interface_present())
        return Error(ErrorCode::not_supported, "no Hyper-V hypercall MSRs (CPUID 0x40000003)");
    // Page 1: the hypercall page the core fills with its VMCALL/VMMCALL stub. Page 2: the input
    // block at offset 0 and the output block at 64 (both 8-byte aligned, as the call requires).
    const drivers::DmaRegion pages = TRY(memory.allocate_dma(2 * 4096));
    address_ = &address;
    page_ = pages.device_address;
    input_gpa_ = pages.device_address + 4096;
    output_gpa_ = input_gpa_ + 64;
    wrmsr(kMsrGuestOsId, kGuestOsId);
    wrmsr(kMsrHypercall, page_ | kHypercallEnable);
    return {};
}

ErrorOr<size_t> ManagementHypercall::call(std::span<const uint8_t> request,
                                          std::span<uint8_t> response) {
    if (page_ == 0)
        return Error(ErrorCode::not_supported, "the management hypercall is not enabled");
    if (request.size() > UINT32_MAX || response.size() > UINT32_MAX)
        return Error(ErrorCode::invalid_argument, "a management buffer is too large");
    const uint64_t request_gpa = TRY(address_->physical(request.data(), request.size()));
    const uint64_t response_gpa = TRY(address_->physical(response.data(), response.size()));
    // Input block: request_gpa, request_length, reserved, response_gpa, capacity, reserved.
    put64(input_gpa_ + 0, request_gpa);
    put32(input_gpa_ + 8, static_cast<uint32_t>(request.size()));
    put32(input_gpa_ + 12, 0);
    put64(input_gpa_ + 16, response_gpa);
    put32(input_gpa_ + 24, static_cast<uint32_t>(response.size()));
    put32(input_gpa_ + 28, 0);
    put64(output_gpa_, 0);
    const uint64_t result = hypercall(page_, kHvCallHalcyonManagement, input_gpa_, output_gpa_);
    const uint16_t status = static_cast<uint16_t>(result & 0xFFFF);
    if (status != 0)
        return Error(ErrorCode::io, status_name(status));
    const uint32_t length = *reinterpret_cast<volatile uint32_t*>(output_gpa_);
    if (length > response.size())
        return Error(ErrorCode::io, "the core's response overflows the response buffer");
    return size_t(length);
}

} // namespace halcyon::mgmt::partition
