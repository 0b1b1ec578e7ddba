// Hostile frames against a fully configured switch: every port type (external trunk, access,
// isolated/community/promiscuous PVLAN, NVGRE virtual subnets of two routing domains, internal)
// with guards, storm limits, port ACLs, QoS policing, an egress scheduler and NVGRE policy.
//
// Input: a sequence of records [selector][length][bytes...]; selector % 14 picks the ingress port,
// selector / 14 advances the clock (ms), length (one byte, x6) bounds the frame. Frames for
// non-trunk ports are batched into bursts; trunk frames go alone so the checker knows their tag.
// Inputs of odd length run with a (counting) capturing extension attached, so the switch takes
// its frame-by-frame path; even ones the batched path. A record of length 0 is a control record
// instead: selector % 8 picks a change of the switch's state between bursts (an NVGRE record that
// moves, disappears or changes its MAC, a neighbour's new MAC, a new local provider address, ACL
// rules replaced, a port moved to another virtual subnet, a port removed and added again) — the
// changes a cached decision must not survive.
//
// Two switches run every input side by side: one with the NVGRE flow caches and the ACL
// classification cache, one without any cache. Invariants, checked on every delivered frame with
// a model written from the port settings (not from the switch's own classification): no frame
// reaches a port outside its VLAN / PVLAN / VSID domain; frames on the trunk carry the tag of
// their domain; frames leaving a virtual subnet for the provider port are NVGRE with a VSID of the
// sender's routing domain; the cached switch delivers exactly what the uncached one delivers (the
// same bytes to the same ports in the same order) and counts the same drops; and when the input
// is done every frame has gone back to the pool (nothing lost or double-freed).
#include "tests/fuzz/vswitch_pipeline_fuzz_fixture.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

using namespace vswitch_fuzz;

[[noreturn]] void divergence(const char* what) {
    std::fprintf(stderr, "INVARIANT VIOLATED: the cached switch and the uncached one differ: %s\n",
                 what);
    std::abort();
}

// The two switches must have delivered the same frames, in the same order, since last time.
void compare(Fixture& cached, Fixture& plain) {
    if (cached.checker.delivered != plain.checker.delivered)
        divergence("deliveries");
    cached.checker.delivered.clear();
    plain.checker.delivered.clear();
}

// VLAN "color" of a frame from a non-VSID port in the model: the access VLAN, the PVLAN
// secondary (or primary for promiscuous ports), or for the trunk its tag / native VLAN.
uint16_t color_of(const Fixture& f, PortId ingress) {
    const PortConfig& c = f.configs[ingress];
    if (ingress == kTrunk)
        return f.checker.trunk_color;
    if (c.vlan.mode == VlanMode::private_vlan)
        return c.vlan.pvlan_mode == PvlanMode::promiscuous ? c.vlan.primary_vlan
                                                           : c.vlan.secondary_vlan;
    return c.vlan.access_vlan;
}

} // namespace

