// A VM the worker runs but does not make from a kernel file: the management partition
// (vmm/mgmt_host, docs/management-partition.md). The bootstrap gives the partition its memory
// and image, adds port devices in front of the standard PC platform's, says where console lines
// go, and decides what the VM's end means (a crash is reported and the VM rebuilt).
#pragma once

#include "lib/base/error_or.hpp"
#include "vmm/partition/partition.hpp"
#include "vmm/worker/devices/console_line_sink.hpp"

#include <stdint.h>

namespace halcyon::worker {

class Vm;

class VmBootstrap {
public:
    // At build: the partition's RAM (instead of `memory` bytes at GPA 0) and anything else it
    // maps, before vCPUs and devices exist.
    [[nodiscard]] virtual ErrorOr<void> add_memory(vmm::Partition& partition) = 0;
    // After build and after every reset (RAM zeroed): the image, tables and vCPU registers.
    [[nodiscard]] virtual ErrorOr<void> load(vmm::Partition& partition) = 0;
    // Port devices ahead of the platform's: true when `port` is theirs (the value is set for
    // a read). Called with the VM's lock held.
    [[nodiscard]] virtual bool port_read(uint16_t port, uint8_t size, uint32_t& value) = 0;
    [[nodiscard]] virtual bool port_write(uint16_t port, uint8_t size, uint32_t value) = 0;
    // Where COM1's lines go (null: the default "[vm NAME] text" sink).
    [[nodiscard]] virtual ConsoleLineSink* console_lines() = 0;
    // The VM is about to stop for good (`why`: triple fault, a failed entry, ...), with its
    // lock held, on the CPU of its (only) vCPU's exit. True: the bootstrap took it over (it
    // asked for a reset with Vm::request_reset), the VM does not stop.
    [[nodiscard]] virtual bool stopping(Vm& vm, const char* why, uint32_t raw_code) = 0;

protected:
    ~VmBootstrap() = default;
};

} // namespace halcyon::worker
