// Writes one ACPI system description table into guest memory piece by piece: the variable part
// (MADT entries, XSDT pointers, AML) is appended first while its checksum accumulates, then
// finish() writes the fixed part (which starts with the SdtHeader) with the final length and
// checksum. Nothing is staged in a buffer, so a MADT for hundreds of vCPUs needs no stack.
#pragma once

#include "lib/base/error_or.hpp"
#include "vmm/acpi/tables.hpp"
#include "vmm/worker/linux/guest_memory.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::worker::linux_boot {

// Fixed: the table's leading structure, an acpi::SdtHeader or a struct beginning with one.
template <typename Fixed>
class TableStream {
public:
    TableStream(GuestMemoryWriter& memory, uint64_t base, uint64_t limit)
        : memory_(memory), base_(base), limit_(limit), cursor_(base + sizeof(Fixed)) {}

    [[nodiscard]] ErrorOr<void> append(std::span<const uint8_t> bytes) {
        if (cursor_ > limit_ || bytes.size() > limit_ - cursor_)
            return Error(ErrorCode::out_of_memory, "ACPI tables overflow their region");
        TRY(memory_.write(cursor_, bytes));
        body_sum_ = static_cast<uint8_t>(body_sum_ + acpi::checksum(bytes));
        cursor_ += bytes.size();
        return {};
    }
    template <typename T>
    [[nodiscard]] ErrorOr<void> append_object(const T& value) {
        return append(
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&value), sizeof(T)));
    }

    // Completes the header in `fixed` (length, checksum) and writes it; returns the table's end.
    [[nodiscard]] ErrorOr<uint64_t> finish(Fixed fixed) {
        if (cursor_ > limit_)
            return Error(ErrorCode::out_of_memory, "ACPI tables overflow their region");
        acpi::SdtHeader& header = *reinterpret_cast<acpi::SdtHeader*>(&fixed);
        header.length = static_cast<uint32_t>(cursor_ - base_);
        header.checksum = 0;
        const uint8_t fixed_sum = acpi::checksum(
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&fixed), sizeof(Fixed)));
        header.checksum = static_cast<uint8_t>(-(fixed_sum + body_sum_));
        TRY(memory_.write_object(base_, fixed));
        return cursor_;
    }

private:
    GuestMemoryWriter& memory_;
    uint64_t base_, limit_, cursor_;
    uint8_t body_sum_ = 0;
};

} // namespace halcyon::worker::linux_boot
