#include "guest.h"

#define COM1 0x3F8

void put_char(char c) {
    /* Wait for an empty transmitter, as on real hardware (Halcyon's UART is always ready). */
    while ((inb(COM1 + 5) & 0x20) == 0) {
    }
    outb(COM1, (uint8_t)c);
}

static volatile uint32_t console_lock_word;

void console_lock(void) {
    while (__atomic_exchange_n(&console_lock_word, 1, __ATOMIC_ACQUIRE))
        cpu_pause();
}

void console_unlock(void) {
    __atomic_store_n(&console_lock_word, 0, __ATOMIC_RELEASE);
}

void print(const char* text) {
    while (*text)
        put_char(*text++);
}

void println(const char* text) {
    print(text);
    put_char('\n');
}

void print_hex(uint64_t value) {
    static const char digits[] = "0123456789abcdef";
    print("0x");
    bool started = false;
    for (int shift = 60; shift >= 0; shift -= 4) {
        const unsigned digit = (value >> shift) & 0xF;
        if (digit != 0 || started || shift == 0) {
            put_char(digits[digit]);
            started = true;
        }
    }
}

void print_dec(uint64_t value) {
    char buffer[21];
    int i = 20;
    buffer[i] = '\0';
    do {
        buffer[--i] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    print(&buffer[i]);
}

struct idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};

static struct idt_gate idt[256] __attribute__((aligned(16)));
extern const char trap_stub_base[], trap_stub_end[]; /* entry.S: 256 stubs of 16 bytes */
static vector_handler handlers[256];

void load_idt(void) {
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } pointer = {sizeof(idt) - 1, (uint64_t)idt};
    __asm__ volatile("lidt %0" : : "m"(pointer));
}

void install_idt(void) {
    if (trap_stub_end - trap_stub_base != 256 * 16) {
        println("guest library: the trap stubs are not 16 bytes each");
        guest_stop();
    }
    for (int i = 0; i < 256; ++i) {
        const uint64_t handler = (uint64_t)trap_stub_base + 16 * (uint64_t)i;
        idt[i] = (struct idt_gate){
            .offset_low = (uint16_t)handler,
            .selector = 0x08,
            .ist = 0,
            .type = 0x8E, /* present, DPL 0, 64-bit interrupt gate */
            .offset_mid = (uint16_t)(handler >> 16),
            .offset_high = (uint32_t)(handler >> 32),
        };
    }
    load_idt();
}

void set_vector_handler(uint8_t vector, vector_handler handler) {
    __atomic_store_n(&handlers[vector], handler, __ATOMIC_RELEASE);
}

static volatile uint8_t skip_length;
static volatile int taken_vector = -1;
static volatile uint64_t taken_error;
static volatile uint64_t taken_cr2;
static struct trap_frame taken_frame;

void expect_fault(uint8_t length) {
    skip_length = length;
    taken_vector = -1;
    taken_error = 0;
    taken_cr2 = 0;
}

struct fault_result fault_taken(void) {
    struct fault_result result = {taken_vector, taken_error, taken_frame.rip, taken_cr2,
                                  taken_frame};
    skip_length = 0;
    return result;
}

void guest_trap(struct trap_frame* frame) {
    const vector_handler handler = __atomic_load_n(&handlers[frame->vector], __ATOMIC_ACQUIRE);
    if (handler != 0) {
        handler(frame);
        return;
    }
    if (frame->vector >= 32 || skip_length == 0 || taken_vector != -1) {
        print(frame->vector >= 32 ? "unexpected interrupt " : "unexpected exception ");
        print_dec(frame->vector);
        print(" error ");
        print_hex(frame->error_code);
        print(" at ");
        print_hex(frame->rip);
        put_char('\n');
        guest_stop();
    }
    if (frame->vector == 14) {
        uint64_t cr2;
        __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
        taken_cr2 = cr2;
    }
    taken_frame = *frame;
    taken_vector = (int)frame->vector;
    taken_error = frame->error_code;
    frame->rip += skip_length;
}

void check_begin(struct checks* checks, const char* what) {
    print(checks->name);
    print(": ");
    print(what);
}

bool check_end(struct checks* checks, bool ok) {
    println(ok ? ": ok" : ": FAIL");
    ++checks->total;
    if (ok)
        ++checks->passed;
    return ok;
}

bool check_ok(struct checks* checks, const char* what, bool ok) {
    check_begin(checks, what);
    return check_end(checks, ok);
}

void check_summary(const struct checks* checks) {
    print(checks->name);
    print(checks->passed == checks->total && checks->total != 0 ? ": PASS " : ": FAIL ");
    print_dec(checks->passed);
    put_char('/');
    print_dec(checks->total);
    put_char('\n');
}

void print_value(const char* label, uint64_t value) {
    put_char(' ');
    print(label);
    put_char('=');
    print_dec(value);
}

void print_value_signed(const char* label, int64_t value) {
    put_char(' ');
    print(label);
    put_char('=');
    if (value < 0)
        put_char('-');
    print_dec(value < 0 ? 0 - (uint64_t)value : (uint64_t)value);
}

void print_value_hex(const char* label, uint64_t value) {
    put_char(' ');
    print(label);
    put_char('=');
    print_hex(value);
}

uint64_t memory_checksum(uint64_t start, uint64_t end) {
    uint64_t hash = 0xcbf29ce484222325ull;
    for (const volatile uint64_t* p = (const uint64_t*)start; (uint64_t)p < end; ++p) {
        hash ^= *p;
        hash *= 0x100000001b3ull;
    }
    return hash;
}

void memory_fill(uint64_t start, uint64_t end, uint64_t seed) {
    uint64_t value = seed;
    for (volatile uint64_t* p = (uint64_t*)start; (uint64_t)p < end; ++p) {
        value = value * 6364136223846793005ull + 1442695040888963407ull;
        *p = value;
    }
}

/* The compiler may call these for structure copies and initialisation; REP MOVSB/STOSB cannot
 * be turned back into calls to themselves. */
void* memcpy(void* destination, const void* source, size_t size) {
    void* d = destination;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(source), "+c"(size) : : "memory");
    return destination;
}

void* memset(void* destination, int value, size_t size) {
    void* d = destination;
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(size) : "a"(value) : "memory");
    return destination;
}
