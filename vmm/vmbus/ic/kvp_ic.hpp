// The key-value pair (KVP, "data exchange") integration service. What the host does with it:
//   * reads the guest's intrinsic items (pool Auto: FullyQualifiedDomainName, NetworkAddressIPv4,
//     NetworkAddressIPv6, OSName, OSVersion, ... — Get-VM's host name and IP addresses) and the
//     items guest software published (pool Guest), by enumerating each pool index 0, 1, ... until
//     the guest answers "no more items"; again every refresh interval;
//   * writes items into the guest's pools (External: the administrator's items; AutoExternal:
//     the host's own, e.g. VirtualMachineName) and deletes them; they are pushed again whenever
//     the guest's KVP service (re)connects.
//
// On Linux the kernel part (hv_utils' hv_kvp) only relays: every request, NEGOTIATE included,
// waits for the user-space hv_kvp_daemon. Without the daemon the kernel never reads the
// channel, so NEGOTIATE stays unanswered: the service reports no_answer (IcState) and Get-VM
// shows no host name or addresses. When the daemon starts later the kernel answers NEGOTIATE
// and everything proceeds (a late answer is taken). With the daemon the kernel gives it 30 s per
// request before answering E_FAIL itself.
//
// Wire message (hv_kvp_msg, 2580 bytes after the IC header; all operations send the full size):
//   u8 operation, u8 pool, u16 pad, then
//   ENUMERATE: u32 index, value;  GET/SET: value;  DELETE: u32 key_size, u16 key[256]
//   value (hv_kvp_exchg_msg_value): u32 value_type (1 = string), u32 key_size, u32 value_size,
//   u8 key[512], u8 value[2048] — NUL-terminated UTF-16LE, sizes in bytes with the terminator.
// The guest answers an enumeration with status 0 and the item, or HV_S_CONT past the last one.
#pragma once

#include "vmm/vmbus/ic/ic_service.hpp"
#include "vmm/vmbus/ic/kvp_table.hpp"

#include <string_view>

namespace halcyon::vmm::vmbus::ic {

namespace kvp_msg {
inline constexpr uint32_t kOperation = 0;
inline constexpr uint32_t kPool = 1;
inline constexpr uint32_t kEnumerateIndex = 4;
inline constexpr uint32_t kEnumerateValue = 8;
inline constexpr uint32_t kSetValue = 4;
inline constexpr uint32_t kDeleteKeySize = 4;
inline constexpr uint32_t kDeleteKey = 8;
// Offsets inside a value.
inline constexpr uint32_t kValueType = 0;
inline constexpr uint32_t kKeySize = 4;
inline constexpr uint32_t kValueSize = 8;
inline constexpr uint32_t kKey = 12;
inline constexpr uint32_t kValue = 12 + kKvpKeyFieldBytes;
inline constexpr uint32_t kValueBytes = kValue + kKvpValueFieldBytes; // 2572
inline constexpr uint32_t kBytes = kEnumerateValue + kValueBytes;     // 2580
inline constexpr uint32_t kTypeString = 1;                            // REG_SZ
enum class Operation : uint8_t { get = 0, set = 1, remove = 2, enumerate = 3 };
} // namespace kvp_msg

enum class KvpPool : uint8_t {
    external = 0,      // written by the host (the administrator's items)
    guest = 1,         // written by guest software, read by the host
    automatic = 2,     // the guest's intrinsic items (host name, addresses, OS), read by the host
    auto_external = 3, // written by the host (its own intrinsic items)
};

struct KvpInfo {
    bool answering = false;    // versions agreed and no request overdue
    bool refreshed = false;    // a full refresh finished in this session
    uint64_t refreshed_at = 0; // TSC of the last finished refresh
    uint64_t refreshes = 0;
    uint64_t refresh_failures = 0; // refreshes the guest ended with a failure status
    uint64_t write_failures = 0;   // host writes the guest refused
    uint32_t last_failure_status = 0;
    uint32_t host_items_pending = 0;    // host writes/deletes not confirmed by the guest yet
    uint32_t guest_items_dropped = 0;   // guest items that did not fit the tables (last refresh)
    uint32_t guest_items_truncated = 0; // guest values longer than kKvpValueBytes
};

struct KvpConfig {
    IcServiceConfig ic{kKvpInstance};
    uint32_t answer_timeout_ms = 5000;
    uint32_t refresh_interval_ms = 30000;
};

class KvpIc final : public IcService {
public:
    KvpIc(EndpointSource& endpoints, const KvpConfig& config);

