// The benchmark scenarios: each builds a switch (or the copy-only baseline), pre-builds the frames
// it will send, and then moves bursts of 32 frames through "rx ring -> pipeline -> tx rings" on
// one core. Every row has the same harness around the measured stage (allocate + fill a frame as
// a NIC would, drain + free what comes out), so rows differ only in what happens in between.
#pragma once

#include <memory>
#include <stdint.h>
#include <string>
#include <vector>

namespace halcyon::vswitch::bench {

inline constexpr uint32_t kBurst = 32;

class Scenario {
public:
    virtual ~Scenario() = default;
    // Sends one burst; returns frames delivered (must equal kBurst: a benchmark that drops is
    // measuring drops, so the driver checks it).
    virtual uint32_t run_burst() = 0;
    virtual std::string drops_description() const { return {}; }
};

enum class Row { copy_baseline, l2_forward, acl_1000, nvgre_encap, nvgre_decap };

[[nodiscard]] const char* row_name(Row row);
[[nodiscard]] const char* row_description(Row row);
// `caches` false builds the ACL without its classification cache and NVGRE without flow caches:
// every packet takes the full path (what a cache miss costs, less the insert).
[[nodiscard]] std::unique_ptr<Scenario> make_scenario(Row row, uint32_t frame_size,
                                                      bool caches = true);

} // namespace halcyon::vswitch::bench
