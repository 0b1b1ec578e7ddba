// The KVP IC against Linux 6.1's hv_kvp with and without hv_kvp_daemon: Get-VM's host name and
// addresses from the automatic pool, the guest pool, host writes and deletes, refreshes, a hung
// daemon, malformed items; and the UTF-8/UTF-16 conversion underneath.
#include "vmbus_ic_test_support.hpp"

#include "vmm/vmbus/ic/kvp_strings.hpp"

#include <string>

using namespace ic_test;
namespace lg = ic_test::linux_guest;

namespace {

using KvpHarness = Harness<KvpIc, lg::KvpGuest>;

std::string value_of(const KvpIc& kvp, KvpPool pool, std::string_view key) {
    char buffer[2048];
    auto length = kvp.guest_value(pool, key, buffer);
    return length.is_error() ? std::string("<none>") : std::string(buffer, length.value());
}

std::string text_of(const ErrorOr<uint32_t>& length, const char* buffer) {
    return length.is_error() ? std::string("<error>") : std::string(buffer, length.value());
}

void connect_with_daemon(KvpHarness& h) {
    h.guest.daemon = lg::KvpGuest::Daemon::running;
    h.open();
    h.tick();
    h.run_guest();
}

TEST(VmbusIcKvp, WithoutTheDaemonLinuxNeverAnswers) {
    KvpHarness h(kvp_config());
    h.open();
    h.tick();
    ASSERT_EQ(h.endpoints.ring.queue.size(), 1u);
    h.run_guest(); // the kernel does not even read the channel
    EXPECT_EQ(h.endpoints.ring.queue.size(), 0u);
    h.tick(5'000);
    EXPECT_EQ(h.service.ic_status().state, IcState::no_answer);
    EXPECT_FALSE(h.service.info().answering);
    char name[64];
    EXPECT_EQ(code_of(h.service.hostname(name)), ErrorCode::not_found);
    h.tick(120'000);
    EXPECT_EQ(h.endpoints.ring.total_sent, 1u) << "nothing piles up in the guest's ring";
}

TEST(VmbusIcKvp, ADaemonStartedLaterAnswersTheWaitingNegotiate) {
    KvpHarness h(kvp_config());
    h.open();
    h.tick();
    SentPacket negotiate = h.front();
    h.endpoints.ring.queue.pop_front();
    EXPECT_FALSE(h.guest.receive(negotiate.bytes).answered);
    h.tick(20'000); // userspace boots, hv_kvp_daemon registers: the kernel reads the packet now
    h.guest.daemon = lg::KvpGuest::Daemon::running;
    ASSERT_FALSE(h.deliver(negotiate, h.guest.receive(negotiate.bytes)).is_error());
    EXPECT_EQ(h.service.ic_status().state, IcState::ready);
    h.run_guest();
    EXPECT_EQ(value_of(h.service, KvpPool::automatic, "FullyQualifiedDomainName"),
              "debian.example.org");
}

TEST(VmbusIcKvp, GetVmFieldsFromTheAutomaticPool) {
    KvpHarness h(kvp_config());
    connect_with_daemon(h);
    KvpInfo info = h.service.info();
    EXPECT_TRUE(info.answering);
    EXPECT_TRUE(info.refreshed);
    EXPECT_EQ(info.refreshes, 1u);
    char buffer[256];
    EXPECT_EQ(text_of(h.service.hostname(buffer), buffer), "debian.example.org");
    EXPECT_EQ(text_of(h.service.ipv4_addresses(buffer), buffer), "192.168.7.20;10.0.0.5");
    EXPECT_EQ(text_of(h.service.ipv6_addresses(buffer), buffer), "fe80::215:5dff:fe00:1");
    EXPECT_EQ(value_of(h.service, KvpPool::automatic, "OSName"), "Debian GNU/Linux");
    EXPECT_EQ(value_of(h.service, KvpPool::automatic, "ProcessorArchitecture"), "x86_64");
    int items = 0;
    h.service.for_each_guest_item(KvpPool::automatic,
                                  [&](std::string_view, std::string_view) { ++items; });
    EXPECT_EQ(items, 10);
    // A short buffer gets a truncated copy.
    char tiny[6];
    EXPECT_EQ(text_of(h.service.hostname(tiny), tiny), "debian");
    // Every request was a full hv_kvp_msg (2580 bytes after the IC header).
    EXPECT_EQ(h.last_response.size(), 2608u);
}

TEST(VmbusIcKvp, TheEnumerationIsWhatLinuxExpects) {
    KvpHarness h(kvp_config());
    h.guest.daemon = lg::KvpGuest::Daemon::running;
    h.open();
    h.tick();
    SentPacket negotiate = h.front();
    h.endpoints.ring.queue.pop_front();
    ASSERT_FALSE(h.deliver(negotiate, h.guest.receive(negotiate.bytes)).is_error());
    ASSERT_EQ(h.endpoints.ring.queue.size(), 1u);
    const SentPacket& p = h.front();
    EXPECT_EQ(h.front_header().icmsgtype, lg::ICMSGTYPE_KVPEXCHANGE);
    EXPECT_EQ(h.front_header().icvermsg.major, 4);
    EXPECT_EQ(p.bytes.size(), lg::ICMSG_HDR + sizeof(lg::hv_kvp_msg_head));
    auto* msg = reinterpret_cast<const lg::hv_kvp_msg_head*>(p.bytes.data() + lg::ICMSG_HDR);
    EXPECT_EQ(msg->kvp_hdr.operation, lg::KVP_OP_ENUMERATE);
    EXPECT_EQ(msg->kvp_hdr.pool, lg::KVP_POOL_AUTO);
    EXPECT_EQ(msg->body.kvp_enum_data.index, 0u);
}

TEST(VmbusIcKvp, GuestPoolItemsAndRefreshes) {
    KvpHarness h(kvp_config());
    h.guest.pool(lg::KVP_POOL_GUEST) = {{"AppStatus", "running"}, {"Build", "42"}};
    connect_with_daemon(h);
    EXPECT_EQ(value_of(h.service, KvpPool::guest, "AppStatus"), "running");
    EXPECT_EQ(value_of(h.service, KvpPool::guest, "Build"), "42");
    // The guest changes its items; the next refresh (30 s later) shows it.
    h.guest.pool(lg::KVP_POOL_GUEST) = {{"AppStatus", "degraded"}};
    h.guest.auto_items[0].second = "renamed.example.org";
    h.tick(29'000);
    EXPECT_TRUE(h.endpoints.ring.queue.empty());
    h.tick(1'000);
    h.run_guest();
    EXPECT_EQ(value_of(h.service, KvpPool::guest, "AppStatus"), "degraded");
    EXPECT_EQ(value_of(h.service, KvpPool::guest, "Build"), "<none>");
    EXPECT_EQ(value_of(h.service, KvpPool::automatic, "FullyQualifiedDomainName"),
              "renamed.example.org");
    EXPECT_EQ(h.service.info().refreshes, 2u);
    // On demand.
    h.guest.pool(lg::KVP_POOL_GUEST).emplace_back("Build", "43");
    h.service.refresh(h.now);
    h.run_guest();
    EXPECT_EQ(value_of(h.service, KvpPool::guest, "Build"), "43");
    EXPECT_EQ(h.service.info().refreshes, 3u);
}

TEST(VmbusIcKvp, HostItemsArePushedBeforeTheRefreshAndDeleted) {
    KvpHarness h(kvp_config());
    // Recorded before the guest is there.
    ASSERT_FALSE(
        h.service.set(KvpPool::auto_external, "VirtualMachineName", "web1", h.now).is_error());
    ASSERT_FALSE(h.service.set(KvpPool::external, "Owner", "ops team", h.now).is_error());
    ASSERT_FALSE(
        h.service.set(KvpPool::external, "City", "Z\xc3\xbcrich \xe2\x9c\x93", h.now).is_error());
    EXPECT_EQ(h.service.info().host_items_pending, 3u);
    connect_with_daemon(h);
    EXPECT_EQ(h.guest.pool(lg::KVP_POOL_AUTO_EXTERNAL),
              (std::vector<std::pair<std::string, std::string>>{{"VirtualMachineName", "web1"}}));
    const auto& external = h.guest.pool(lg::KVP_POOL_EXTERNAL);
    ASSERT_EQ(external.size(), 2u);
    EXPECT_EQ(external[0], (std::pair<std::string, std::string>{"Owner", "ops team"}));
    EXPECT_EQ(external[1].second, "Z\xc3\xbcrich \xe2\x9c\x93");
    EXPECT_EQ(h.service.info().host_items_pending, 0u);
    // Changed while connected: sent at once.
    ASSERT_FALSE(h.service.set(KvpPool::external, "Owner", "dev team", h.now).is_error());
    h.run_guest();
    EXPECT_EQ(h.guest.pool(lg::KVP_POOL_EXTERNAL)[0].second, "dev team");
    ASSERT_FALSE(h.service.remove(KvpPool::external, "Owner", h.now).is_error());
    h.run_guest();
    ASSERT_EQ(h.guest.pool(lg::KVP_POOL_EXTERNAL).size(), 1u);
    EXPECT_EQ(code_of(h.service.remove(KvpPool::external, "Owner", h.now)), ErrorCode::not_found);
    EXPECT_EQ(h.service.info().write_failures, 0u);
    // The guest reboots with empty pools: the host's items come back.
    h.close();
    h.guest.pools.clear();
    h.open();
    h.tick();
    h.run_guest();
    EXPECT_EQ(h.guest.pool(lg::KVP_POOL_EXTERNAL).size(), 1u);
    EXPECT_EQ(h.guest.pool(lg::KVP_POOL_AUTO_EXTERNAL).size(), 1u);
}

TEST(VmbusIcKvp, HostWritesAreValidated) {
    KvpHarness h(kvp_config());
    EXPECT_EQ(code_of(h.service.set(KvpPool::guest, "k", "v", h.now)), ErrorCode::invalid_argument);
    EXPECT_EQ(code_of(h.service.set(KvpPool::automatic, "k", "v", h.now)),
              ErrorCode::invalid_argument);
    EXPECT_EQ(code_of(h.service.set(KvpPool::external, "", "v", h.now)),
              ErrorCode::invalid_argument);
    EXPECT_EQ(code_of(h.service.set(KvpPool::external, std::string(256, 'k'), "v", h.now)),
              ErrorCode::invalid_argument);
    EXPECT_EQ(code_of(h.service.set(KvpPool::external, "k", std::string(1024, 'v'), h.now)),
              ErrorCode::invalid_argument);
    EXPECT_EQ(code_of(h.service.set(KvpPool::external, "k", "\xc0\xaf", h.now)),
              ErrorCode::invalid_argument);
    EXPECT_FALSE(
        h.service.set(KvpPool::external, std::string(255, 'k'), std::string(1023, 'v'), h.now)
            .is_error());
    for (int i = 1; i < static_cast<int>(kKvpTableEntries); ++i)
        ASSERT_FALSE(
            h.service.set(KvpPool::external, "key" + std::to_string(i), "v", h.now).is_error());
    EXPECT_EQ(code_of(h.service.set(KvpPool::external, "one too many", "v", h.now)),
              ErrorCode::out_of_memory);
    // The longest key and value reach the guest whole.
    connect_with_daemon(h);
    bool found = false;
    for (const auto& item : h.guest.pool(lg::KVP_POOL_EXTERNAL))
        found |= item.first == std::string(255, 'k') && item.second == std::string(1023, 'v');
    EXPECT_TRUE(found);
}

TEST(VmbusIcKvp, AHungDaemonTimesOutInTheGuestAndKeepsOldValues) {
    KvpHarness h(kvp_config());
    connect_with_daemon(h);
    h.guest.daemon = lg::KvpGuest::Daemon::hung;
    h.tick(30'000); // refresh starts; the daemon never answers
    h.run_guest();
    h.tick(5'000);
    EXPECT_FALSE(h.service.info().answering);
    h.tick(25'000); // the kernel's HV_UTIL_TIMEOUT (30 s) answers E_FAIL
    ASSERT_FALSE(
        h.answer(h.endpoints.ring.total_sent, h.guest.kernel_timeout().response).is_error());
    KvpInfo info = h.service.info();
    EXPECT_TRUE(info.answering);
    EXPECT_EQ(info.refresh_failures, 1u);
    EXPECT_EQ(info.last_failure_status, lg::HV_E_FAIL);
    EXPECT_EQ(value_of(h.service, KvpPool::automatic, "FullyQualifiedDomainName"),
              "debian.example.org");
    h.guest.daemon = lg::KvpGuest::Daemon::running;
    h.tick(30'000);
    h.run_guest();
    EXPECT_EQ(h.service.info().refreshes, 2u);
}

TEST(VmbusIcKvp, TooManyItemsAreDroppedAndTheEnumerationEnds) {
    KvpHarness h(kvp_config());
    auto& items = h.guest.pool(lg::KVP_POOL_GUEST);
    for (int i = 0; i < 100; ++i)
        items.emplace_back("item" + std::to_string(i), "v");
    connect_with_daemon(h);
    KvpInfo info = h.service.info();
    EXPECT_TRUE(info.refreshed);
    // 16 kept, 64 asked for: 48 dropped; the rest never asked.
    EXPECT_EQ(info.guest_items_dropped, 48u);
    int kept = 0;
    h.service.for_each_guest_item(KvpPool::guest,
                                  [&](std::string_view, std::string_view) { ++kept; });
    EXPECT_EQ(kept, 16);
}

// --- malformed enumeration answers ------------------------------------------------------------

template <typename Mutate>
bool answer_first_enumeration(Mutate mutate) {
    KvpHarness h(kvp_config());
    h.guest.daemon = lg::KvpGuest::Daemon::running;
    h.open();
    h.tick();
    SentPacket negotiate = h.front();
    h.endpoints.ring.queue.pop_front();
    EXPECT_FALSE(h.deliver(negotiate, h.guest.receive(negotiate.bytes)).is_error());
    SentPacket request = h.front();
    h.endpoints.ring.queue.pop_front();
    std::vector<uint8_t> bytes = h.guest.receive(request.bytes).response;
    auto* msg = reinterpret_cast<lg::hv_kvp_msg_head*>(bytes.data() + lg::ICMSG_HDR);
    mutate(*msg);
    return h.answer(request.id, bytes).is_error();
}

TEST(VmbusIcKvp, MalformedItemsAreRefused) {
    EXPECT_FALSE(answer_first_enumeration([](lg::hv_kvp_msg_head&) {}));
    EXPECT_TRUE(answer_first_enumeration(
        [](lg::hv_kvp_msg_head& m) { m.body.kvp_enum_data.data.key_size = 514; }));
    EXPECT_TRUE(answer_first_enumeration(
        [](lg::hv_kvp_msg_head& m) { m.body.kvp_enum_data.data.value_size = 4096; }));
    EXPECT_TRUE(answer_first_enumeration(
        [](lg::hv_kvp_msg_head& m) { m.body.kvp_enum_data.data.value_type = 4; }));
    EXPECT_TRUE(
        answer_first_enumeration([](lg::hv_kvp_msg_head& m) { m.body.kvp_enum_data.index = 3; }));
    EXPECT_TRUE(answer_first_enumeration(
        [](lg::hv_kvp_msg_head& m) { m.kvp_hdr.operation = lg::KVP_OP_SET; }));
    EXPECT_TRUE(answer_first_enumeration(
        [](lg::hv_kvp_msg_head& m) { m.kvp_hdr.pool = lg::KVP_POOL_GUEST; }));
}

TEST(VmbusIcKvp, UnterminatedAndInvalidGuestStringsAreContained) {
    KvpHarness h(kvp_config());
    h.guest.daemon = lg::KvpGuest::Daemon::running;
    h.open();
    h.tick();
    SentPacket negotiate = h.front();
    h.endpoints.ring.queue.pop_front();
    ASSERT_FALSE(h.deliver(negotiate, h.guest.receive(negotiate.bytes)).is_error());
    SentPacket request = h.front();
    h.endpoints.ring.queue.pop_front();
    std::vector<uint8_t> bytes = h.guest.receive(request.bytes).response;
    auto& data = reinterpret_cast<lg::hv_kvp_msg_head*>(bytes.data() + lg::ICMSG_HDR)
                     ->body.kvp_enum_data.data;
    // The whole value field without a terminator, starting with an unpaired surrogate.
    data.value_size = 2048;
    for (int i = 0; i < 1024; ++i) {
        data.value[2 * i] = 'a';
        data.value[2 * i + 1] = 0;
    }
    data.value[0] = 0x00;
    data.value[1] = 0xD8;
    ASSERT_FALSE(h.answer(request.id, bytes).is_error());
    h.run_guest();
    const std::string value = value_of(h.service, KvpPool::automatic, "FullyQualifiedDomainName");
    EXPECT_EQ(value.substr(0, 3), "\xef\xbf\xbd"); // U+FFFD
    EXPECT_EQ(value.size(), kKvpValueBytes);
    EXPECT_EQ(h.service.info().guest_items_truncated, 1u);
}

// --- strings ----------------------------------------------------------------------------------

TEST(VmbusIcKvpStrings, Utf8ToUtf16) {
    uint8_t out[16];
    auto n = utf8_to_utf16le("A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", out);
    ASSERT_FALSE(n.is_error());
    // A, é, €, U+1F600 as a surrogate pair, then the terminator.
    const uint8_t expected[] = {0x41, 0, 0xe9, 0, 0xac, 0x20, 0x3d, 0xd8, 0x00, 0xde, 0, 0};
    ASSERT_EQ(n.value(), sizeof(expected));
    EXPECT_EQ(0, std::memcmp(out, expected, sizeof(expected)));
    // Seven characters and the terminator need 16 bytes.
    auto too_small = utf8_to_utf16le("abcdefg", std::span<uint8_t>(out, 15));
    ASSERT_TRUE(too_small.is_error());
    EXPECT_EQ(too_small.error().code(), ErrorCode::out_of_range);
    EXPECT_FALSE(utf8_to_utf16le("abcdefg", std::span<uint8_t>(out, 16)).is_error());
    for (std::string_view bad : {std::string_view("\xc0\x80"), std::string_view("\xed\xa0\x80"),
                                 std::string_view("\xf4\x90\x80\x80"), std::string_view("\xe2\x82"),
                                 std::string_view("a\0b", 3), std::string_view("\x80")}) {
        EXPECT_FALSE(valid_utf8(bad));
        auto refused = utf8_to_utf16le(bad, out);
        ASSERT_TRUE(refused.is_error());
        EXPECT_EQ(refused.error().code(), ErrorCode::invalid_argument);
    }
}

TEST(VmbusIcKvpStrings, Utf16ToUtf8) {
    const uint8_t text[] = {0x41, 0, 0xe9, 0, 0x3d, 0xd8, 0x00, 0xde, 0x00, 0xdc, 0, 0, 0x42, 0};
    char out[16];
    Utf8Conversion c = utf16le_to_utf8(text, out);
    EXPECT_EQ(std::string(out, c.length), "A\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbd");
    EXPECT_TRUE(c.replaced);
    EXPECT_FALSE(c.truncated);
    char small[4];
    c = utf16le_to_utf8(text, small);
    EXPECT_EQ(std::string(small, c.length), "A\xc3\xa9"); // stops before the 4-byte character
    EXPECT_TRUE(c.truncated);
    c = utf16le_to_utf8(std::span<const uint8_t>(text, 3), out); // odd length
    EXPECT_EQ(std::string(out, c.length), "A");
}

} // namespace
