// The few C library functions that freestanding Halcyon code calls (directly, or implicitly
// through the compiler lowering struct copies and libc++'s char_traits). Built for the core and
// the UEFI loader only; host builds use the real C library.
#include <stddef.h>
#include <stdint.h>

extern "C" {

void* memcpy(void* destination, const void* source, size_t count) {
    auto* d = static_cast<unsigned char*>(destination);
    const auto* s = static_cast<const unsigned char*>(source);
    while (count--)
        *d++ = *s++;
    return destination;
}

void* memmove(void* destination, const void* source, size_t count) {
    auto* d = static_cast<unsigned char*>(destination);
    const auto* s = static_cast<const unsigned char*>(source);
    if (d == s || count == 0)
        return destination;
    if (d < s) {
        while (count--)
            *d++ = *s++;
    } else {
        d += count;
        s += count;
        while (count--)
            *--d = *--s;
    }
    return destination;
}

void* memset(void* destination, int value, size_t count) {
    auto* d = static_cast<unsigned char*>(destination);
    while (count--)
        *d++ = static_cast<unsigned char>(value);
    return destination;
}

int memcmp(const void* left, const void* right, size_t count) {
    const auto* a = static_cast<const unsigned char*>(left);
    const auto* b = static_cast<const unsigned char*>(right);
    for (; count; --count, ++a, ++b) {
        if (*a != *b)
            return *a < *b ? -1 : 1;
    }
    return 0;
}

void* memchr(const void* haystack, int needle, size_t count) {
    const auto* p = static_cast<const unsigned char*>(haystack);
    for (; count; --count, ++p) {
        if (*p == static_cast<unsigned char>(needle))
            return const_cast<unsigned char*>(p);
    }
    return nullptr;
}

size_t strlen(const char* string) {
    size_t length = 0;
    while (string[length])
        ++length;
    return length;
}

size_t strnlen(const char* string, size_t limit) {
    size_t length = 0;
    while (length < limit && string[length])
        ++length;
    return length;
}

int strcmp(const char* left, const char* right) {
    while (*left && *left == *right) {
        ++left;
        ++right;
    }
    return static_cast<unsigned char>(*left) - static_cast<unsigned char>(*right);
}

int strncmp(const char* left, const char* right, size_t limit) {
    for (; limit; --limit, ++left, ++right) {
        if (*left != *right || !*left)
            return static_cast<unsigned char>(*left) - static_cast<unsigned char>(*right);
    }
    return 0;
}

} // extern "C"

extern "C" {

// Decimal conversion as C specifies it (optional leading whitespace and sign). lwIP's
// netif_find() calls it; overflow is undefined in C, here it wraps.
int atoi(const char* text) {
    while (*text == ' ' || (*text >= '\t' && *text <= '\r'))
        ++text;
    bool negative = false;
    if (*text == '+' || *text == '-')
        negative = *text++ == '-';
    unsigned value = 0;
    while (*text >= '0' && *text <= '9')
        value = value * 10 + static_cast<unsigned>(*text++ - '0');
    return static_cast<int>(negative ? 0u - value : value);
}

} // extern "C"
