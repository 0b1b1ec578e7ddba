#include "vmm/root/dispatch/params.hpp"

#include <string.h>

namespace halcyon::vmm::root {

bool Params::read_header(std::span<uint8_t> out) const {
    if (control_.fast) {
        if (out.size() > sizeof(input_.input))
            return false;
        memcpy(out.data(), &input_.input, out.size());
        return true;
    }
    return !root_.read_guest(input_.input, out.data(), out.size()).is_error();
}

bool Params::read_element(uint32_t index, std::span<uint8_t> out) const {
    if (control_.fast || index >= control_.rep_count ||
        out.size() != descriptor_.input_element_bytes)
        return false;
    const uint64_t at = input_.input + descriptor_.input_bytes +
                        uint64_t{control_.variable_header_qwords} * 8 +
                        uint64_t{index} * out.size();
    return !root_.read_guest(at, out.data(), out.size()).is_error();
}

bool Params::write_output(std::span<const uint8_t> bytes) const {
    if (control_.fast || bytes.size() != descriptor_.output_bytes)
        return false;
    return !root_.write_guest(input_.output, bytes.data(), bytes.size()).is_error();
}

bool Params::write_element(uint32_t index, std::span<const uint8_t> bytes) const {
    if (control_.fast || index >= control_.rep_count ||
        bytes.size() != descriptor_.output_element_bytes)
        return false;
    const uint64_t at = input_.output + descriptor_.output_bytes +
                        uint64_t{index} * descriptor_.output_element_bytes;
    return !root_.write_guest(at, bytes.data(), bytes.size()).is_error();
}

} // namespace halcyon::vmm::root
