#include "lib/format/format.hpp"

#include <stdint.h>

namespace halcyon::format {
namespace {

// Collects output, counting characters that no longer fit so the caller learns the full length.
class Sink {
public:
    Sink(char* buffer, size_t size) : buffer_(buffer), size_(size) {}

    void put(char c) {
        if (size_ != 0 && length_ < size_ - 1)
            buffer_[length_] = c;
        ++length_;
    }
    void repeat(char c, size_t count) {
        for (size_t i = 0; i < count; ++i)
            put(c);
    }
    size_t finish() {
        if (size_ != 0)
            buffer_[length_ < size_ ? length_ : size_ - 1] = '\0';
        return length_;
    }

private:
    char* buffer_;
    size_t size_;
    size_t length_ = 0;
};

struct Spec {
    bool left_align = false;
    bool zero_pad = false;
    bool plus_sign = false;
    bool space_sign = false;
    bool alternate = false;
    size_t width = 0;
    bool has_precision = false;
    size_t precision = 0;
};

enum class Length { none, hh, h, l, ll, z };

// Emits `text` (already converted) with a sign/prefix, zero padding to `min_digits` and padding
// to the field width, following C's rules for which padding applies when.
void emit_number(Sink& sink, const Spec& spec, const char* prefix, const char* digits,
                 size_t digit_count) {
    size_t prefix_length = 0;
    while (prefix[prefix_length])
        ++prefix_length;
    size_t precision_zeros = 0;
    if (spec.has_precision && spec.precision > digit_count)
        precision_zeros = spec.precision - digit_count;
    size_t body = prefix_length + precision_zeros + digit_count;
    size_t padding = spec.width > body ? spec.width - body : 0;
    // C ignores the '0' flag when a precision is given for integers, and under '-'.
    bool zero_fill = spec.zero_pad && !spec.left_align && !spec.has_precision;

    if (!spec.left_align && !zero_fill)
        sink.repeat(' ', padding);
    for (size_t i = 0; i < prefix_length; ++i)
        sink.put(prefix[i]);
    if (zero_fill)
        sink.repeat('0', padding);
    sink.repeat('0', precision_zeros);
    for (size_t i = 0; i < digit_count; ++i)
        sink.put(digits[i]);
    if (spec.left_align)
        sink.repeat(' ', padding);
}

// Converts `value` to digits in `base` into the end of `scratch`; returns the first digit.
char* to_digits(uint64_t value, unsigned base, bool upper, char* scratch_end) {
    const char* alphabet = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char* p = scratch_end;
    do {
        *--p = alphabet[value % base];
        value /= base;
    } while (value != 0);
    return p;
}

void format_unsigned(Sink& sink, const Spec& spec, uint64_t value, unsigned base, bool upper,
                     const char* prefix) {
    char scratch[24];
    char* end = scratch + sizeof(scratch);
    char* first = to_digits(value, base, upper, end);
    size_t count = static_cast<size_t>(end - first);
    // "%.0d" of zero prints no digits at all.
    if (spec.has_precision && spec.precision == 0 && value == 0)
        count = 0;
    emit_number(sink, spec, prefix, first, count);
}

void format_signed(Sink& sink, const Spec& spec, int64_t value) {
    // Negate in unsigned arithmetic so INT64_MIN does not overflow.
    uint64_t magnitude =
        value < 0 ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
    const char* prefix = value < 0 ? "-" : spec.plus_sign ? "+" : spec.space_sign ? " " : "";
    format_unsigned(sink, spec, magnitude, 10, false, prefix);
}

void format_string(Sink& sink, const Spec& spec, const char* text) {
    if (text == nullptr)
        text = "(null)";
    size_t length = 0;
    while ((!spec.has_precision || length < spec.precision) && text[length])
        ++length;
    size_t padding = spec.width > length ? spec.width - length : 0;
    if (!spec.left_align)
        sink.repeat(' ', padding);
    for (size_t i = 0; i < length; ++i)
        sink.put(text[i]);
    if (spec.left_align)
        sink.repeat(' ', padding);
}

uint64_t fetch_unsigned(Length length, va_list& args) {
    switch (length) {
    case Length::hh:
        return static_cast<unsigned char>(va_arg(args, unsigned int));
    case Length::h:
        return static_cast<unsigned short>(va_arg(args, unsigned int));
    case Length::l:
        return va_arg(args, unsigned long);
    case Length::ll:
        return va_arg(args, unsigned long long);
    case Length::z:
        return va_arg(args, size_t);
    case Length::none:
        break;
    }
    return va_arg(args, unsigned int);
}

int64_t fetch_signed(Length length, va_list& args) {
    switch (length) {
    case Length::hh:
        return static_cast<signed char>(va_arg(args, int));
    case Length::h:
        return static_cast<short>(va_arg(args, int));
    case Length::l:
        return va_arg(args, long);
    case Length::ll:
        return va_arg(args, long long);
    // size_t's signed counterpart has the same width as long on every target we build for.
    case Length::z:
        return static_cast<int64_t>(va_arg(args, size_t));
    case Length::none:
        break;
    }
    return va_arg(args, int);
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

} // namespace

size_t vformat(char* buffer, size_t size, const char* fmt, va_list caller_args) {
    Sink sink(buffer, size);
    va_list args;
    va_copy(args, caller_args);

    for (const char* p = fmt; *p; ++p) {
        if (*p != '%') {
            sink.put(*p);
            continue;
        }
        const char* conversion_start = p;
        ++p;

        Spec spec;
        for (;; ++p) {
            if (*p == '-')
                spec.left_align = true;
            else if (*p == '0')
                spec.zero_pad = true;
            else if (*p == '+')
                spec.plus_sign = true;
            else if (*p == ' ')
                spec.space_sign = true;
            else if (*p == '#')
                spec.alternate = true;
            else
                break;
        }
        if (*p == '*') {
            int width = va_arg(args, int);
            // A negative '*' width means left alignment, as in C.
            if (width < 0) {
                spec.left_align = true;
                width = -width;
            }
            spec.width = static_cast<size_t>(width);
            ++p;
        } else {
            while (is_digit(*p))
                spec.width = spec.width * 10 + static_cast<size_t>(*p++ - '0');
        }
        if (*p == '.') {
            ++p;
            spec.has_precision = true;
            if (*p == '*') {
                int precision = va_arg(args, int);
                // A negative '*' precision counts as no precision.
                spec.has_precision = precision >= 0;
                spec.precision = precision >= 0 ? static_cast<size_t>(precision) : 0;
                ++p;
            } else {
                while (is_digit(*p))
                    spec.precision = spec.precision * 10 + static_cast<size_t>(*p++ - '0');
            }
        }

        Length length = Length::none;
        if (p[0] == 'h' && p[1] == 'h') {
            length = Length::hh;
            p += 2;
        } else if (*p == 'h') {
            length = Length::h;
            ++p;
        } else if (p[0] == 'l' && p[1] == 'l') {
            length = Length::ll;
            p += 2;
        } else if (*p == 'l') {
            length = Length::l;
            ++p;
        } else if (*p == 'z') {
            length = Length::z;
            ++p;
        }

        switch (*p) {
        case 'd':
        case 'i':
            format_signed(sink, spec, fetch_signed(length, args));
            break;
        case 'u':
            format_unsigned(sink, spec, fetch_unsigned(length, args), 10, false, "");
            break;
        case 'x':
        case 'X': {
            bool upper = *p == 'X';
            uint64_t value = fetch_unsigned(length, args);
            // C's '#' adds 0x only to non-zero values.
            const char* prefix = spec.alternate && value != 0 ? (upper ? "0X" : "0x") : "";
            format_unsigned(sink, spec, value, 16, upper, prefix);
            break;
        }
        case 'p': {
            Spec pointer_spec;
            pointer_spec.width = spec.width;
            pointer_spec.left_align = spec.left_align;
            pointer_spec.has_precision = true;
            pointer_spec.precision = 16;
            auto value = reinterpret_cast<uintptr_t>(va_arg(args, void*));
            format_unsigned(sink, pointer_spec, value, 16, false, "0x");
            break;
        }
        case 's':
            format_string(sink, spec, va_arg(args, const char*));
            break;
        case 'c': {
            char c = static_cast<char>(va_arg(args, int));
            // Exactly one character, even a NUL; precision does not apply.
            size_t padding = spec.width > 1 ? spec.width - 1 : 0;
            if (!spec.left_align)
                sink.repeat(' ', padding);
            sink.put(c);
            if (spec.left_align)
                sink.repeat(' ', padding);
            break;
        }
        case '%':
            sink.put('%');
            break;
        case '\0':
            // A lone '%' at the end: copy it and stop.
            for (const char* q = conversion_start; q < p; ++q)
                sink.put(*q);
            --p;
            break;
        default:
            // Unsupported conversion: copy it through so the mistake is visible in the output.
            for (const char* q = conversion_start; q <= p; ++q)
                sink.put(*q);
            break;
        }
    }
    va_end(args);
    return sink.finish();
}

size_t format(char* buffer, size_t size, const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    size_t length = vformat(buffer, size, fmt, args);
    va_end(args);
    return length;
}

} // namespace halcyon::format
