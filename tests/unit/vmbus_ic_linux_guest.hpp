// The guest side of the integration services as Debian 12's kernel (6.1) plays it: hv_utils'
// shutdown, timesync, heartbeat and KVP channel callbacks, vmbus_prep_negotiate_resp() and the
// user-space hv_kvp_daemon, with Linux's own structure layouts and version lists (read from
// Linux 6.1's include/linux/hyperv.h, include/uapi/linux/hyperv.h, drivers/hv/hv_util.c,
// hv_kvp.c, channel_mgmt.c and tools/hv/hv_kvp_daemon.c; the version lists were checked against
// the rodata of Debian's hv_utils.ko 6.1.0-56). Written independently of vmm/vmbus/ic so a layout
// or protocol mistake on either side shows in the tests. It models behaviour, including what
// Linux does NOT do: it drops packets too short for the structure it expects, never reads a
// packet larger than its receive buffer, and without hv_kvp_daemon never reads the KVP channel.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ic_test::linux_guest {

#pragma pack(push, 1)
struct vmbuspipe_hdr {
    uint32_t flags;
    uint32_t msgsize;
};
struct ic_version {
    uint16_t major;
    uint16_t minor;
};
struct icmsg_hdr {
    ic_version icverframe;
    uint16_t icmsgtype;
    ic_version icvermsg;
    uint16_t icmsgsize;
    uint32_t status;
    uint8_t ictransaction_id;
    uint8_t icflags;
    uint8_t reserved[2];
};
struct icmsg_negotiate {
    uint16_t icframe_vercnt;
    uint16_t icmsg_vercnt;
    uint32_t reserved;
    ic_version icversion_data[1]; // any size
};
struct shutdown_msg_data {
    uint32_t reason_code;
    uint32_t timeout_seconds;
    uint32_t flags;
    uint8_t display_message[2048];
};
struct heartbeat_msg_data {
    uint64_t seq_num;
    uint32_t reserved[8];
};
struct ictimesync_data {
    uint64_t parenttime;
    uint64_t childtime;
    uint64_t roundtriptime;
    uint8_t flags;
};
struct ictimesync_ref_data {
    uint64_t parenttime;
    uint64_t vmreferencetime;
    uint8_t flags;
    char leapflags;
    char stratum;
    uint8_t reserved[3];
};
struct hv_kvp_hdr {
    uint8_t operation;
    uint8_t pool;
    uint16_t pad;
};
struct hv_kvp_exchg_msg_value {
    uint32_t value_type;
    uint32_t key_size;
    uint32_t value_size;
    uint8_t key[512];
    uint8_t value[2048];
};
struct hv_kvp_msg_enumerate {
    uint32_t index;
    hv_kvp_exchg_msg_value data;
};
struct hv_kvp_msg_delete {
    uint32_t key_size;
    uint8_t key[512];
};
struct hv_kvp_msg_head {
    hv_kvp_hdr kvp_hdr; // union with "int error" in the kernel/daemon message
    union {
        hv_kvp_exchg_msg_value kvp_set; // also kvp_get
        hv_kvp_msg_delete kvp_delete;
        hv_kvp_msg_enumerate kvp_enum_data;
    } body;
};
#pragma pack(pop)
static_assert(sizeof(vmbuspipe_hdr) == 8 && sizeof(icmsg_hdr) == 20);
static_assert(sizeof(shutdown_msg_data) == 2060 && sizeof(heartbeat_msg_data) == 40);
static_assert(sizeof(ictimesync_data) == 25 && sizeof(ictimesync_ref_data) == 22);
static_assert(sizeof(hv_kvp_exchg_msg_value) == 2572 && sizeof(hv_kvp_msg_enumerate) == 2576);

inline constexpr uint32_t ICMSG_HDR = sizeof(vmbuspipe_hdr) + sizeof(icmsg_hdr);
inline constexpr uint16_t ICMSGTYPE_NEGOTIATE = 0, ICMSGTYPE_HEARTBEAT = 1,
                          ICMSGTYPE_KVPEXCHANGE = 2, ICMSGTYPE_SHUTDOWN = 3, ICMSGTYPE_TIMESYNC = 4;
