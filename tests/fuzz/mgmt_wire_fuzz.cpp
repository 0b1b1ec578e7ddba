// Arbitrary bytes against both ends of the management wire (mgmt/wire):
//   first byte even: the rest is a request for serve_management_call (the core's side, which
//     must answer every input with a well-formed response and never read out of bounds); bit 1
//     selects a response buffer of kResponseMin bytes instead of kManagementMessageMax;
//   first byte odd: the rest is the response to one RemoteVmHost / RemoteVhdHost call (the
//     partition's side, which must turn every malformed response into an error). The second
//     byte picks the call.
#include "tests/unit/mgmt_wire_fake_hosts.hpp"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cstdlib>
#include <vector>

namespace {

using namespace halcyon;
using namespace halcyon::mgmt;
using namespace halcyon::mgmt::wire;
using namespace halcyon::mgmt::wire::testing;

void populate(FakeVmHost& vms, FakeVhdHost& vhds) {
    VmInfo vm;
    (void)vm.spec.name.assign("web");
    (void)vm.spec.kernel.assign("vmlinuz");
    vm.spec.disk_count = 2;
    (void)vm.spec.disks[1].path.assign("ds:/a.vhdx");
    (void)vm.guest.heartbeat.assign("OkApplicationsUnknown");
    vms.vms.push_back(vm);
    vms.log = "[    0.000001] cpu0 info: hello\n";
    vms.console = "login: ";
    vhds.info.attachment_count = 2;
    vhds.drives.resize(3);
    vhds.services.resize(5);
}

// Hands the fuzz input back as the core's answer.
class ReplayTransport final : public ManagementTransport {
public:
    explicit ReplayTransport(std::span<const uint8_t> answer) : answer_(answer) {}
    ErrorOr<size_t> call(std::span<const uint8_t>, std::span<uint8_t> response) override {
        size_t length = answer_.size() < response.size() ? answer_.size() : response.size();
        if (length > 0)
            memcpy(response.data(), answer_.data(), length);
        return length;
    }

private:
    std::span<const uint8_t> answer_;
};

void serve(std::span<const uint8_t> request, bool small_response) {
    FakeVmHost vms;
    FakeVhdHost vhds;
    populate(vms, vhds);
    std::vector<uint8_t> response(small_response ? kResponseMin : kManagementMessageMax);
    ErrorOr<size_t> length = serve_management_call(vms, &vhds, request, response);
    if (length.is_error() || length.value() > response.size())
        abort();
    // Every answer is a well-formed message flagged as a response, ok or an error.
    MessageHeader header;
    if (parse_header(std::span(response).first(length.value()), header).is_error())
        abort();
    if ((header.opcode & kResponseFlag) == 0 || length.value() <= kHeaderSize)
        abort();
    const uint8_t status = response[kHeaderSize];
    if (status != kStatusOk && status != kStatusError)
        abort();
}

void replay(uint8_t which, std::span<const uint8_t> answer) {
    ReplayTransport transport(answer);
    TestChannel channel(transport);
    RemoteVmHost vms(channel.channel);
    RemoteVhdHost vhds(channel.channel);
    char text[64];
    VmHardDiskDrive drives[kVmDisksMax];
    IntegrationService services[kIntegrationServicesMax];
    const uint8_t data[4] = {1, 2, 3, 4};
    VmSpec spec;
    VhdSpec vhd;
    switch (which % 16) {
    case 0:
        (void)vms.host_info();
        break;
    case 1:
        (void)vms.vm_count();
        break;
    case 2:
        (void)vms.vm_at(0);
        break;
    case 3:
        (void)vms.find_vm("web");
        break;
    case 4:
        (void)vms.create_vm(spec);
        break;
    case 5:
        (void)vms.stop_vm("web", StopMode::force);
        break;
    case 6:
        (void)vms.read_log(0, text);
        break;
    case 7:
        (void)vms.read_console("web", 0, text);
        break;
    case 8:
        (void)vms.write_console("web", data);
        break;
    case 9:
        (void)vms.write_file("f", 0, 4, data);
        break;
    case 10:
        (void)vhds.create_vhd(vhd);
        break;
    case 11:
        (void)vhds.get_vhd("ds:/a.vhdx");
        break;
    case 12:
        (void)vhds.vm_disks("web", drives);
        break;
    case 13:
        (void)vhds.add_vm_disk("web", "ds:/a.vhdx", false);
        break;
    case 14:
        (void)vhds.integration_services("web", services);
        break;
    default:
        (void)vhds.remove_vm_disk("web", 0);
        break;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1)
        return 0;
    std::span<const uint8_t> input(data + 1, size - 1);
    if ((data[0] & 1) == 0) {
        serve(input, (data[0] & 2) != 0);
    } else if (!input.empty()) {
        replay(input[0], input.subspan(1));
    }
    return 0;
}
