// Fakes for the device-model unit tests (tests/unit/devices_*_test.cpp): interrupt lines and
// an MSI target that record what the devices did.
#pragma once

#include "vmm/worker/devices/interrupt_line.hpp"

#include <vector>

namespace halcyon::worker::testing {

class RecordingLine final : public InterruptLine {
public:
    void set_level(bool asserted) override {
        if (asserted && !level)
            ++rising_edges;
        level = asserted;
        ++calls;
    }
    bool level = false;
    int rising_edges = 0;
    int calls = 0;
};

class RecordingMsiTarget final : public MsiTarget {
public:
    void deliver(const InterruptMessage& message) override { messages.push_back(message); }
    std::vector<InterruptMessage> messages;
};

// TSC frequencies the timing tests run with: an exact GHz value and two odd ones.
inline constexpr uint64_t kTscHz = 2'500'000'000;
inline constexpr uint64_t kOddTscHz[] = {1'795'684'123, 3'699'999'937};

} // namespace halcyon::worker::testing
