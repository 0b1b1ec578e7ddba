// Guest memory for host tests: a zeroed buffer of the guest's RAM size that is both the
// loader's GuestMemoryWriter and vmm/acpi's PhysicalView, so a test can load a guest and then
// read it back exactly as the core would. Test-only (host world).
#pragma once

#include "vmm/acpi/acpi.hpp"
#include "vmm/worker/linux/guest_memory.hpp"

#include <cstring>
#include <vector>

namespace halcyon::worker::testing {

class BufferGuestMemory final : public GuestMemoryWriter, public acpi::PhysicalView {
public:
    explicit BufferGuestMemory(uint64_t bytes) : bytes_(bytes, 0) {}

    ErrorOr<void> write(uint64_t gpa, std::span<const uint8_t> data) override {
        if (!contains(gpa, data.size()))
            return Error(ErrorCode::out_of_range, "write outside guest memory");
        if (!data.empty())
            std::memcpy(bytes_.data() + gpa, data.data(), data.size());
        ++writes_;
        return {};
    }

    ErrorOr<std::span<const uint8_t>> read(uint64_t gpa, uint64_t length) const override {
        if (!contains(gpa, length))
            return Error(ErrorCode::out_of_range, "read outside guest memory");
        return std::span<const uint8_t>(bytes_.data() + gpa, length);
    }

    template <typename T>
    T load(uint64_t gpa) const {
        T value;
        std::memcpy(&value, bytes_.data() + gpa, sizeof(T));
        return value;
    }

    [[nodiscard]] const std::vector<uint8_t>& bytes() const { return bytes_; }
    [[nodiscard]] size_t writes() const { return writes_; }

private:
    [[nodiscard]] bool contains(uint64_t gpa, uint64_t length) const {
        return gpa <= bytes_.size() && length <= bytes_.size() - gpa;
    }

    std::vector<uint8_t> bytes_;
    size_t writes_ = 0;
};

} // namespace halcyon::worker::testing
