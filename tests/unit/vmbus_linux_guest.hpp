// Linux 6.1's side of VMBus, simulated in host memory for the host's unit tests: the message
// structures of vmbus_linux_abi.hpp, version negotiation as vmbus_connect() does it, GPADLs
// split into header and body messages as create_gpadl_header() does, rings initialised as
// hv_ringbuffer_init() does, and the ring algorithms of ring_buffer.c: hv_ringbuffer_write()
// with hv_signal_on_write(), hv_pkt_iter_first/next/close with the pending_send_sz signalling,
// hv_begin_read()/hv_end_read().
#pragma once

#include "tests/unit/vmbus_linux_abi.hpp"
#include "tests/unit/vmbus_test_support.hpp"

#include <gtest/gtest.h>
#include <optional>

namespace vmbus_test {

struct Offer {
    uint32_t relid = 0;
    uint32_t connection_id = 0;
    uint16_t subchannel = 0;
    uint16_t flags = 0;
    bool monitor_allocated = false;
    bool dedicated = false;
    Guid type, instance;
};

struct Packet {
    uint16_t type = 0;
    uint16_t flags = 0;
    uint64_t trans_id = 0;
    std::vector<uint8_t> payload;
};

class LinuxGuest;

// One direction of a channel's ring as the guest's struct hv_ring_buffer_info sees it.
struct LinuxRing {
    FakeGuestMemory* mem = nullptr;
    std::vector<uint64_t> pfns; // [0] = control page
    uint32_t priv_read_index = 0;

    uint64_t control(uint32_t field) const { return pfns[0] * kPage + field; }
    uint32_t get(uint32_t field) const { return mem->get<uint32_t>(control(field)); }
    void set(uint32_t field, uint32_t value) { mem->put<uint32_t>(control(field), value); }
    uint32_t data_size() const { return static_cast<uint32_t>((pfns.size() - 1) * kPage); }
    void copy_to(uint32_t offset, const uint8_t* data, uint32_t size) {
        for (uint32_t i = 0; i < size; ++i) {
            uint32_t at = (offset + i) % data_size();
            *mem->at(pfns[1 + at / kPage] * kPage + at % kPage) = data[i];
        }
    }
    void copy_from(uint32_t offset, uint8_t* data, uint32_t size) const {
        for (uint32_t i = 0; i < size; ++i) {
            uint32_t at = (offset + i) % data_size();
            data[i] = *mem->at(pfns[1 + at / kPage] * kPage + at % kPage);
        }
    }
    // hv_ringbuffer_init
    void init() {
        set(0, 0);
        set(4, 0);
        set(64, 1); // feature_bits: feat_pending_send_sz
        priv_read_index = 0;
    }
    uint32_t bytes_to_write() const { // hv_get_bytes_to_write
        uint32_t read = get(4), write = get(0);
        return write >= read ? data_size() - (write - read) : read - write;
    }
};

struct LinuxChannel {
    LinuxGuest* guest = nullptr;
    Offer offer;
    uint32_t gpadl = 0;
    uint32_t status = ~0u;
    uint32_t vcpu = 0;  // the vCPU this channel signals from
    LinuxRing outbound; // guest -> host
    LinuxRing inbound;  // host -> guest
    uint32_t signals_to_host = 0;
    uint32_t full_returns = 0;

    // hv_ringbuffer_write(); 0 or -EAGAIN (11).
    int write(uint16_t type, uint16_t flags, uint64_t trans_id, const std::vector<uint8_t>& extra,
              std::span<const uint8_t> payload);
    int send_inband(uint64_t trans_id, std::span<const uint8_t> payload, bool want_completion) {
        return write(6, want_completion ? 1 : 0, trans_id, {}, payload);
    }
    // vmbus_sendpacket_mpb_desc(): one range {len, offset, pfns}.
    int send_gpa_direct(uint64_t trans_id, uint32_t len, uint32_t offset,
                        const std::vector<uint64_t>& pfns, std::span<const uint8_t> payload);
    // foreach_vmbus_pkt + hv_pkt_iter_close.
    std::vector<Packet> receive_all();
    void begin_read() { inbound.set(8, 1); }
    uint32_t end_read() {
        inbound.set(8, 0);
        uint32_t read = inbound.get(4), write = inbound.get(0);
        return write >= read ? write - read : inbound.data_size() - read + write;
    }
    void signal_host();
};

class LinuxGuest {
public:
    LinuxGuest(VmbusHost& host, FakeGuestMemory& mem, FakeSynic& synic)
        : host_(host), mem_(mem), synic_(synic) {}

