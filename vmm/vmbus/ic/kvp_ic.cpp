// The KVP IC (see kvp_ic.hpp): host item writes and the guest item refresh, one request at a time.
#include "vmm/vmbus/ic/kvp_ic.hpp"

#include "vmm/vmbus/ic/kvp_strings.hpp"

#include <string.h>

namespace halcyon::vmm::vmbus::ic {

namespace {

// Host item states (KvpEntry::mark in host_items_).
constexpr uint8_t kSynced = 0;
constexpr uint8_t kPushPending = 1;
constexpr uint8_t kDeletePending = 2;
constexpr uint8_t kFailed = 3;
constexpr uint8_t kPushing = 4;
constexpr uint8_t kDeleting = 5;

// The pools a refresh reads, in order.
constexpr uint8_t kRefreshPools[] = {static_cast<uint8_t>(KvpPool::automatic),
                                     static_cast<uint8_t>(KvpPool::guest)};
// A guest that keeps answering "one more item" cannot keep a refresh going forever.
constexpr uint32_t kMaxEnumerateIndex = 64;

bool host_writable(KvpPool pool) {
    return pool == KvpPool::external || pool == KvpPool::auto_external;
}

uint8_t opcode(kvp_msg::Operation operation) {
    return static_cast<uint8_t>(operation);
}

} // namespace

KvpIc::KvpIc(EndpointSource& endpoints, const KvpConfig& config)
    : IcService(endpoints, {kKvpInterface, MessageType::kvp_exchange, kKvpVersions}, config.ic),
      answer_timeout_ms_(config.answer_timeout_ms),
      refresh_interval_ms_(config.refresh_interval_ms) {}

// --- the management side ----------------------------------------------------------------------

ErrorOr<void> KvpIc::set(KvpPool pool, std::string_view key, std::string_view value, uint64_t now) {
    if (!host_writable(pool))
        return Error(ErrorCode::invalid_argument, "kvp: the host writes only pools 0 and 3");
    if (key.empty() || key.size() > kKvpKeyBytes || value.size() > kKvpValueBytes)
        return Error(ErrorCode::invalid_argument, "kvp: key empty or key/value too long");
    if (!valid_utf8(key) || !valid_utf8(value))
        return Error(ErrorCode::invalid_argument, "kvp: key or value is not valid UTF-8");
    mm::SpinLockGuard guard(lock());
    KvpEntry* entry = TRY(host_items_.insert(static_cast<uint8_t>(pool), key));
    KvpTable::set_value(*entry, value);
    entry->mark = kPushPending;
    pump_locked(now);
    return {};
}

ErrorOr<void> KvpIc::remove(KvpPool pool, std::string_view key, uint64_t now) {
    if (!host_writable(pool))
        return Error(ErrorCode::invalid_argument, "kvp: the host writes only pools 0 and 3");
    mm::SpinLockGuard guard(lock());
    KvpEntry* entry = host_items_.find(static_cast<uint8_t>(pool), key);
    if (entry == nullptr)
        return Error(ErrorCode::not_found, "kvp: no such host item");
    // Deleted in the guest even if this session never pushed it: its daemon keeps the pools of
    // earlier boots.
    entry->mark = kDeletePending;
    pump_locked(now);
    return {};
}

void KvpIc::refresh(uint64_t now) {
    mm::SpinLockGuard guard(lock());
    if (ready_locked() && !refreshing_)
        start_refresh();
    pump_locked(now);
}

KvpInfo KvpIc::info() const {
    mm::SpinLockGuard guard(lock());
    KvpInfo info = info_;
    info.answering = ready_locked() && !request_overdue_locked();
    info.host_items_pending = 0;
    for (const KvpEntry& entry : host_items_.entries()) {
        if (entry.used && entry.mark != kSynced && entry.mark != kFailed)
            ++info.host_items_pending;
    }
    info.guest_items_truncated = 0;
    for (const KvpTable* table : {&auto_items_, &guest_items_}) {
        for (const KvpEntry& entry : table->entries())
            info.guest_items_truncated += entry.used && entry.truncated ? 1 : 0;
    }
    return info;
}

ErrorOr<uint32_t> KvpIc::guest_value(KvpPool pool, std::string_view key,
                                     std::span<char> out) const {
    if (pool != KvpPool::automatic && pool != KvpPool::guest)
        return Error(ErrorCode::invalid_argument, "kvp: the guest's items are in pools 1 and 2");
    mm::SpinLockGuard guard(lock());
    const KvpTable& table = pool == KvpPool::automatic ? auto_items_ : guest_items_;
    const KvpEntry* entry = table.find(static_cast<uint8_t>(pool), key);
    if (entry == nullptr)
        return Error(ErrorCode::not_found, "kvp: the guest did not report that item");
    const uint32_t length =
        entry->value_length < out.size() ? entry->value_length : static_cast<uint32_t>(out.size());
    memcpy(out.data(), entry->value, length);
    return length;
}

ErrorOr<uint32_t> KvpIc::hostname(std::span<char> out) const {
    return guest_value(KvpPool::automatic, "FullyQualifiedDomainName", out);
}
ErrorOr<uint32_t> KvpIc::ipv4_addresses(std::span<char> out) const {
    return guest_value(KvpPool::automatic, "NetworkAddressIPv4", out);
}
ErrorOr<uint32_t> KvpIc::ipv6_addresses(std::span<char> out) const {
    return guest_value(KvpPool::automatic, "NetworkAddressIPv6", out);
}

// --- requests ---------------------------------------------------------------------------------

bool KvpIc::build_host_item(std::span<uint8_t> body, KvpEntry& entry) {
    body[kvp_msg::kPool] = entry.pool;
    if (entry.mark == kPushPending) {
        body[kvp_msg::kOperation] = opcode(kvp_msg::Operation::set);
        uint8_t* value = &body[kvp_msg::kSetValue];
        auto key_size =
            utf8_to_utf16le(entry.key_view(), {value + kvp_msg::kKey, kKvpKeyFieldBytes});
        auto value_size =
            utf8_to_utf16le(entry.value_view(), {value + kvp_msg::kValue, kKvpValueFieldBytes});
        if (key_size.is_error() || value_size.is_error())
            return false; // set() validated both: cannot happen
        store_le32(value + kvp_msg::kValueType, kvp_msg::kTypeString);
        store_le32(value + kvp_msg::kKeySize, key_size.value());
        store_le32(value + kvp_msg::kValueSize, value_size.value());
        return true;
    }
    body[kvp_msg::kOperation] = opcode(kvp_msg::Operation::remove);
    auto key_size =
        utf8_to_utf16le(entry.key_view(), {&body[kvp_msg::kDeleteKey], kKvpKeyFieldBytes});
    if (key_size.is_error())
        return false;
    store_le32(&body[kvp_msg::kDeleteKeySize], key_size.value());
    return true;
}

bool KvpIc::build_request(uint64_t, std::span<uint8_t> body, Request& request) {
    request.body_bytes = kvp_msg::kBytes;
    request.timeout_ms = answer_timeout_ms_;
    built_ = {};
    // The administrator's writes first: a refresh can wait.
    for (KvpEntry& entry : host_items_.entries()) {
        if (!entry.used || (entry.mark != kPushPending && entry.mark != kDeletePending))
            continue;
        if (!build_host_item(body, entry))
            continue;
        built_.kind = entry.mark == kPushPending ? Op::Kind::set : Op::Kind::remove;
        built_.entry = &entry;
        built_.pool = entry.pool;
        return true;
    }
    if (!refreshing_)
        return false;
    built_.kind = Op::Kind::enumerate;
    built_.pool = kRefreshPools[refresh_pool_];
    built_.index = refresh_index_;
    body[kvp_msg::kOperation] = opcode(kvp_msg::Operation::enumerate);
    body[kvp_msg::kPool] = built_.pool;
    store_le32(&body[kvp_msg::kEnumerateIndex], built_.index);
    return true;
}

void KvpIc::on_sent(uint64_t) {
    sent_ = built_;
    if (sent_.kind == Op::Kind::set)
        sent_.entry->mark = kPushing;
    else if (sent_.kind == Op::Kind::remove)
        sent_.entry->mark = kDeleting;
}

// --- answers ----------------------------------------------------------------------------------

ErrorOr<void> KvpIc::on_response(uint64_t now, uint32_t status, std::span<const uint8_t> body,
                                 bool) {
    const Op op = sent_;
    sent_ = {};
    if (body.size() < kvp_msg::kBytes)
        return Error(ErrorCode::invalid_argument, "kvp: answer shorter than the message");
    static constexpr kvp_msg::Operation kOpcodes[] = {
        kvp_msg::Operation::get, kvp_msg::Operation::set, kvp_msg::Operation::remove,
        kvp_msg::Operation::enumerate};
    if (op.kind == Op::Kind::none)
        return Error(ErrorCode::invalid_argument, "kvp: answer to no KVP operation");
    if (body[kvp_msg::kOperation] != opcode(kOpcodes[static_cast<uint8_t>(op.kind)]) ||
        body[kvp_msg::kPool] != op.pool)
        return Error(ErrorCode::invalid_argument, "kvp: answer does not echo its request");
    switch (op.kind) {
    case Op::Kind::set:
        // Unless set() or remove() changed the item while it was in flight.
        if (op.entry->mark == kPushing) {
            op.entry->mark = status == kStatusOk ? kSynced : kFailed;
            if (status != kStatusOk) {
                ++info_.write_failures;
                info_.last_failure_status = status;
            }
        }
        return {};
    case Op::Kind::remove:
        // A guest without the item answers a failure: it is gone either way.
        if (op.entry->mark == kDeleting)
            host_items_.erase(*op.entry);
        return {};
    case Op::Kind::enumerate:
        if (load_le32(&body[kvp_msg::kEnumerateIndex]) != op.index)
            return Error(ErrorCode::invalid_argument, "kvp: answer for another index");
        return take_enumeration(now, status, body);
    case Op::Kind::none:
        break;
    }
    return {};
}

ErrorOr<void> KvpIc::take_enumeration(uint64_t now, uint32_t status,
                                      std::span<const uint8_t> body) {
    if (!refreshing_)
        return {};
    if (status == kStatusNoMoreItems) {
        finish_pool(now);
        return {};
    }
    if (status != kStatusOk) {
        // E_FAIL: the daemon failed or timed out in the guest. Keep what we knew; retry later.
        refreshing_ = false;
        ++info_.refresh_failures;
        info_.last_failure_status = status;
        next_refresh_ = now + ticks(refresh_interval_ms_);
        return {};
    }
    const uint8_t* value = &body[kvp_msg::kEnumerateValue];
    const uint32_t type = load_le32(value + kvp_msg::kValueType);
    const uint32_t key_size = load_le32(value + kvp_msg::kKeySize);
    const uint32_t value_size = load_le32(value + kvp_msg::kValueSize);
    if (key_size > kKvpKeyFieldBytes || value_size > kKvpValueFieldBytes)
        return Error(ErrorCode::invalid_argument, "kvp: item sizes exceed their fields");
    if (type != kvp_msg::kTypeString)
        return Error(ErrorCode::invalid_argument, "kvp: enumerated item is not a string");

    const uint8_t pool = kRefreshPools[refresh_pool_];
    char key[kKvpKeyBytes];
    const Utf8Conversion key_text = utf16le_to_utf8({value + kvp_msg::kKey, key_size}, key);
    ++refresh_index_;
    if (key_text.length == 0 || key_text.truncated) {
        // No key (nothing at this index) or one longer than any we keep.
        dropped_ += key_text.truncated ? 1 : 0;
    } else {
        KvpTable& table = table_of(pool);
        auto entry = table.insert(pool, {key, key_text.length});
        if (entry.is_error()) {
            ++dropped_;
        } else {
            const Utf8Conversion text =
                utf16le_to_utf8({value + kvp_msg::kValue, value_size}, entry.value()->value);
            entry.value()->value_length = static_cast<uint16_t>(text.length);
            entry.value()->truncated = text.truncated;
            entry.value()->mark = refresh_mark_;
        }
    }
    if (refresh_index_ >= kMaxEnumerateIndex)
        finish_pool(now);
    return {};
}

void KvpIc::start_refresh() {
    refreshing_ = true;
    refresh_pool_ = 0;
    refresh_index_ = 0;
    dropped_ = 0;
    refresh_mark_ = refresh_mark_ == 1 ? 2 : 1;
}

void KvpIc::finish_pool(uint64_t now) {
    const uint8_t pool = kRefreshPools[refresh_pool_];
    // Items the guest no longer reports are gone.
    table_of(pool).erase_unmarked(pool, refresh_mark_);
    refresh_index_ = 0;
    if (++refresh_pool_ < sizeof(kRefreshPools))
        return;
    refreshing_ = false;
    info_.refreshed = true;
    info_.refreshed_at = now;
    ++info_.refreshes;
    info_.guest_items_dropped = dropped_;
    next_refresh_ = now + ticks(refresh_interval_ms_);
}

// --- sessions ---------------------------------------------------------------------------------

void KvpIc::on_session(bool) {
    refreshing_ = false;
    built_ = {};
    sent_ = {};
    next_refresh_ = 0;
    // The guest's items belong to the session that reported them.
    auto_items_.clear();
    guest_items_.clear();
    info_.refreshed = false;
    info_.refreshed_at = 0;
    info_.guest_items_dropped = 0;
    for (KvpEntry& entry : host_items_.entries()) {
        if (entry.used && entry.mark == kPushing)
            entry.mark = kPushPending;
        else if (entry.used && entry.mark == kDeleting)
            entry.mark = kDeletePending;
    }
}

void KvpIc::on_ready(uint64_t) {
    // A new guest session: its pools may have been reset, so every host item is pushed again.
    for (KvpEntry& entry : host_items_.entries()) {
        if (entry.used && entry.mark != kDeletePending)
            entry.mark = kPushPending;
    }
    start_refresh();
}

void KvpIc::on_tick(uint64_t now) {
    if (ready_locked() && !refreshing_ && now >= next_refresh_)
        start_refresh();
}

} // namespace halcyon::vmm::vmbus::ic