inline constexpr uint8_t ICMSGHDRFLAG_TRANSACTION = 1, ICMSGHDRFLAG_REQUEST = 2,
                         ICMSGHDRFLAG_RESPONSE = 4;
inline constexpr uint32_t HV_S_OK = 0, HV_E_FAIL = 0x80004005, HV_S_CONT = 0x80070103;
inline constexpr uint8_t ICTIMESYNCFLAG_SYNC = 1, ICTIMESYNCFLAG_SAMPLE = 2;
inline constexpr uint8_t KVP_OP_GET = 0, KVP_OP_SET = 1, KVP_OP_DELETE = 2, KVP_OP_ENUMERATE = 3;
inline constexpr uint8_t KVP_POOL_EXTERNAL = 0, KVP_POOL_GUEST = 1, KVP_POOL_AUTO = 2,
                         KVP_POOL_AUTO_EXTERNAL = 3;
inline constexpr uint32_t REG_SZ = 1;
inline constexpr int IC_VERSION_NEGOTIATION_MAX_VER_COUNT = 100;
inline constexpr uint32_t HV_HYP_PAGE_SIZE = 4096;

// Linux 6.1's version lists (major << 16 | minor), most preferred first.
inline const std::vector<int> fw_versions = {0x30000, 0x10000};
inline const std::vector<int> sd_versions = {0x30002, 0x30001, 0x30000, 0x10000};
inline const std::vector<int> ts_versions = {0x40000, 0x30000, 0x10000};
inline const std::vector<int> hb_versions = {0x30000, 0x10000};
inline const std::vector<int> kvp_versions = {0x40000, 0x30000, 0x10000};

inline icmsg_hdr* header_of(std::vector<uint8_t>& buf) {
    return reinterpret_cast<icmsg_hdr*>(buf.data() + sizeof(vmbuspipe_hdr));
}

// vmbus_prep_negotiate_resp(): picks the first of Linux's versions the host offers, framework
// first; rewrites the counts to 1/1 (match) or 0/0 (none) and the first two version slots.
// Returns whether both matched, and the picked service version.
inline bool prep_negotiate_resp(std::vector<uint8_t>& buf, const std::vector<int>& fw,
                                const std::vector<int>& srv, int* nego_srv = nullptr) {
    if (buf.size() < ICMSG_HDR + 4)
        return false; // "Invalid icmsg negotiate": no answer written
    icmsg_hdr* hdr = header_of(buf);
    hdr->icmsgsize = 0x10;
    auto* negop = reinterpret_cast<icmsg_negotiate*>(buf.data() + ICMSG_HDR);
    int icframe_major = negop->icframe_vercnt, icframe_minor = 0;
    int icmsg_major = negop->icmsg_vercnt, icmsg_minor = 0;
    bool found = false;
    const size_t needed = ICMSG_HDR + 8 + (negop->icframe_vercnt + negop->icmsg_vercnt) * 4u;
    if (icframe_major <= IC_VERSION_NEGOTIATION_MAX_VER_COUNT &&
        icmsg_major <= IC_VERSION_NEGOTIATION_MAX_VER_COUNT && needed <= buf.size()) {
        for (int version : fw) {
            for (int j = 0; j < negop->icframe_vercnt && !found; ++j) {
                if (negop->icversion_data[j].major == (version >> 16) &&
                    negop->icversion_data[j].minor == (version & 0xFFFF)) {
                    icframe_major = version >> 16;
                    icframe_minor = version & 0xFFFF;
                    found = true;
                }
            }
            if (found)
                break;
        }
        if (found) {
            found = false;
            for (int version : srv) {
                for (int j = negop->icframe_vercnt;
                     j < negop->icframe_vercnt + negop->icmsg_vercnt && !found; ++j) {
                    if (negop->icversion_data[j].major == (version >> 16) &&
                        negop->icversion_data[j].minor == (version & 0xFFFF)) {
                        icmsg_major = version >> 16;
                        icmsg_minor = version & 0xFFFF;
                        found = true;
                    }
                }
                if (found)
                    break;
            }
        }
    }
    negop->icframe_vercnt = found ? 1 : 0;
    negop->icmsg_vercnt = found ? 1 : 0;
    if (nego_srv)
        *nego_srv = (icmsg_major << 16) | icmsg_minor;
    // Linux writes the two slots even without a match (it only checked that the counts fit).
    if (buf.size() >= ICMSG_HDR + 16) {
        negop->icversion_data[0] = {static_cast<uint16_t>(icframe_major),
                                    static_cast<uint16_t>(icframe_minor)};
        reinterpret_cast<ic_version*>(buf.data() + ICMSG_HDR + 12)[0] = {
            static_cast<uint16_t>(icmsg_major), static_cast<uint16_t>(icmsg_minor)};
    }
    return found;
}