    uint32_t msg_conn_id = 1;
    uint32_t connect_vcpu = 0;
    uint32_t next_gpadl = 0xE1E10;
    uint64_t next_free_page = 0x100; // guest allocations start at 1 MiB

    VmbusHost& host() { return host_; }
    FakeGuestMemory& mem() { return mem_; }

    hv::PortStatus post_bytes(std::span<const uint8_t> bytes, uint32_t connection_id = 0) {
        hv::SynicPort* port = host_.port_for(connection_id == 0 ? msg_conn_id : connection_id);
        EXPECT_NE(port, nullptr);
        return port->on_message(connect_vcpu, 1, bytes);
    }
    template <typename T>
    hv::PortStatus post(const T& message, uint32_t connection_id = 0) {
        return post_bytes({reinterpret_cast<const uint8_t*>(&message), sizeof(T)}, connection_id);
    }

    bool has_message() const { return !synic_.messages.empty(); }
    FakeSynic::Message pop() {
        EXPECT_FALSE(synic_.messages.empty());
        if (synic_.messages.empty())
            return {};
        FakeSynic::Message message = synic_.messages.front();
        synic_.messages.pop_front();
        return message;
    }
    template <typename T>
    T expect(uint32_t msgtype) {
        FakeSynic::Message message = pop();
        T out{};
        EXPECT_EQ(message.sint, 2);
        EXPECT_EQ(message.type, 1u) << "HV_MESSAGE_VMBUS";
        EXPECT_GE(message.bytes.size(), sizeof(uint32_t));
        uint32_t type = 0;
        if (message.bytes.size() >= 4)
            std::memcpy(&type, message.bytes.data(), 4);
        EXPECT_EQ(type, msgtype);
        // vmbus_on_msg_dpc() drops messages shorter than the handler's minimum length.
        EXPECT_GE(message.bytes.size(), sizeof(T)) << "message type " << type;
        std::memcpy(&out, message.bytes.data(),
                    message.bytes.size() < sizeof(T) ? message.bytes.size() : sizeof(T));
        last_vcpu = message.vcpu;
        return out;
    }
    uint32_t last_vcpu = 0;

    // vmbus_negotiate_version() for one version; the response (or nullopt if none came).
    std::optional<linux_abi::version_response> negotiate(uint32_t version) {
        linux_abi::initiate_contact msg{};
        msg.header.msgtype = linux_abi::INITIATE_CONTACT;
        msg.vmbus_version_requested = version;
        uint32_t conn = 1;
        if (version >= linux_abi::version(5, 0)) {
            msg.msg_sint = 2;
            conn = 4;
        } else {
            uint64_t interrupt_page = alloc_pages(1) * kPage;
            std::memcpy(&msg.msg_sint, &interrupt_page, sizeof(interrupt_page));
        }
        msg.monitor_page1 = alloc_pages(1) * kPage;
        msg.monitor_page2 = alloc_pages(1) * kPage;
        msg.target_vcpu = connect_vcpu;
        if (post(msg, conn) != hv::PortStatus::success || !has_message())
            return std::nullopt;
        return expect<linux_abi::version_response>(linux_abi::VERSION_RESPONSE);
    }

    // vmbus_connect(): the newest accepted version, 0 if none.
    uint32_t connect(uint32_t max_version = linux_abi::version(5, 3)) {
        for (uint32_t version : linux_abi::kLinuxVersions) {
            if (version > max_version)
                continue;
            auto response = negotiate(version);
            if (response && response->version_supported) {
                msg_conn_id = version >= linux_abi::version(5, 0) ? response->msg_conn_id : 1;
                negotiated = version;
                return version;
            }
        }
        return 0;
    }
    uint32_t negotiated = 0;

