#include "vmm/arch/x86_64/random.hpp"

namespace halcyon::x86 {
namespace {

uint32_t cpuid_register(uint32_t leaf, int index) {
    uint32_t r[4];
    asm volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
    return r[index];
}

} // namespace

bool has_rdrand() {
    return (cpuid_register(1, 2) >> 30) & 1;
}

bool has_rdseed() {
    return cpuid_register(0, 0) >= 7 && ((cpuid_register(7, 1) >> 18) & 1);
}

bool rdrand64(uint64_t& out) {
    for (int i = 0; i < 32; ++i) {
        unsigned char ok;
        asm volatile("rdrand %0; setc %1" : "=r"(out), "=qm"(ok));
        if (ok)
            return true;
    }
    return false;
}

bool rdseed64(uint64_t& out) {
    for (int i = 0; i < 64; ++i) {
        unsigned char ok;
        asm volatile("rdseed %0; setc %1" : "=r"(out), "=qm"(ok));
        if (ok)
            return true;
        asm volatile("pause");
    }
    return false;
}

bool hardware_random64(uint64_t& out) {
    if (has_rdseed() && rdseed64(out))
        return true;
    return has_rdrand() && rdrand64(out);
}

} // namespace halcyon::x86