inline void mark_response(std::vector<uint8_t>& buf) {
    header_of(buf)->icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
}

// UTF-16LE <-> UTF-8 for the daemon's ASCII-and-beyond strings (BMP + surrogate pairs).
inline std::string from_utf16(const uint8_t* p, size_t bytes) {
    std::string out;
    for (size_t i = 0; i + 1 < bytes; i += 2) {
        uint32_t c = p[i] | (p[i + 1] << 8);
        if (c == 0)
            break;
        if (c >= 0xD800 && c < 0xDC00 && i + 3 < bytes) {
            uint32_t low = p[i + 2] | (p[i + 3] << 8);
            c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
            i += 2;
        }
        if (c < 0x80) {
            out += static_cast<char>(c);
        } else if (c < 0x800) {
            out += static_cast<char>(0xC0 | (c >> 6));
            out += static_cast<char>(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            out += static_cast<char>(0xE0 | (c >> 12));
            out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (c & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (c >> 18));
            out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (c & 0x3F));
        }
    }
    return out;
}
// ASCII only (what the tests put in the daemon's answers); returns bytes incl. the terminator.
inline uint32_t to_utf16(const std::string& text, uint8_t* out, size_t room) {
    size_t units = text.size() < room / 2 - 1 ? text.size() : room / 2 - 1;
    for (size_t i = 0; i < units; ++i) {
        out[2 * i] = static_cast<uint8_t>(text[i]);
        out[2 * i + 1] = 0;
    }
    out[2 * units] = out[2 * units + 1] = 0;
    return static_cast<uint32_t>(2 * (units + 1));
}

// What one hv_utils channel callback did with a packet.
struct Outcome {
    bool answered = false;
    std::vector<uint8_t> response; // same length as the packet, as vmbus_sendpacket(recvlen)
};

// ---------------------------------------------------------------------------------------------
// shutdown_onchannelcallback / timesync_onchannelcallback / heartbeat_onchannelcallback

struct ShutdownGuest {
    int srv_version = 0;
    std::vector<uint32_t> executed; // flags of accepted requests (poweroff/reboot scheduled)
    bool hibernation_supported = false;

    Outcome receive(std::vector<uint8_t> buf) {
        Outcome out;
        if (buf.size() > HV_HYP_PAGE_SIZE || buf.size() < ICMSG_HDR)
            return out; // -ENOBUFS / "Packet length too small"
        icmsg_hdr* hdr = header_of(buf);
        if (hdr->icmsgtype == ICMSGTYPE_NEGOTIATE) {
            prep_negotiate_resp(buf, fw_versions, sd_versions, &srv_version);
        } else if (hdr->icmsgtype == ICMSGTYPE_SHUTDOWN) {
            if (buf.size() < ICMSG_HDR + sizeof(shutdown_msg_data))
                return out; // "Invalid shutdown msg data": dropped
            auto* msg = reinterpret_cast<shutdown_msg_data*>(buf.data() + ICMSG_HDR);
            switch (msg->flags) {
            case 0:
            case 1:
            case 2:
            case 3:
                hdr->status = HV_S_OK;
                executed.push_back(msg->flags);
                break;
            case 4:
            case 5:
                hdr->status = hibernation_supported ? HV_S_OK : HV_E_FAIL;
                break;
            default:
                hdr->status = HV_E_FAIL;
            }
        } else {
            hdr->status = HV_E_FAIL;
        }
        mark_response(buf);
        out.answered = true;
        out.response = std::move(buf);
        return out;
    }
};