    std::vector<Offer> request_offers() {
        linux_abi::message_header msg{linux_abi::REQUESTOFFERS, 0};
        EXPECT_EQ(post(msg), hv::PortStatus::success);
        std::vector<Offer> offers;
        while (has_message()) {
            FakeSynic::Message message = synic_.messages.front();
            uint32_t type = 0;
            std::memcpy(&type, message.bytes.data(), 4);
            if (type == linux_abi::ALLOFFERS_DELIVERED) {
                pop();
                return offers;
            }
            offers.push_back(take_offer());
        }
        ADD_FAILURE() << "no ALLOFFERS_DELIVERED";
        return offers;
    }

    Offer take_offer() {
        auto raw = expect<linux_abi::offer_channel>(linux_abi::OFFERCHANNEL);
        Offer offer;
        offer.relid = raw.child_relid;
        offer.connection_id = raw.connection_id;
        offer.subchannel = raw.sub_channel_index;
        offer.flags = raw.chn_flags;
        offer.monitor_allocated = (raw.monitor_allocated & 1) != 0;
        offer.dedicated = (raw.is_dedicated_interrupt & 1) != 0;
        std::memcpy(offer.type.bytes, raw.if_type, 16);
        std::memcpy(offer.instance.bytes, raw.if_instance, 16);
        return offer;
    }

    uint64_t alloc_pages(uint64_t count) {
        uint64_t first = next_free_page;
        next_free_page += count;
        return first;
    }

    // create_gpadl_header() + __vmbus_establish_gpadl() for one page-aligned range; posts the
    // messages and returns the GPADL_CREATED status (or ~0 if the host did not answer).
    uint32_t establish_gpadl(uint32_t relid, const std::vector<uint64_t>& pfns, uint32_t& handle) {
        handle = next_gpadl++;
        post_gpadl(relid, handle, pfns, static_cast<uint32_t>(pfns.size() * kPage), 0);
        if (!has_message())
            return ~0u;
        auto created = expect<linux_abi::gpadl_created>(linux_abi::GPADL_CREATED);
        EXPECT_EQ(created.child_relid, relid);
        EXPECT_EQ(created.gpadl, handle);
        return created.creation_status;
    }
    void post_gpadl(uint32_t relid, uint32_t handle, const std::vector<uint64_t>& pfns,
                    uint32_t byte_count, uint32_t byte_offset) {
        constexpr size_t kHeaderPfns =
            (linux_abi::kMaxSizeChannelMessage - sizeof(linux_abi::gpadl_header) - 8) / 8; // 26
        constexpr size_t kBodyPfns =
            (linux_abi::kMaxSizeChannelMessage - sizeof(linux_abi::gpadl_body)) / 8; // 28
        size_t first = pfns.size() < kHeaderPfns ? pfns.size() : kHeaderPfns;
        std::vector<uint8_t> msg(sizeof(linux_abi::gpadl_header) + 8 + first * 8);
        linux_abi::gpadl_header header{{linux_abi::GPADL_HEADER, 0},
                                       relid,
                                       handle,
                                       static_cast<uint16_t>(8 + pfns.size() * 8),
                                       1};
        std::memcpy(msg.data(), &header, sizeof(header));
        uint64_t range = uint64_t{byte_offset} << 32 | byte_count;
        std::memcpy(msg.data() + sizeof(header), &range, 8);
        std::memcpy(msg.data() + sizeof(header) + 8, pfns.data(), first * 8);
        EXPECT_EQ(post_bytes(msg), hv::PortStatus::success);
        for (size_t done = first; done < pfns.size();) {
            size_t n = pfns.size() - done < kBodyPfns ? pfns.size() - done : kBodyPfns;
            std::vector<uint8_t> body(sizeof(linux_abi::gpadl_body) + n * 8);
            linux_abi::gpadl_body fixed{{linux_abi::GPADL_BODY, 0}, 0, handle};
            std::memcpy(body.data(), &fixed, sizeof(fixed));
            std::memcpy(body.data() + sizeof(fixed), pfns.data() + done, n * 8);
            EXPECT_EQ(post_bytes(body), hv::PortStatus::success);
            done += n;
        }
    }

