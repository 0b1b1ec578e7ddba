#include "drivers/block/core_storage.hpp"

#include "drivers/pci/config_space.hpp"
#include "drivers/pci/pci.hpp"
#include "mgmt/net/core_platform.hpp"
#include "vmm/core/log.hpp"

#include <new>

namespace halcyon::drivers::block {
namespace {

constexpr size_t kMaxPciFunctions = 64;

class LogSink final : public LineSink {
public:
    void line(bool problem, const char* text) override {
        if (problem)
            log::warn("%s", text);
        else
            log::info("%s", text);
    }
};

// Everything lives in static storage, built in place once (no heap).
struct State {
    explicit State(mm::FrameAllocator& frames, uint64_t tsc_hz) : memory(frames), delay(tsc_hz) {}
    mgmt::net::CoreDeviceMemory memory;
    mgmt::net::TscDelay delay;
    pci::PortConfigSpace config;
    DiskSet disks;
};

alignas(State) uint8_t g_storage[sizeof(State)];
State* g_state = nullptr;

} // namespace

DiskSet* start_core_storage(mm::FrameAllocator& frames, const CoreStorageOptions& options) {
    if (g_state != nullptr)
        return &g_state->disks;
    if (options.tsc_hz < 1'000'000) {
        log::warn("disks not probed: the TSC frequency is unknown (no bounded waits)");
        return nullptr;
    }
    State* state = new (g_storage) State(frames, options.tsc_hz);
    g_state = state;
    LogSink sink;
    pci::Function functions[kMaxPciFunctions];
    const size_t total = pci::enumerate(state->config, functions);
    const size_t count = total < kMaxPciFunctions ? total : kMaxPciFunctions;
    const size_t started =
        state->disks.probe(state->config, std::span<const pci::Function>(functions, count),
                           state->memory, state->memory, state->delay, sink);
    log::info("disks: %zu started", started);
    if (options.selftest) {
        const size_t passed = state->disks.selftest(state->memory, sink);
        log::info("disk selftest: %zu of %zu disks passed", passed, started);
    }
    return &state->disks;
}

DiskSet* core_disks() {
    return g_state != nullptr ? &g_state->disks : nullptr;
}

DmaAllocator* core_storage_dma() {
    return g_state != nullptr ? &g_state->memory : nullptr;
}

} // namespace halcyon::drivers::block