struct TimesyncGuest {
    int srv_version = 0;
    struct Sample {
        uint64_t host_time;
        uint64_t reference_time; // 0 before version 4
        uint8_t flags;
    };
    std::vector<Sample> samples;
    uint32_t clock_sets = 0; // do_settimeofday64() calls (ICTIMESYNCFLAG_SYNC)

    Outcome receive(std::vector<uint8_t> buf) {
        Outcome out;
        if (buf.size() > HV_HYP_PAGE_SIZE || buf.size() < ICMSG_HDR)
            return out;
        icmsg_hdr* hdr = header_of(buf);
        if (hdr->icmsgtype == ICMSGTYPE_NEGOTIATE) {
            prep_negotiate_resp(buf, fw_versions, ts_versions, &srv_version);
        } else if (hdr->icmsgtype == ICMSGTYPE_TIMESYNC) {
            if (srv_version > 0x30000) {
                if (buf.size() < ICMSG_HDR + sizeof(ictimesync_ref_data))
                    return out;
                auto* data = reinterpret_cast<ictimesync_ref_data*>(buf.data() + ICMSG_HDR);
                samples.push_back({data->parenttime, data->vmreferencetime, data->flags});
            } else {
                if (buf.size() < ICMSG_HDR + sizeof(ictimesync_data))
                    return out;
                auto* data = reinterpret_cast<ictimesync_data*>(buf.data() + ICMSG_HDR);
                samples.push_back({data->parenttime, 0, data->flags});
            }
            if (samples.back().flags & ICTIMESYNCFLAG_SYNC)
                ++clock_sets;
        } else {
            hdr->status = HV_E_FAIL;
        }
        mark_response(buf);
        out.answered = true;
        out.response = std::move(buf);
        return out;
    }
};

struct HeartbeatGuest {
    int srv_version = 0;
    Outcome receive(std::vector<uint8_t> buf) {
        Outcome out;
        if (buf.size() > HV_HYP_PAGE_SIZE || buf.size() < ICMSG_HDR)
            return out;
        icmsg_hdr* hdr = header_of(buf);
        if (hdr->icmsgtype == ICMSGTYPE_NEGOTIATE) {
            prep_negotiate_resp(buf, fw_versions, hb_versions, &srv_version);
        } else if (hdr->icmsgtype == ICMSGTYPE_HEARTBEAT) {
            if (buf.size() < ICMSG_HDR + sizeof(uint64_t))
                return out;
            reinterpret_cast<heartbeat_msg_data*>(buf.data() + ICMSG_HDR)->seq_num += 1;
        } else {
            hdr->status = HV_E_FAIL;
        }
        mark_response(buf);
        out.answered = true;
        out.response = std::move(buf);
        return out;
    }
};

// ---------------------------------------------------------------------------------------------
// hv_kvp (kernel) + hv_kvp_daemon (user space)

struct KvpGuest {
    // The daemon: not started (the kernel then never reads the channel), running, or hung (the
    // kernel answers E_FAIL after its 30 s HV_UTIL_TIMEOUT; the harness calls kernel_timeout()).
    enum class Daemon { absent, running, hung } daemon = Daemon::absent;
    int srv_version = 0;
    // The daemon's intrinsic items (pool AUTO), by index as kvp_daemon's switch assigns them.
    std::vector<std::pair<std::string, std::string>> auto_items = {
        {"FullyQualifiedDomainName", "debian.example.org"},
        {"IntegrationServicesVersion", "3.1"},
        {"NetworkAddressIPv4", "192.168.7.20;10.0.0.5"},
        {"NetworkAddressIPv6", "fe80::215:5dff:fe00:1"},
        {"OSBuildNumber", "6.1.0-56-amd64"},
        {"OSName", "Debian GNU/Linux"},
        {"OSMajorVersion", "12"},
        {"OSMinorVersion", "0"},
        {"OSVersion", "6.1.0-56-amd64"},
        {"ProcessorArchitecture", "x86_64"},
    };
    // The daemon's pool files (.kvp_pool_N) for the other pools, in insertion order.
    std::map<uint8_t, std::vector<std::pair<std::string, std::string>>> pools;
    std::optional<std::vector<uint8_t>> pending; // a request handed to a hung daemon

