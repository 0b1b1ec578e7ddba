// The VM manager's own log (what Get-VMLog serves): one line per management event ("created VM
// web", "started VM web", "VM web stopped: the guest powered off"), kept as a byte stream
// addressed by absolute offsets in a ring buffer, so a client reading from offset N learns when
// older lines dropped out. Pure; the manager also sends each line to the core's log.
#pragma once

#include <span>
#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace halcyon::worker {

// A read from an offset-addressed stream: bytes [first, next) were copied (first > the offset
// asked for means older bytes had dropped out).
struct StreamSlice {
    size_t length = 0;
    uint64_t first = 0;
    uint64_t next = 0;
};

// The bytes [since, end) of a stream whose newest `held` bytes end at absolute offset `end`,
// copied by `copy(offset, out)` (which copies out.size() bytes from that absolute offset).
template <typename Copy>
StreamSlice read_stream(uint64_t end, uint64_t held, uint64_t since, std::span<char> out,
                        Copy&& copy) {
    const uint64_t oldest = end - held;
    StreamSlice slice;
    slice.first = since < oldest ? oldest : since > end ? end : since;
    const uint64_t available = end - slice.first;
    slice.length = static_cast<size_t>(available < out.size() ? available : out.size());
    if (slice.length > 0)
        copy(slice.first, out.first(slice.length));
    slice.next = slice.first + slice.length;
    return slice;
}

class EventLog {
public:
    static constexpr size_t kCapacity = 8192;

    // Appends `line` and a newline.
    void append(std::string_view line) {
        for (char c : line)
            put(c);
        put('\n');
    }

    [[nodiscard]] StreamSlice read(uint64_t since, std::span<char> out) const {
        const uint64_t held = total_ < kCapacity ? total_ : kCapacity;
        return read_stream(total_, held, since, out, [this](uint64_t offset, std::span<char> to) {
            for (size_t i = 0; i < to.size(); ++i)
                to[i] = bytes_[(offset + i) % kCapacity];
        });
    }

    [[nodiscard]] uint64_t end() const { return total_; }

private:
    void put(char c) { bytes_[total_++ % kCapacity] = c; }

    char bytes_[kCapacity] = {};
    uint64_t total_ = 0;
};

} // namespace halcyon::worker
