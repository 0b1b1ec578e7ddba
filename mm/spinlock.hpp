// A minimal test-and-test-and-set spinlock for mm/'s shared structures (frame allocator, heap).
// Built on the __atomic builtins rather than std::atomic because libc++'s <atomic> refuses to
// compile in the freestanding worlds (_LIBCPP_HAS_NO_THREADS).
//
// It does NOT disable interrupts: code that takes an mm/ lock must not be re-entered from an
// interrupt handler on the same CPU (or must run with interrupts disabled), else it deadlocks.
#pragma once

namespace halcyon::mm {

class SpinLock {
public:
    SpinLock() = default;
    SpinLock(const SpinLock&) = delete;
    SpinLock& operator=(const SpinLock&) = delete;

    void lock() {
        while (__atomic_exchange_n(&locked_, true, __ATOMIC_ACQUIRE)) {
            // Spin on a plain load so waiting CPUs share the cache line instead of bouncing it.
            while (__atomic_load_n(&locked_, __ATOMIC_RELAXED))
                __builtin_ia32_pause();
        }
    }
    [[nodiscard]] bool try_lock() { return !__atomic_exchange_n(&locked_, true, __ATOMIC_ACQUIRE); }
    void unlock() { __atomic_store_n(&locked_, false, __ATOMIC_RELEASE); }
    [[nodiscard]] bool is_locked() const { return __atomic_load_n(&locked_, __ATOMIC_RELAXED); }

private:
    bool locked_ = false;
};

// Scoped holder: locks on construction, unlocks when it goes out of scope.
class SpinLockGuard {
public:
    explicit SpinLockGuard(SpinLock& lock) : lock_(lock) { lock_.lock(); }
    ~SpinLockGuard() { lock_.unlock(); }
    SpinLockGuard(const SpinLockGuard&) = delete;
    SpinLockGuard& operator=(const SpinLockGuard&) = delete;

private:
    SpinLock& lock_;
};

} // namespace halcyon::mm
