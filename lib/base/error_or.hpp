// Errors as values, in the style of SerenityOS's ErrorOr: every fallible call in Halcyon returns
// an ErrorOr<T>, and TRY() propagates the error to the caller. No exceptions, no allocation:
// an Error is a code plus a static message, so it can be built on any exit path.
#pragma once

#include <new>
#include <stdint.h>
#include <type_traits>
#include <utility>

namespace halcyon {

enum class ErrorCode : uint16_t {
    invalid_argument,
    out_of_range,
    out_of_memory,
    not_found,
    not_supported,
    corrupt,
    io,
    busy,
    timeout,
    permission,
    already_exists,
};

[[nodiscard]] constexpr const char* error_code_name(ErrorCode code) {
    switch (code) {
    case ErrorCode::invalid_argument:
        return "invalid argument";
    case ErrorCode::out_of_range:
        return "out of range";
    case ErrorCode::out_of_memory:
        return "out of memory";
    case ErrorCode::not_found:
        return "not found";
    case ErrorCode::not_supported:
        return "not supported";
    case ErrorCode::corrupt:
        return "corrupt";
    case ErrorCode::io:
        return "i/o error";
    case ErrorCode::busy:
        return "busy";
    case ErrorCode::timeout:
        return "timeout";
    case ErrorCode::permission:
        return "permission denied";
    case ErrorCode::already_exists:
        return "already exists";
    }
    return "unknown error";
}

// An error: what went wrong (code) and why, in words a user can act on (a static string).
class Error {
public:
    constexpr Error(ErrorCode code, const char* message) : code_(code), message_(message) {}

    [[nodiscard]] constexpr ErrorCode code() const { return code_; }
    [[nodiscard]] constexpr const char* message() const { return message_; }

private:
    ErrorCode code_;
    const char* message_;
};

template <typename T>
class [[nodiscard]] ErrorOr {
public:
    ErrorOr(Error error) : has_value_(false) { new (&storage_.error) Error(error); }
    template <typename U = T>
    requires std::is_constructible_v<T, U&&> ErrorOr(U&& value) : has_value_(true) {
        new (&storage_.value) T(std::forward<U>(value));
    }
    ErrorOr(const ErrorOr& other) : has_value_(other.has_value_) { copy_from(other); }
    ErrorOr(ErrorOr&& other) : has_value_(other.has_value_) { move_from(std::move(other)); }
    ErrorOr& operator=(const ErrorOr&) = delete;
    ErrorOr& operator=(ErrorOr&&) = delete;
    ~ErrorOr() {
        if (has_value_)
            storage_.value.~T();
    }

    [[nodiscard]] bool is_error() const { return !has_value_; }
    [[nodiscard]] Error error() const { return storage_.error; }
    [[nodiscard]] T& value() { return storage_.value; }
    [[nodiscard]] const T& value() const { return storage_.value; }
    [[nodiscard]] T release_value() { return std::move(storage_.value); }
    [[nodiscard]] Error release_error() const { return storage_.error; }

private:
    void copy_from(const ErrorOr& other) {
        if (other.has_value_)
            new (&storage_.value) T(other.storage_.value);
        else
            new (&storage_.error) Error(other.storage_.error);
    }
    void move_from(ErrorOr&& other) {
        if (other.has_value_)
            new (&storage_.value) T(std::move(other.storage_.value));
        else
            new (&storage_.error) Error(other.storage_.error);
    }

    union Storage {
        Storage() {}
        ~Storage() {}
        T value;
        Error error;
    } storage_;
    bool has_value_;
};

template <>
class [[nodiscard]] ErrorOr<void> {
public:
    ErrorOr() : error_(ErrorCode::invalid_argument, nullptr), has_error_(false) {}
    ErrorOr(Error error) : error_(error), has_error_(true) {}

    [[nodiscard]] bool is_error() const { return has_error_; }
    [[nodiscard]] Error error() const { return error_; }
    [[nodiscard]] Error release_error() const { return error_; }
    void release_value() const {}

private:
    Error error_;
    bool has_error_;
};

} // namespace halcyon

// Evaluates an ErrorOr expression; on error returns the error from the enclosing function,
// otherwise yields the value. (A GNU statement expression, which clang supports.)
#define TRY(expression)                                                                            \
    ({                                                                                             \
        auto&& _halcyon_try_result = (expression);                                                 \
        if (_halcyon_try_result.is_error())                                                        \
            return _halcyon_try_result.release_error();                                            \
        _halcyon_try_result.release_value();                                                       \
    })
