// The parameter blocks of one privileged call in the root's memory (or, fast form, its
// registers): copied out piece by piece into the dispatcher's own buffers before anything is
// decoded, results copied back in. The blocks' placement was checked by validate_call(); a page
// that is not the root's RAM (it gave it to a child) fails here.
#pragma once

#include "vmm/hyperv/hypercall.hpp"
#include "vmm/partition/partition.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmm::root {

class Params {
public:
    Params(Partition& root, const hyperv::HypercallInput& input,
           const hyperv::HypercallDescriptor& descriptor, const hyperv::HypercallControl& control)
        : root_(root), input_(input), descriptor_(descriptor), control_(control) {}

    // The fixed input header (fast form: the 8 bytes of RDX / EBX:ECX).
    [[nodiscard]] bool read_header(std::span<uint8_t> out) const;
    // Input element `index` of a rep call.
    [[nodiscard]] bool read_element(uint32_t index, std::span<uint8_t> out) const;
    // The fixed output block, and output element `index` of a rep call.
    [[nodiscard]] bool write_output(std::span<const uint8_t> bytes) const;
    [[nodiscard]] bool write_element(uint32_t index, std::span<const uint8_t> bytes) const;

    [[nodiscard]] uint16_t rep_start() const { return control_.rep_start; }
    [[nodiscard]] uint16_t rep_count() const { return control_.rep_count; }

private:
    Partition& root_;
    hyperv::HypercallInput input_;
    const hyperv::HypercallDescriptor& descriptor_;
    hyperv::HypercallControl control_;
};

} // namespace halcyon::vmm::root