namespace vswitch_fuzz {

bool Checker::deliver(PortId to, Frame* frame) {
    Fixture& f = *fixture;
    const PortId from = frame->ingress_port;
    if (from >= kPortCount || to >= kPortCount)
        violation("unknown port", from, to);
    const PortConfig& src = f.configs[from];
    const PortConfig& dst = f.configs[to];
    const uint8_t* data = frame->data();
    const bool tagged_out = frame->length >= 18 && load_be16(data + 12) == ethertype::vlan;
    const uint16_t tag_out = tagged_out ? load_be16(data + 14) & 0x0FFF : 0;

    if (src.vsid != 0) {
        if (to == kTrunk) {
            // Leaves the host only as NVGRE of the sender's routing domain, untagged.
            const uint32_t vsid = nvgre_vsid(data, frame->length);
            if (tagged_out || domain_of_vsid(vsid) != domain_of_vsid(src.vsid))
                violation("virtual-subnet frame on the provider port without NVGRE of its domain",
                          from, to);
        } else if (dst.vsid == 0) {
            violation("virtual-subnet frame delivered to a VLAN port", from, to);
        } else if (domain_of_vsid(dst.vsid) != domain_of_vsid(src.vsid)) {
            violation("frame crossed routing domains", from, to);
        } else if ((data[0] & 1) != 0 && dst.vsid != src.vsid) {
            violation("broadcast/multicast left its virtual subnet", from, to);
        }
    } else if (dst.vsid != 0) {
        // Only NVGRE from the provider port, of exactly this VSID, may enter a virtual subnet.
        if (from != kTrunk || !trunk_is_nvgre || trunk_vsid != dst.vsid)
            violation("frame entered a virtual subnet without matching NVGRE", from, to);
    } else {
        const uint16_t color = color_of(f, from);
        const VlanConfig& v = dst.vlan;
        bool allowed = false;
        uint16_t expected_tag = 0;
        switch (v.mode) {
        case VlanMode::access:
            allowed = color == v.access_vlan;
            break;
        case VlanMode::trunk:
            allowed = color == v.native_vlan || v.allowed_vlans.contains(color);
            expected_tag = color == v.native_vlan ? 0 : color;
            break;
        case VlanMode::private_vlan: {
            const bool primary = color == 100;
            if (v.pvlan_mode == PvlanMode::promiscuous)
                allowed = primary || color == 101 || color == 102;
            else if (v.pvlan_mode == PvlanMode::community)
                allowed = primary || color == v.secondary_vlan;
            else
                allowed = primary;
            break;
        }
        }
        if (!allowed)
            violation("frame left its VLAN / private-VLAN domain", from, to);
        if (tagged_out != (expected_tag != 0) || tag_out != expected_tag)
            violation("wrong 802.1Q tag on egress", from, to);
    }
    if (f.trace)
        std::fprintf(stderr, "delivered %u -> %u, %u bytes\n", from, to, frame->length);
    delivered.push_back({to, std::vector<uint8_t>(data, data + frame->length)});
    frame->pool->release(frame);
    return true;
}

} // namespace vswitch_fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // Storage is allocated once; every component is rebuilt per input so learning, flow and
    // bucket state cannot make a crash unreproducible. worlds[0] caches, worlds[1] does not.
    static Fixture worlds[2];
    // Odd-sized inputs run with an extension attached (frame by frame), even ones batched.
    for (int w = 0; w < 2; ++w) {
        worlds[w].cached = w == 0;
        worlds[w].build(size % 2 == 1);
    }

    uint64_t now = 1'000'000'000;
    Burst bursts[2];
    PortId burst_port = kNoPort;
    auto flush = [&] {
        for (int w = 0; w < 2; ++w) {
            if (bursts[w].count != 0)
                worlds[w].sw->process(burst_port, bursts[w], now);
            worlds[w].poll(now);
        }
        compare(worlds[0], worlds[1]);
    };
    size_t at = 0;
    while (at + 2 <= size) {
        const uint8_t selector = data[at];
        const PortId port = selector % kPortCount;
        if (data[at + 1] == 0) {
            // A control record: the change happens between bursts.
            at += 2;
            flush();
            burst_port = kNoPort;
            for (Fixture& f : worlds)
                f.change(selector);
            continue;
        }
        const size_t length = std::min<size_t>(size - at - 2, size_t{data[at + 1]} * 6);
        const uint8_t* bytes = data + at + 2;
        at += 2 + length;
        const uint64_t advance = static_cast<uint64_t>(selector / kPortCount) * 1'000'000;
        if (port != burst_port || port == kTrunk || bursts[0].full() || advance != 0) {
            flush();
            burst_port = port;
            now += advance;
        }
        Frame* frames[2] = {worlds[0].pool->allocate(), worlds[1].pool->allocate()};
        if ((frames[0] == nullptr) != (frames[1] == nullptr))
            divergence("frames in use");
        if (!frames[0])
            break;
        for (int w = 0; w < 2; ++w) {
            Fixture& f = worlds[w];
            Frame* frame = frames[w];
            if (!frame->set_length(static_cast<uint32_t>(length))) {
                f.pool->release(frame);
                continue;
            }
            for (size_t i = 0; i < length; ++i)
                frame->data()[i] = bytes[i];
            if (port == kTrunk) {
                // The model's view of a trunk frame: its outer tag (0x8100, 0x88a8 or the
                // pre-standard 0x9100 the parser also accepts; VID != 0) or the native VLAN; and
                // whether it is NVGRE (only untagged NVGRE is decapsulated).
                uint16_t color = 1;
                if (length >= 16) {
                    const uint16_t type = load_be16(bytes + 12);
                    const uint16_t vid = load_be16(bytes + 14) & 0x0FFF;
                    if ((type == ethertype::vlan || type == 0x88a8 || type == 0x9100) && vid != 0)
                        color = vid;
                }
                f.checker.trunk_color = color;
                f.checker.trunk_vsid = nvgre_vsid(bytes, static_cast<uint32_t>(length));
                f.checker.trunk_is_nvgre = f.checker.trunk_vsid != 0;
            }
            (void)bursts[w].push(frame);
        }
    }
    flush();
    // Let the schedulers send everything they hold, then every frame must be back in the pool.
    for (int round = 0; round < 10000 && worlds[0].scheduler->backlog_mask() != 0; ++round) {
        now = std::max(now, worlds[0].scheduler->next_ready_ns(now));
        for (Fixture& f : worlds)
            f.poll(now);
    }
    compare(worlds[0], worlds[1]);
    for (Fixture& f : worlds) {
        if (f.pool->available() != f.pool->size()) {
            std::fprintf(stderr, "INVARIANT VIOLATED: %u of %u frames not returned to the pool\n",
                         f.pool->size() - f.pool->available(), f.pool->size());
            std::abort();
        }
    }
    for (size_t r = 0; r < kDropReasonCount; ++r)
        if (worlds[0].sw->drops().by_reason[r] != worlds[1].sw->drops().by_reason[r])
            divergence(drop_reason_name(static_cast<DropReason>(r)));
    return 0;
}