    // Host items (pools external and auto_external only): recorded at once, sent when the
    // guest's service is ready. invalid_argument: other pool, empty/too long key or value, bad
    // UTF-8; out_of_memory: the host item table is full.
    [[nodiscard]] ErrorOr<void> set(KvpPool pool, std::string_view key, std::string_view value,
                                    uint64_t now);
    [[nodiscard]] ErrorOr<void> remove(KvpPool pool, std::string_view key, uint64_t now);
    // Starts a refresh of the guest's items now (unless one is running).
    void refresh(uint64_t now);

    [[nodiscard]] KvpInfo info() const;
    // Copies the guest's value of `key` in `pool` (automatic or guest) into `out` (truncated to
    // it); returns its length. not_found: the guest did not report it (yet).
    [[nodiscard]] ErrorOr<uint32_t> guest_value(KvpPool pool, std::string_view key,
                                                std::span<char> out) const;
    // Get-VM's fields: FullyQualifiedDomainName, NetworkAddressIPv4 ("a;b;..."),
    // NetworkAddressIPv6, from the automatic pool.
    [[nodiscard]] ErrorOr<uint32_t> hostname(std::span<char> out) const;
    [[nodiscard]] ErrorOr<uint32_t> ipv4_addresses(std::span<char> out) const;
    [[nodiscard]] ErrorOr<uint32_t> ipv6_addresses(std::span<char> out) const;
    // Calls visit(key, value) for every guest item of `pool`, under the service's lock (visit
    // must be quick and must not call back into the service).
    template <typename Visit>
    void for_each_guest_item(KvpPool pool, Visit&& visit) const {
        mm::SpinLockGuard guard(lock());
        const KvpTable& table = pool == KvpPool::automatic ? auto_items_ : guest_items_;
        for (const KvpEntry& entry : table.entries()) {
            if (entry.used)
                visit(entry.key_view(), entry.value_view());
        }
    }

private:
    struct Op {
        enum class Kind : uint8_t { none, set, remove, enumerate } kind = Kind::none;
        KvpEntry* entry = nullptr; // host item (set / remove)
        uint8_t pool = 0;
        uint32_t index = 0; // enumerate
    };

    [[nodiscard]] bool build_request(uint64_t now, std::span<uint8_t> body,
                                     Request& request) override;
    void on_sent(uint64_t now) override;
    [[nodiscard]] ErrorOr<void> on_response(uint64_t now, uint32_t status,
                                            std::span<const uint8_t> body, bool late) override;
    void on_timeout(uint64_t now) override {}
    void on_session(bool open) override;
    void on_ready(uint64_t now) override;
    void on_tick(uint64_t now) override;

    [[nodiscard]] bool build_host_item(std::span<uint8_t> body, KvpEntry& entry);
    [[nodiscard]] ErrorOr<void> take_enumeration(uint64_t now, uint32_t status,
                                                 std::span<const uint8_t> body);
    void start_refresh();
    void finish_pool(uint64_t now);
    [[nodiscard]] KvpTable& table_of(uint8_t pool) {
        return pool == static_cast<uint8_t>(KvpPool::automatic) ? auto_items_ : guest_items_;
    }

    uint32_t answer_timeout_ms_;
    uint32_t refresh_interval_ms_;
    KvpInfo info_;
    KvpTable host_items_;
    KvpTable auto_items_;
    KvpTable guest_items_;
    Op built_;
    Op sent_;
    bool refreshing_ = false;
    uint8_t refresh_pool_ = 0; // index into the pools enumerated
    uint8_t refresh_mark_ = 1;
    uint32_t refresh_index_ = 0;
    uint32_t dropped_ = 0;
    uint64_t next_refresh_ = 0;
};

} // namespace halcyon::vmm::vmbus::ic