    Outcome receive(std::vector<uint8_t> buf) {
        Outcome out;
        // hv_kvp_onchannelcallback: without a registered daemon the packet is not even read.
        if (daemon == Daemon::absent || pending)
            return out;
        if (buf.size() > 4 * HV_HYP_PAGE_SIZE || buf.size() < ICMSG_HDR)
            return out;
        icmsg_hdr* hdr = header_of(buf);
        if (hdr->icmsgtype == ICMSGTYPE_NEGOTIATE) {
            prep_negotiate_resp(buf, fw_versions, kvp_versions, &srv_version);
            mark_response(buf);
            out.answered = true;
            out.response = std::move(buf);
            return out;
        }
        if (hdr->icmsgtype != ICMSGTYPE_KVPEXCHANGE)
            return out; // "Invalid msg type": no answer
        if (daemon == Daemon::hung) {
            pending = std::move(buf);
            return out;
        }
        return daemon_answer(std::move(buf));
    }

    // kvp_timeout_func after HV_UTIL_TIMEOUT: kvp_respond_to_host(NULL, HV_E_FAIL).
    Outcome kernel_timeout() {
        Outcome out;
        if (!pending)
            return out;
        std::vector<uint8_t> buf = std::move(*pending);
        pending.reset();
        header_of(buf)->status = HV_E_FAIL;
        mark_response(buf);
        out.answered = true;
        out.response = std::move(buf);
        return out;
    }

    std::vector<std::pair<std::string, std::string>>& pool(uint8_t index) { return pools[index]; }

private:
    // kvp_send_key -> daemon -> kvp_on_msg -> kvp_respond_to_host, for a daemon that registered
    // with KVP_OP_REGISTER1 (errors come back in the message header).
    Outcome daemon_answer(std::vector<uint8_t> buf) {
        auto* msg = reinterpret_cast<hv_kvp_msg_head*>(buf.data() + ICMSG_HDR);
        icmsg_hdr* hdr = header_of(buf);
        // The kernel does not check the length against the union; the tests send full messages.
        if (buf.size() < ICMSG_HDR + sizeof(hv_kvp_msg_head))
            return {};
        uint32_t error = HV_S_OK;
        const uint8_t pool_index = msg->kvp_hdr.pool;
        switch (msg->kvp_hdr.operation) {
        case KVP_OP_SET: {
            const std::string key = from_utf16(msg->body.kvp_set.key, msg->body.kvp_set.key_size);
            const std::string value =
                from_utf16(msg->body.kvp_set.value, msg->body.kvp_set.value_size);
            auto& items = pool(pool_index);
            bool replaced = false;
            for (auto& item : items) {
                if (item.first == key) {
                    item.second = value;
                    replaced = true;
                }
            }
            if (!replaced)
                items.emplace_back(key, value);
            break;
        }
        case KVP_OP_DELETE: {
            const std::string key =
                from_utf16(msg->body.kvp_delete.key, msg->body.kvp_delete.key_size);
            auto& items = pool(pool_index);
            size_t before = items.size();
            std::erase_if(items, [&](const auto& item) { return item.first == key; });
            if (items.size() == before)
                error = HV_S_CONT;
            break;
        }
        case KVP_OP_ENUMERATE: {
            const uint32_t index = msg->body.kvp_enum_data.index;
            const auto& items = pool_index == KVP_POOL_AUTO ? auto_items : pool(pool_index);
            if (index >= items.size()) {
                error = HV_S_CONT;
                break;
            }
            // kvp_respond_to_host: key and value as UTF-16 with sizes 2 * (len + 1).
            hv_kvp_exchg_msg_value& data = msg->body.kvp_enum_data.data;
            data.key_size = to_utf16(items[index].first, data.key, sizeof(data.key));
            data.value_size = to_utf16(items[index].second, data.value, sizeof(data.value));
            data.value_type = REG_SZ;
            break;
        }
        default:
            error = HV_E_FAIL;
        }
        hdr->status = error;
        mark_response(buf);
        Outcome out;
        out.answered = true;
        out.response = std::move(buf);
        return out;
    }
};

} // namespace ic_test::linux_guest
