#include "drivers/net/nic.hpp"

#include "drivers/net/e1000_registers.hpp"

namespace halcyon::drivers {
namespace {

// halcyon.cfg's "bb:dd.f" in either case of hex digit against our lower-case rendering.
bool same_pci_address(const char (&ours)[8], const char* configured) {
    // ours[7] is the terminator, so the loop ends by then; it never reads configured past its
    // own terminator either (a mismatch or the shared '\0' stops it first).
    for (size_t i = 0; i < sizeof(ours); ++i) {
        char c = configured[i];
        if (c >= 'A' && c <= 'F')
            c = static_cast<char>(c - 'A' + 'a');
        if (c != ours[i])
            return false;
        if (c == '\0')
            return true;
    }
    return false;
}

} // namespace

NicKind nic_kind(const pci::Function& function) {
    if (is_virtio_net(function))
        return NicKind::virtio_net;
    if (const std::optional<e1000::Model> model = e1000::model_of(function))
        return *model == e1000::Model::e1000e ? NicKind::e1000e : NicKind::e1000;
    return NicKind::none;
}

const char* nic_kind_name(NicKind kind) {
    switch (kind) {
    case NicKind::virtio_net:
        return "virtio-net";
    case NicKind::e1000e:
        return "e1000e";
    case NicKind::e1000:
        return "e1000";
    case NicKind::none:
        break;
    }
    return "none";
}

void format_pci_address(pci::Address address, char (&out)[8]) {
    constexpr char kDigits[] = "0123456789abcdef";
    out[0] = kDigits[address.bus >> 4];
    out[1] = kDigits[address.bus & 15];
    out[2] = ':';
    out[3] = kDigits[(address.device >> 4) & 1];
    out[4] = kDigits[address.device & 15];
    out[5] = '.';
    out[6] = kDigits[address.function & 7];
    out[7] = '\0';
}

ErrorOr<size_t> choose_management_nic(std::span<const pci::Function> functions,
                                      const char* setting) {
    const bool automatic =
        setting == nullptr || setting[0] == '\0' || __builtin_strcmp(setting, "auto") == 0;
    if (!automatic) {
        for (size_t i = 0; i < functions.size(); ++i) {
            char name[8];
            format_pci_address(functions[i].address, name);
            if (!same_pci_address(name, setting))
                continue;
            if (nic_kind(functions[i]) == NicKind::none)
                return Error(ErrorCode::not_supported,
                             "the configured management NIC is not a virtio-net/e1000/e1000e");
            return i;
        }
        return Error(ErrorCode::not_found, "no PCI function at the configured management NIC");
    }
    for (NicKind preferred : {NicKind::virtio_net, NicKind::e1000e, NicKind::e1000}) {
        for (size_t i = 0; i < functions.size(); ++i) {
            if (nic_kind(functions[i]) == preferred)
                return i;
        }
    }
    return Error(ErrorCode::not_found, "no supported management NIC (virtio-net, e1000e, e1000)");
}

} // namespace halcyon::drivers
