// One counter of the 8254 programmable interval timer (Intel 8254 datasheet).
//
// The counter is not ticked: it remembers the PIT clock tick at which its counting element
// was loaded and derives the count and its OUT pin from the ticks elapsed since, so a read
// costs the same whether the guest polls a microsecond or an hour later. `tick` arguments are
// PIT clock ticks and never go backwards.
//
// Modes 0-5 follow the datasheet's count, OUT and gate behaviour, with these simplifications
// (invisible to PC software): counting is binary even with the BCD bit set (the bit is kept
// and reads back in the status byte); a written count starts counting at the tick of the
// write rather than at the next CLK edge (at most one tick early); in mode 3 the count steps
// by two from N even when N is odd (real parts load N-1).
#pragma once

#include <stdint.h>

namespace halcyon::worker {

class PitChannel {
public:
    static constexpr uint64_t kNever = UINT64_MAX;

    explicit PitChannel(bool gate) : gate_(gate) {}

    // A control word for this channel whose RW field is not 00 (00 is latch_count()).
    void program(uint8_t control_word);
    void latch_count(uint64_t tick);
    void latch_status(uint64_t tick);
    void write(uint8_t value, uint64_t tick);
    [[nodiscard]] uint8_t read(uint64_t tick);
    void set_gate(bool high, uint64_t tick);

    [[nodiscard]] bool gate() const { return gate_; }
    [[nodiscard]] uint8_t mode() const { return mode_; }
    [[nodiscard]] bool out(uint64_t tick) const;
    [[nodiscard]] uint16_t count(uint64_t tick) const;
    // Read-back status byte: OUT, null count, then the RW/mode/BCD bits as programmed.
    [[nodiscard]] uint8_t status(uint64_t tick) const;
    // The first tick after `after` at which OUT rises (kNever: not without a new command).
    [[nodiscard]] uint64_t next_rising_edge(uint64_t after) const;

private:
    struct Segment {
        uint64_t start;
        uint64_t period;
    };

    void settle(uint64_t tick);
    void load(uint32_t count_register, uint64_t tick);
    void start(uint64_t tick);
    [[nodiscard]] Segment segment(uint64_t tick) const;
    [[nodiscard]] uint64_t elapsed(uint64_t tick) const;

    uint8_t control_ = 0x30; // bits 5-0 of the last control word (RW, mode, BCD)
    uint8_t mode_ = 0;
    uint8_t access_ = 3; // 1: LSB only, 2: MSB only, 3: LSB then MSB
    bool gate_;

    uint64_t count_register_ = 0x10000; // the guest's count; 0 means 65536
    bool has_count_ = false;            // a count was written since the control word
    uint8_t pending_lsb_ = 0;
    bool expect_msb_ = false; // LSB/MSB write flip-flop
    bool read_msb_ = false;   // LSB/MSB read flip-flop

    bool count_latched_ = false;
    uint16_t latched_count_ = 0;
    bool status_latched_ = false;
    uint8_t latched_status_ = 0;

    bool armed_ = false;    // the counting element holds a count (modes 1/5: triggered)
    bool counting_ = false; // armed and the gate lets it count
    uint64_t start_ = 0;    // tick at which the current period started
    uint64_t period_ = 0x10000;
    uint64_t frozen_ = 0; // elapsed ticks at the moment the gate stopped counting
    // Modes 2 and 3: a count written while counting is loaded at the end of the period.
    uint64_t next_start_ = kNever;
    uint64_t next_period_ = 0;
    uint64_t null_until_ = kNever; // before this tick the count register is not loaded yet
};

} // namespace halcyon::worker
