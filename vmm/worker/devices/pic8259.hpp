// The PC's two cascaded 8259A programmable interrupt controllers (master at 0x20/0x21, slave
// at 0xA0/0xA1 on the master's IR2) and the edge/level control registers (ELCR, 0x4D0/0x4D1)
// of the PIIX/ICH chipsets.
//
// Halcyon's platform routes every device interrupt through the IOAPIC, so these PICs never
// deliver an interrupt to a CPU (nothing reads their INT output). They are modelled so that
// the OS's probing, initialisation and masking behave as on hardware: the ICW1-ICW4 sequence,
// OCW1 (the IMR reads back), OCW2 (EOI forms, rotation, priority), OCW3 (IRR/ISR read
// select, poll, special mask). set_irq() feeds the request inputs, so IRR and poll are
// meaningful if the platform chooses to mirror interrupt lines here.
#pragma once

#include <stdint.h>

namespace halcyon::worker {

// One 8259A.
class Pic8259 {
public:
    void write_command(uint8_t value);    // ICW1, OCW2, OCW3
    void write_data(uint8_t value);       // ICW2-4 during initialisation, OCW1 (IMR) after
    [[nodiscard]] uint8_t read_command(); // IRR or ISR (OCW3), or the poll result
    [[nodiscard]] uint8_t read_data() const { return imr_; }
    // Request input `line` (0-7); `level_sensitive` from the ELCR.
    void set_input(unsigned line, bool level, bool level_sensitive);
    // Interrupt acknowledge: the highest-priority serviceable request, moved into service
    // (-1: none). Used by poll.
    int acknowledge();
    // The highest-priority request that would be raised on INT now (-1: none).
    [[nodiscard]] int pending() const;

    [[nodiscard]] uint8_t irr() const { return irr_; }
    [[nodiscard]] uint8_t isr() const { return isr_; }
    [[nodiscard]] uint8_t imr() const { return imr_; }
    [[nodiscard]] uint8_t vector_base() const { return vector_base_; }
    [[nodiscard]] bool initialized() const { return init_step_ == 0 && vector_base_set_; }
    [[nodiscard]] bool auto_eoi() const { return (icw4_ & 0x02) != 0; }

private:
    [[nodiscard]] int highest_in_service() const;
    void end_of_interrupt(int level, bool rotate);

    uint8_t irr_ = 0;
    uint8_t isr_ = 0;
    uint8_t imr_ = 0;
    uint8_t inputs_ = 0; // current input levels, for edge detection
    uint8_t vector_base_ = 0;
    uint8_t icw1_ = 0;
    uint8_t icw3_ = 0;
    uint8_t icw4_ = 0;
    uint8_t init_step_ = 0; // 0: operational, 2/3/4: expecting that ICW
    bool vector_base_set_ = false;
    uint8_t lowest_priority_ = 7;
    bool read_isr_ = false;
    bool poll_ = false;
    bool special_mask_ = false;
    bool rotate_in_auto_eoi_ = false;
};

// The master/slave pair with the ELCR, as port devices.
class DualPic8259 {
public:
    [[nodiscard]] bool claims(uint16_t port) const;
    uint32_t read(uint16_t port, uint8_t size, uint64_t now);
    void write(uint16_t port, uint8_t size, uint32_t value, uint64_t now);
    [[nodiscard]] uint8_t read_byte(uint16_t port, uint64_t now);
    void write_byte(uint16_t port, uint8_t value, uint64_t now);

    // ISA IRQ input 0-15 (8-15 on the slave, which cascades into master IR2).
    void set_irq(unsigned irq, bool level);

    [[nodiscard]] const Pic8259& master() const { return master_; }
    [[nodiscard]] const Pic8259& slave() const { return slave_; }
    [[nodiscard]] uint16_t elcr() const { return elcr_; }

private:
    void update_cascade();

    Pic8259 master_;
    Pic8259 slave_;
    uint16_t elcr_ = 0; // bit n: ISA IRQ n is level-triggered
};

} // namespace halcyon::worker
