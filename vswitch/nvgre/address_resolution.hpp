// Address resolution answered by the switch from NVGRE policy instead of by the VMs: ARP requests
// (IPv4) and Neighbor Solicitations (IPv6, RFC 4861) are recognised and rewritten in place into
// the matching ARP reply / Neighbor Advertisement. Deciding *what* to answer is policy's job
// (NetworkVirtualization); this file only reads and writes the packets.
#pragma once

#include "vswitch/nvgre/nvgre_types.hpp"
#include "vswitch/packet/frame.hpp"

namespace halcyon::vswitch::nvgre {

struct ResolutionRequest {
    MacAddress requester_mac;
    NetAddress requester_address;
    NetAddress target;
};

enum class ResolutionKind : uint8_t {
    not_resolution, // some other packet
    request,        // needs an answer (ARP request / Neighbor Solicitation)
    passthrough,    // resolution traffic that needs no answer (replies, announcements, DAD)
    malformed,
};

// Classifies `frame` (parsed, untagged) and fills `request` for ResolutionKind::request.
[[nodiscard]] ResolutionKind read_resolution_request(const Frame& frame,
                                                     ResolutionRequest& request);

// Rewrites the request in `frame` into the answer "target is at `answer`", addressed back to the
// requester. For IPv6 `is_router` sets the Router flag (the distributed router's gateway address).
// False if the frame cannot hold the answer (the caller drops it). Re-parse afterwards.
[[nodiscard]] bool write_resolution_reply(Frame& frame, const ResolutionRequest& request,
                                          const MacAddress& answer, bool is_router);

} // namespace halcyon::vswitch::nvgre