    uint32_t teardown_gpadl(uint32_t relid, uint32_t handle) {
        linux_abi::gpadl_teardown msg{{linux_abi::GPADL_TEARDOWN, 0}, relid, handle};
        EXPECT_EQ(post(msg), hv::PortStatus::success);
        if (!has_message())
            return 0;
        return expect<linux_abi::gpadl_torndown>(linux_abi::GPADL_TORNDOWN).gpadl;
    }

    std::vector<uint64_t> contiguous(uint64_t count) {
        uint64_t first = alloc_pages(count);
        std::vector<uint64_t> pfns(count);
        for (uint64_t i = 0; i < count; ++i)
            pfns[i] = first + i;
        return pfns;
    }

    // vmbus_open(): ring pages (send first), GPADL, rings initialised, OPENCHANNEL.
    LinuxChannel open(const Offer& offer, uint32_t send_pages, uint32_t recv_pages,
                      uint32_t target_vp = 0, std::vector<uint64_t> pfns = {}) {
        LinuxChannel channel;
        channel.guest = this;
        channel.offer = offer;
        channel.vcpu = target_vp;
        if (pfns.empty())
            pfns = contiguous(send_pages + recv_pages);
        for (uint64_t pfn : pfns) // vmbus_alloc_ring() allocates zeroed pages
            if (mem_.is_ram(pfn * kPage, kPage))
                std::memset(mem_.at(pfn * kPage), 0, kPage);
        channel.outbound.mem = channel.inbound.mem = &mem_;
        channel.outbound.pfns.assign(pfns.begin(), pfns.begin() + send_pages);
        channel.inbound.pfns.assign(pfns.begin() + send_pages, pfns.end());
        uint32_t status = establish_gpadl(offer.relid, pfns, channel.gpadl);
        EXPECT_EQ(status, 0u);
        channel.outbound.init();
        channel.inbound.init();
        linux_abi::open_channel msg{};
        msg.header.msgtype = linux_abi::OPENCHANNEL;
        msg.openid = offer.relid;
        msg.child_relid = offer.relid;
        msg.ringbuffer_gpadlhandle = channel.gpadl;
        msg.downstream_ringbuffer_pageoffset = send_pages;
        msg.target_vp = target_vp;
        EXPECT_EQ(post(msg), hv::PortStatus::success);
        if (has_message()) {
            auto result = expect<linux_abi::open_result>(linux_abi::OPENCHANNEL_RESULT);
            EXPECT_EQ(result.child_relid, offer.relid);
            EXPECT_EQ(result.openid, offer.relid);
            channel.status = result.status;
        }
        return channel;
    }

    // vmbus_close_internal(): CLOSECHANNEL, then the ring GPADL's teardown.
    void close(LinuxChannel& channel) {
        linux_abi::relid_only msg{{linux_abi::CLOSECHANNEL, 0}, channel.offer.relid};
        EXPECT_EQ(post(msg), hv::PortStatus::success);
        EXPECT_EQ(teardown_gpadl(channel.offer.relid, channel.gpadl), channel.gpadl);
    }

