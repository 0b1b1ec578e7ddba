#include "boot/uefi/text_format.hpp"

#include <stdint.h>

namespace halcyon::loader {

namespace {

class Writer {
public:
    Writer(char* out, size_t capacity) : out_(out), capacity_(capacity) {}

    void put(char c) {
        if (capacity_ != 0 && length_ + 1 < capacity_)
            out_[length_++] = c;
    }
    void finish() {
        if (capacity_ != 0)
            out_[length_] = '\0';
    }
    [[nodiscard]] size_t length() const { return length_; }

private:
    char* out_;
    size_t capacity_;
    size_t length_ = 0;
};

void put_number(Writer& writer, uint64_t value, unsigned base, bool negative, unsigned width,
                bool zero_pad) {
    char digits[24];
    unsigned count = 0;
    do {
        unsigned digit = static_cast<unsigned>(value % base);
        digits[count++] = static_cast<char>(digit < 10 ? '0' + digit : 'a' + digit - 10);
        value /= base;
    } while (value != 0);
    unsigned length = count + (negative ? 1 : 0);
    if (negative && zero_pad)
        writer.put('-');
    for (; width > length; --width)
        writer.put(zero_pad ? '0' : ' ');
    if (negative && !zero_pad)
        writer.put('-');
    while (count > 0)
        writer.put(digits[--count]);
}

} // namespace

size_t format_text_va(char* out, size_t capacity, const char* format, va_list arguments) {
    Writer writer(out, capacity);
    for (const char* p = format; *p; ++p) {
        if (*p != '%') {
            writer.put(*p);
            continue;
        }
        ++p;
        bool zero_pad = false;
        unsigned width = 0;
        if (*p == '0') {
            zero_pad = true;
            ++p;
        }
        while (*p >= '0' && *p <= '9')
            width = width * 10 + static_cast<unsigned>(*p++ - '0');
        int longs = 0;
        while (*p == 'l' || *p == 'z') {
            // On this LLP64 target `long` is 32 bits; `long long` and size_t are 64.
            longs += *p == 'z' ? 2 : 1;
            ++p;
        }
        switch (*p) {
        case 's': {
            const char* string = va_arg(arguments, const char*);
            for (const char* s = string ? string : "(null)"; *s; ++s)
                writer.put(*s);
            break;
        }
        case 'c':
            writer.put(static_cast<char>(va_arg(arguments, int)));
            break;
        case 'd': {
            int64_t value = longs >= 2 ? va_arg(arguments, long long) : va_arg(arguments, int);
            uint64_t magnitude = value < 0 ? 0 - static_cast<uint64_t>(value) : value;
            put_number(writer, magnitude, 10, value < 0, width, zero_pad);
            break;
        }
        case 'u':
        case 'x': {
            uint64_t value = longs >= 2 ? va_arg(arguments, unsigned long long)
                                        : va_arg(arguments, unsigned int);
            put_number(writer, value, *p == 'u' ? 10 : 16, false, width, zero_pad);
            break;
        }
        case '%':
            writer.put('%');
            break;
        case '\0':
            --p;
            break; // a lone '%' at the end
        default:
            writer.put('%');
            writer.put(*p);
            break;
        }
    }
    writer.finish();
    return writer.length();
}

size_t format_text(char* out, size_t capacity, const char* format, ...) {
    va_list arguments;
    va_start(arguments, format);
    size_t length = format_text_va(out, capacity, format, arguments);
    va_end(arguments);
    return length;
}

} // namespace halcyon::loader
