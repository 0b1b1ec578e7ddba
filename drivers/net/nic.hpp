// The one interface the management network sees, whatever the management NIC is: virtio-net
// (through VirtioNetNic below) or an Intel e1000/e1000e (drivers/net/e1000.hpp). Also the
// choice of that NIC among the PCI functions (halcyon.cfg's `nic = auto | bb:dd.f`). (The Delay
// service drivers use for bounded register polls is in device_memory.hpp, shared with
// drivers/block.)
#pragma once

#include "drivers/net/virtio_net.hpp"
#include "drivers/pci/pci.hpp"
#include "lib/base/error_or.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::drivers {

// Receives frames from Nic::poll(). The span is only valid during the call (the driver gives
// the buffer back to the device right after).
class FrameSink {
public:
    virtual void deliver(std::span<const uint8_t> frame) = 0;

protected:
    ~FrameSink() = default;
};

// Counted by every driver in the same terms.
struct NicCounters {
    uint64_t received = 0;
    uint64_t sent = 0;
    uint64_t dropped_receive = 0; // runt, oversized or errored frames
    uint64_t transmit_busy = 0;   // send refused because every buffer was in flight
};

class Nic {
public:
    [[nodiscard]] virtual const char* model() const = 0; // "virtio-net", "e1000", "e1000e"
    [[nodiscard]] virtual const MacAddress& mac() const = 0;
    [[nodiscard]] virtual bool link_up() const = 0;
    [[nodiscard]] virtual NicCounters counters() const = 0;

    // Transmit in two steps so the caller copies straight into DMA memory: a buffer of at least
    // kEthernetMaxFrame bytes (busy when every buffer is in flight), then send `length` of it.
    [[nodiscard]] virtual ErrorOr<std::span<uint8_t>> transmit_buffer() = 0;
    [[nodiscard]] virtual ErrorOr<void> transmit(size_t length) = 0;

    // Hands up to `budget` received frames to `sink`, recycles their buffers and reclaims
    // finished transmissions; returns how many frames were delivered. Never blocks.
    virtual size_t poll(FrameSink& sink, size_t budget) = 0;

    // Lets frames to the multicast address `group` through the receive filter (IPv6 neighbour
    // discovery needs its solicited-node and all-nodes groups). Filters may be wider than asked.
    [[nodiscard]] virtual ErrorOr<void> accept_multicast(const MacAddress& group) = 0;

protected:
    ~Nic() = default;
};

// virtio-net behind the common interface (the driver itself keeps its template poll()).
class VirtioNetNic final : public Nic {
public:
    [[nodiscard]] ErrorOr<void> start(pci::ConfigSpace& config, const pci::Function& function,
                                      MmioMapper& mmio, DmaAllocator& dma) {
        return driver_.start(config, function, mmio, dma);
    }
    [[nodiscard]] const VirtioNet& driver() const { return driver_; }

    [[nodiscard]] const char* model() const override { return "virtio-net"; }
    [[nodiscard]] const MacAddress& mac() const override { return driver_.mac(); }
    [[nodiscard]] bool link_up() const override { return driver_.link_up(); }
    [[nodiscard]] NicCounters counters() const override {
        const VirtioNetStats& s = driver_.stats();
        return {s.received, s.sent, s.dropped_receive, s.transmit_busy};
    }
    [[nodiscard]] ErrorOr<std::span<uint8_t>> transmit_buffer() override {
        return driver_.transmit_buffer();
    }
    [[nodiscard]] ErrorOr<void> transmit(size_t length) override {
        return driver_.transmit(length);
    }
    size_t poll(FrameSink& sink, size_t budget) override {
        return driver_.poll([&sink](std::span<const uint8_t> frame) { sink.deliver(frame); },
                            budget);
    }
    // Without VIRTIO_NET_F_CTRL_RX the device filters no multicast at all: nothing to program.
    [[nodiscard]] ErrorOr<void> accept_multicast(const MacAddress&) override { return {}; }

private:
    VirtioNet driver_;
};

// Supported management NICs, in the order `nic = auto` prefers them.
enum class NicKind : uint8_t { none, virtio_net, e1000e, e1000 };

[[nodiscard]] NicKind nic_kind(const pci::Function& function);
[[nodiscard]] const char* nic_kind_name(NicKind kind);

// "bb:dd.f" in lower-case hex (8 bytes with the terminator).
void format_pci_address(pci::Address address, char (&out)[8]);

// Picks the management NIC among `functions` for halcyon.cfg's `nic` setting: "auto" (or empty)
// takes the first virtio-net, else the first e1000e, else the first e1000; "bb:dd.f" (either
// case of hex digit) takes that function, which must be a supported NIC. Returns its index.
[[nodiscard]] ErrorOr<size_t> choose_management_nic(std::span<const pci::Function> functions,
                                                    const char* setting);

} // namespace halcyon::drivers