    // Standard bring-up: connect, offers.
    std::vector<Offer> boot(uint32_t max_version = linux_abi::version(5, 3)) {
        EXPECT_NE(connect(max_version), 0u);
        return request_offers();
    }

private:
    VmbusHost& host_;
    FakeGuestMemory& mem_;
    FakeSynic& synic_;
};

inline void LinuxChannel::signal_host() {
    ++signals_to_host;
    hv::SynicPort* port = guest->host().port_for(offer.connection_id);
    ASSERT_NE(port, nullptr);
    EXPECT_EQ(port->on_event(vcpu, 0), hv::PortStatus::success);
}

inline int LinuxChannel::write(uint16_t type, uint16_t flags, uint64_t trans_id,
                               const std::vector<uint8_t>& extra,
                               std::span<const uint8_t> payload) {
    uint32_t desc_size =
        static_cast<uint32_t>(sizeof(linux_abi::vmpacket_descriptor) + extra.size());
    uint32_t packetlen = desc_size + static_cast<uint32_t>(payload.size());
    uint32_t aligned = (packetlen + 7) & ~7u;
    uint32_t total = aligned + 8;
    if (outbound.bytes_to_write() <= total) {
        ++full_returns;
        return -11;
    }
    linux_abi::vmpacket_descriptor desc{type, static_cast<uint16_t>(desc_size / 8),
                                        static_cast<uint16_t>(aligned / 8), flags, trans_id};
    uint32_t old_write = outbound.get(0);
    uint32_t at = old_write;
    auto put = [&](const void* data, uint32_t size) {
        outbound.copy_to(at, static_cast<const uint8_t*>(data), size);
        at = (at + size) % outbound.data_size();
    };
    put(&desc, sizeof(desc));
    if (!extra.empty())
        put(extra.data(), static_cast<uint32_t>(extra.size()));
    if (!payload.empty())
        put(payload.data(), static_cast<uint32_t>(payload.size()));
    uint64_t zero = 0;
    put(&zero, aligned - packetlen);
    uint64_t prev_indices = uint64_t{old_write} << 32;
    put(&prev_indices, 8);
    outbound.set(0, at);
    // hv_signal_on_write()
    if (outbound.get(8) != 0)
        return 0;
    if (old_write == outbound.get(4))
        signal_host();
    return 0;
}

inline int LinuxChannel::send_gpa_direct(uint64_t trans_id, uint32_t len, uint32_t offset,
                                         const std::vector<uint64_t>& pfns,
                                         std::span<const uint8_t> payload) {
    std::vector<uint8_t> extra(8 + 8 + pfns.size() * 8);
    uint32_t reserved = 0, rangecount = 1;
    std::memcpy(extra.data(), &reserved, 4);
    std::memcpy(extra.data() + 4, &rangecount, 4);
    std::memcpy(extra.data() + 8, &len, 4);
    std::memcpy(extra.data() + 12, &offset, 4);
    std::memcpy(extra.data() + 16, pfns.data(), pfns.size() * 8);
    return write(9, 1, trans_id, extra, payload);
}

inline std::vector<Packet> LinuxChannel::receive_all() {
    std::vector<Packet> packets;
    uint32_t start_read_index = inbound.get(4);
    for (;;) {
        uint32_t write = inbound.get(0);
        uint32_t priv = inbound.priv_read_index;
        uint32_t avail = write >= priv ? write - priv : inbound.data_size() - priv + write;
        if (avail < sizeof(linux_abi::vmpacket_descriptor))
            break;
        linux_abi::vmpacket_descriptor desc;
        inbound.copy_from(priv, reinterpret_cast<uint8_t*>(&desc), sizeof(desc));
        uint32_t len = uint32_t{desc.len8} * 8, offset = uint32_t{desc.offset8} * 8;
        EXPECT_GE(len, offset);
        EXPECT_LE(len + 8, avail);
        Packet packet{desc.type, desc.flags, desc.trans_id, std::vector<uint8_t>(len - offset)};
        inbound.copy_from((priv + offset) % inbound.data_size(), packet.payload.data(),
                          len - offset);
        uint64_t trailer = 0;
        inbound.copy_from((priv + len) % inbound.data_size(), reinterpret_cast<uint8_t*>(&trailer),
                          8);
        EXPECT_EQ(trailer, uint64_t{priv} << 32) << "trailer holds the packet's start index";
        packets.push_back(std::move(packet));
        inbound.priv_read_index = (priv + len + 8) % inbound.data_size();
    }
    // hv_pkt_iter_close()
    inbound.set(4, inbound.priv_read_index);
    if ((inbound.get(64) & 1) == 0)
        return packets;
    uint32_t pending = inbound.get(12);
    if (pending == 0)
        return packets;
    uint32_t curr_write_sz = inbound.bytes_to_write();
    uint32_t priv = inbound.priv_read_index;
    uint32_t bytes_read = priv >= start_read_index ? priv - start_read_index
                                                   : inbound.data_size() - start_read_index + priv;
    if (curr_write_sz - bytes_read > pending)
        return packets;
    if (curr_write_sz <= pending)
        return packets;
    signal_host();
    return packets;
}

} // namespace vmbus_test
