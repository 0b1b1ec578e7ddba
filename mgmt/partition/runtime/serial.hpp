// COM1 (I/O port 0x3F8) output for the management partition. The core models a 16550 there for
// this partition and prints every line it receives verbatim on the host console (the contract in
// docs/management-partition.md), so the UART is used as the plainest possible byte sink: no
// interrupts, no FIFO tuning, just "wait for THR empty, write the byte".
#pragma once

#include <stddef.h>

namespace halcyon::mgmt::partition {

// Writes `length` bytes ("\n" ends a line; the core's console adds nothing).
void serial_write(const char* text, size_t length);

} // namespace halcyon::mgmt::partition
