#include "mgmt/net/service.hpp"

#include "drivers/net/e1000.hpp"
#include "drivers/net/nic.hpp"
#include "drivers/pci/pci.hpp"
#include "mgmt/net/lwip_cxx.hpp"

#include "lwip/dhcp.h"
#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"
#include "mgmt/api/arena.hpp"
#include "mgmt/api/auth.hpp"
#include "mgmt/api/server.hpp"
#include "mgmt/net/api_listener.hpp"
#include "mgmt/net/host_only_vm_host.hpp"
#include "mgmt/net/lwip_clock.hpp"
#include "mgmt/net/netif_glue.hpp"
#include "mgmt/net/platform.hpp"
#include "vmm/core/log.hpp"

#include <new>

namespace halcyon::mgmt::net {
namespace {

constexpr size_t kMaxPciFunctions = 64;
constexpr uint64_t kServerPollMs = 250;

// Everything the service owns, built in place once (no heap). Storage is static so its
// footprint shows in the image; the server's buffers come from the platform's DMA memory.
struct State {
    explicit State(const Platform& platform) : platform(platform) {}
    Service service;
    pci::PortConfigSpace config_space;
    Platform platform;
    // The management NIC: one of the drivers, chosen at start; `nic` points at it.
    drivers::VirtioNetNic virtio_net;
    drivers::E1000 e1000;
    drivers::Nic* nic = nullptr;
    NicNetif netif;
    ApiListener listener;
    HostOnlyVmHost* host = nullptr;
    Server* server = nullptr;
    uint16_t port = 0;
    uint64_t boot_tsc = 0;
    uint64_t tsc_hz = 0;
    int64_t unix_at_start = 0;
    bool announced = false;
    bool running = false; // start() completed
};

alignas(State) uint8_t g_state_storage[sizeof(State)];
alignas(HostOnlyVmHost) uint8_t g_host_storage[sizeof(HostOnlyVmHost)];
State* g_state = nullptr;

ServerTime server_time(const State& state, uint64_t now_tsc) {
    const uint64_t elapsed_ms = tsc_to_ms(now_tsc - state.boot_tsc);
    return ServerTime{state.unix_at_start + static_cast<int64_t>(elapsed_ms / 1000), elapsed_ms};
}

void announce(struct netif* netif) {
    State& state = *g_state;
    if (state.announced || ip4_addr_isany_val(*netif_ip4_addr(netif)))
        return;
    state.announced = true;
    char address[IP4ADDR_STRLEN_MAX];
    ip4addr_ntoa_r(netif_ip4_addr(netif), address, sizeof(address));
    char gateway[IP4ADDR_STRLEN_MAX];
    ip4addr_ntoa_r(netif_ip4_gw(netif), gateway, sizeof(gateway));
    const unsigned prefix =
        static_cast<unsigned>(__builtin_popcount(ip4_addr_get_u32(netif_ip4_netmask(netif))));
    log::info("management network: %s/%u gateway %s", address, prefix, gateway);
    log::plain_line("HALCYON MGMT %s:%u", address, static_cast<unsigned>(state.port));
}

void log_function(pci::ConfigSpace& config, const pci::Function& f) {
    const pci::InterruptCapabilities irq = pci::interrupt_capabilities(config, f.address);
    log::info("pci %02x:%02x.%u %04x:%04x class %02x.%02x msi=%s msix=%u", f.address.bus,
              f.address.device, f.address.function, f.vendor_id, f.device_id, f.class_code,
              f.subclass, irq.msi_offset ? "yes" : "no",
              irq.msix_offset ? static_cast<unsigned>(irq.msix_table_size) : 0u);
}

// The NIC the platform names (the partition's assigned function): it must answer and be one of
// the supported kinds.
ErrorOr<pci::Function> given_nic(pci::ConfigSpace& config, pci::Address address) {
    const std::optional<pci::Function> function = pci::probe(config, address);
    if (!function)
        return Error(ErrorCode::not_found, "the assigned management NIC does not answer on PCI");
    log_function(config, *function);
    if (drivers::nic_kind(*function) == drivers::NicKind::none)
        return Error(ErrorCode::not_supported, "the assigned management NIC has no driver");
    return *function;
}

ErrorOr<pci::Function> find_nic(pci::ConfigSpace& config, const config::ManagementNetwork& net) {
    pci::Function functions[kMaxPciFunctions];
    const size_t total = pci::enumerate(config, functions);
    const size_t count = total < kMaxPciFunctions ? total : kMaxPciFunctions;
    log::info("pci: %zu functions", total);
    for (size_t i = 0; i < count; ++i)
        log_function(config, functions[i]);
    const size_t chosen = TRY(
        drivers::choose_management_nic(std::span<const pci::Function>(functions, count), net.nic));
    return functions[chosen];
}

// Starts the driver for `function` (a supported kind, as find_nic chose) as the state's NIC.
ErrorOr<void> start_nic(State& state, const pci::Function& function) {
    drivers::DmaAllocator& dma = state.platform.dma;
    drivers::MmioMapper& mmio = state.platform.mmio;
    switch (drivers::nic_kind(function)) {
    case drivers::NicKind::virtio_net:
        TRY(state.virtio_net.start(state.config_space, function, mmio, dma));
        log::info("virtio-net: features %#llx",
                  static_cast<unsigned long long>(state.virtio_net.driver().features()));
        state.nic = &state.virtio_net;
        return {};
    case drivers::NicKind::e1000:
    case drivers::NicKind::e1000e:
        TRY(state.e1000.start_pci(state.config_space, function, mmio, dma, state.platform.delay));
        state.nic = &state.e1000;
        return {};
    case drivers::NicKind::none:
        break;
    }
    return Error(ErrorCode::not_supported, "no driver for the chosen management NIC");
}

ErrorOr<HostKey> host_key(const config::ManagementNetwork& management) {
    if (management.host_key[0] != '\0') {
        // The administrator's key from halcyon.cfg: never printed, only its identifier.
        const HostKey key = TRY(HostKey::from_hex(management.host_key));
        char id[16];
        const std::string_view text = key.key_id(id);
        log::info("management key: from halcyon.cfg, id %.*s", static_cast<int>(text.size()),
                  text.data());
        return key;
    }
    // No key in halcyon.cfg: generate one for this boot and show it once.
    uint8_t entropy[64];
    if (!gather_entropy(entropy))
        log::warn("management key: no RDSEED/RDRAND, key from TSC jitter only (weak)");
    const HostKey key = HostKey::from_entropy(entropy);
    char hex[64];
    const std::string_view text = key.to_hex(hex);
    log::plain_line("HALCYON MGMT KEY %.*s", static_cast<int>(text.size()), text.data());
    return key;
}

} // namespace

ErrorOr<Service*> start(const config::ManagementNetwork& management, const Platform& platform,
                        const StartOptions& options) {
    if (g_state != nullptr)
        return Error(ErrorCode::already_exists, "management network already started");
    if (options.tsc_hz < 1000)
        return Error(ErrorCode::invalid_argument, "management network needs the TSC frequency");
    if (management.mode == config::AddressMode::none)
        return Error(ErrorCode::not_supported, "management network disabled in halcyon.cfg");

    State* state = new (g_state_storage) State(platform);
    state->boot_tsc = read_tsc();
    state->tsc_hz = options.tsc_hz;
    state->service.tsc_hz_ = options.tsc_hz;
    state->port = management.api_port;
    set_lwip_clock(options.tsc_hz);

    const pci::Function nic = TRY(platform.nic ? given_nic(state->config_space, *platform.nic)
                                               : find_nic(state->config_space, management));
    TRY(start_nic(*state, nic));
    const drivers::MacAddress& mac = state->nic->mac();
    log::info("%s %02x:%02x.%u: mac %02x:%02x:%02x:%02x:%02x:%02x link %s (polled)",
              state->nic->model(), nic.address.bus, nic.address.device, nic.address.function,
              mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
              state->nic->link_up() ? "up" : "down");

    // The API server and its buffers (fixed at start: the footprint never grows).
    ServerConfig server_config;
    server_config.max_connections = kMaxApiConnections;
    const size_t server_bytes = Server::memory_needed(server_config);
    const drivers::DmaRegion server_memory = TRY(platform.dma.allocate_dma(server_bytes));
    static Arena arena(std::span<uint8_t>(server_memory.virt, server_memory.size));
    const HostKey key = TRY(host_key(management));
    HostFacts facts;
    facts.logical_processors = options.logical_processors;
    facts.memory_bytes = platform.host_memory_bytes;
    facts.virtualization = options.virtualization;
    facts.tsc_hz = options.tsc_hz;
    state->host =
        new (g_host_storage) HostOnlyVmHost(facts, platform.free_memory, platform.host_boot_tsc);
    VmHost& vm_host = options.vm_host != nullptr ? *options.vm_host : *state->host;
    state->server = TRY(Server::create(arena, server_config, key, vm_host));
    state->server->set_vhd_host(options.vhd_host);
    state->unix_at_start = read_rtc_unix_seconds();
    log::info("management API: %zu KiB for %u connections, clock %lld (unix)", server_bytes / 1024,
              server_config.max_connections, static_cast<long long>(state->unix_at_start));
    g_state = state;

    lwip_init();
    TRY(state->netif.attach(*state->nic));
    struct netif* netif = &state->netif.netif();
    netif_set_status_callback(netif, announce);
    if (management.ipv6_slaac) {
        netif_create_ip6_linklocal_address(netif, 1);
        netif_set_ip6_autoconfig_enabled(netif, 1);
    }
    TRY(state->listener.start(state->port, *state->server));
    if (management.mode == config::AddressMode::static_ipv4) {
        ip4_addr_t address, mask, gateway;
        ip4_addr_set_u32(&address, lwip_htonl(management.ipv4_address));
        const uint8_t prefix = management.ipv4_prefix_length;
        ip4_addr_set_u32(&mask, lwip_htonl(prefix == 0 ? 0 : 0xFFFF'FFFFu << (32 - prefix)));
        ip4_addr_set_u32(&gateway, lwip_htonl(management.ipv4_gateway));
        netif_set_addr(netif, &address, &mask, &gateway);
        announce(netif);
    } else if (dhcp_start(netif) != ERR_OK) {
        return Error(ErrorCode::io, "DHCP could not start");
    }
    state->running = true;
    return &state->service;
}

Service* active() {
    return g_state != nullptr && g_state->running ? &g_state->service : nullptr;
}

bool Service::announced() const {
    return g_state != nullptr && g_state->announced;
}

void Service::poll(uint64_t now_tsc) {
    State& state = *g_state;
    const ServerTime now = server_time(state, now_tsc);
    state.listener.set_time(now);
    // Bounded batches so a flood cannot keep the caller (a vCPU's turn) waiting long.
    for (int i = 0; i < 4 && state.netif.poll() != 0; ++i) {
    }
    sys_check_timeouts();
    if (now.monotonic_ms - last_server_poll_ms_ >= kServerPollMs) {
        last_server_poll_ms_ = now.monotonic_ms;
        state.listener.poll(now);
    }
}

} // namespace halcyon::mgmt::net
