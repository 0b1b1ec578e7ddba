// The two pieces of the C++ ABI runtime the core needs and does not get from libc++abi (which
// it does not link): what a call through a not-yet-constructed object's pure virtual slot
// lands on, and the handler for a deleted virtual function. Both are bugs: stop loudly.
#include "vmm/core/panic.hpp"

extern "C" [[noreturn]] void __cxa_pure_virtual() {
    halcyon::panic("pure virtual function called");
}

extern "C" [[noreturn]] void __cxa_deleted_virtual() {
    halcyon::panic("deleted virtual function called");
}
