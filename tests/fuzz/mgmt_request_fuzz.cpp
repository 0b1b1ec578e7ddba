// Hostile bytes against the management API server, on both sides of authentication.
//
// Input byte 0 picks the mode; byte 1 the size of the pieces the rest is fed in (so requests
// are split at arbitrary boundaries, as TCP would).
//   even mode: the rest goes to the server as raw bytes (parser, limits, 401 path).
//   odd mode:  the rest is "METHOD TARGET\nBODY" and is sent as a correctly signed request, so
//              the fuzzer reaches routing, JSON parsing, validation and the endpoints (the
//              host is the fake VmHost with a VM "web" and a file).
// Invariants: the server never reads or writes out of bounds (ASan/UBSan), never stalls with
// input left and no output, and every response it writes is well-framed HTTP whose JSON bodies
// parse with the strict reader.
#include "mgmt/api/json_reader.hpp"
#include "tests/interop/mgmt/server_harness.hpp"

#include <cstdlib>
#include <string>
#include <vector>

namespace {

using namespace halcyon::mgmt;
using namespace halcyon::mgmt::testing;

void check_responses(const std::string& output) {
    size_t position = 0;
    static std::vector<JsonToken> tokens(4096);
    while (position < output.size()) {
        size_t head_end = output.find("\r\n\r\n", position);
        if (head_end == std::string::npos || output.compare(position, 9, "HTTP/1.1 ") != 0)
            abort(); // a response must be a complete status line and header block
        std::string head = output.substr(position, head_end - position);
        size_t length_at = head.find("Content-Length: ");
        size_t length = 0;
        if (length_at != std::string::npos)
            length = std::strtoul(head.c_str() + length_at + 16, nullptr, 10);
        else if (head.compare(9, 3, "100") != 0)
            abort(); // every final response is framed by Content-Length
        if (head_end + 4 + length > output.size())
            abort();
        std::string body = output.substr(head_end + 4, length);
        if (head.find("Content-Type: application/json") != std::string::npos &&
            JsonDocument::parse(body, tokens, JsonLimits{32}).is_error())
            abort(); // our own JSON must be valid JSON
        position = head_end + 4 + length;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2)
        return 0;
    bool signed_mode = data[0] & 1;
    size_t piece = size_t(data[1] % 64) + 1;
    std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);

    ServerConfig config = ServerHarness::small_config();
    config.max_connections = 1;
    config.json_max_tokens = 128;
    ServerHarness h(config);
    (void)h.host.create_vm([] {
        VmSpec spec;
        (void)spec.name.assign("web");
        (void)spec.kernel.assign("vmlinuz");
        return spec;
    }());
    (void)h.host.start_vm("web");

    std::string input;
    if (signed_mode) {
        size_t space = rest.find(' ');
        size_t newline = rest.find('\n');
        if (space == std::string_view::npos || newline == std::string_view::npos || newline < space)
            return 0;
        std::string method(rest.substr(0, space));
        std::string target(rest.substr(space + 1, newline - space - 1));
        // Only what a client could put on a request line (otherwise this is the raw mode's job).
        for (char c : method + target) {
            if (uint8_t(c) <= 0x20 || uint8_t(c) >= 0x7F)
                return 0;
        }
        if (method.empty() || target.empty() || target[0] != '/' || target.size() > 900)
            return 0;
        input = make_request(h.key(), method, target, rest.substr(newline + 1));
    } else {
        input = std::string(rest);
    }

    ConnectionId id = h.open();
    std::string output = h.exchange(id, input, piece);
    // Whatever was not answered must be an incomplete request the server is still waiting for,
    // or the connection was closed after an error.
    h.monotonic_ms += 60'000;
    h.server().poll(h.now());
    output += h.drain(id);
    check_responses(output);
    return 0;
}
