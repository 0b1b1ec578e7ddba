// The management partition's CMOS clock (ports 0x70/0x71): the host's real RTC, read-only. The
// partition's management API checks request timestamps against its wall clock, so it must see
// the host's real time, not the VMs' model (which starts at a fixed date, vm_platform.cpp).
// The index register is the partition's own (latched here); data reads go to the real CMOS
// for the clock registers 0x00-0x0D and the century byte 0x32 (zero otherwise); data writes
// are dropped (the partition may not set the host's clock or its alarms).
#pragma once

#include <stdint.h>

namespace halcyon::mgmt_host {

class HostRtc {
public:
    static constexpr uint16_t kIndexPort = 0x70;
    static constexpr uint16_t kDataPort = 0x71;

    [[nodiscard]] static bool claims(uint16_t port) {
        return port == kIndexPort || port == kDataPort;
    }
    [[nodiscard]] uint8_t read(uint16_t port);
    void write(uint16_t port, uint8_t value);

private:
    uint8_t index_ = 0x0D;
};

} // namespace halcyon::mgmt_host
