// The C++ ABI pieces the partition's code needs and libc++abi (not linked) would provide: the
// landing spots of a pure or deleted virtual call. Both are bugs: panic (and so restart).
#include "vmm/core/panic.hpp"

extern "C" [[noreturn]] void __cxa_pure_virtual() {
    halcyon::panic("pure virtual function called");
}

extern "C" [[noreturn]] void __cxa_deleted_virtual() {
    halcyon::panic("deleted virtual function called");
}
