// Random numbers from the CPU (RDSEED, else RDRAND). Both instructions may transiently fail;
// each call retries a bounded number of times and says whether it got a value, so a caller that
// needs unpredictability (keys) can refuse, and one that needs only uniqueness (GUIDs) can fall
// back on its own.
#pragma once

#include <stdint.h>

namespace halcyon::x86 {

[[nodiscard]] bool has_rdrand();
[[nodiscard]] bool has_rdseed();
[[nodiscard]] bool rdrand64(uint64_t& out);
[[nodiscard]] bool rdseed64(uint64_t& out);
// RDSEED if the CPU has it, else RDRAND; false when neither produced a value.
[[nodiscard]] bool hardware_random64(uint64_t& out);

} // namespace halcyon::x86
