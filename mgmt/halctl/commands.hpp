// Runs one parsed halctl command against the management API and turns the answer into output
// and an exit code scripts can rely on (docs/management-api.md lists them).
#pragma once

#include "mgmt/halctl/arguments.hpp"
#include "mgmt/halctl/http_client.hpp"

#include <iosfwd>
#include <optional>
#include <string>

namespace halcyon::halctl {

enum ExitCode : int {
    kExitOk = 0,
    kExitUsage = 1,      // bad command line, missing host or key
    kExitAuth = 2,       // 401/403: wrong key, clock too far off, replay
    kExitNotFound = 3,   // 404: no such VM or endpoint
    kExitConflict = 4,   // 409: exists already, or the VM's state does not allow it
    kExitConnection = 5, // cannot connect, timeout, broken answer
    kExitInvalid = 6,    // the server refused the request as invalid (400, 405, 413, 415, ...)
    kExitServer = 7,     // 5xx: the server failed
    kExitLocalFile = 8,  // Copy-VMFile: the local file cannot be read
};

// The exit code for an HTTP status that is not 2xx.
[[nodiscard]] int exit_code_for_status(int status);

// One request. `result` holds a 2xx answer; otherwise the failure was printed (the error body
// too with -Json) and `exit_code` says why.
struct Call {
    std::optional<HttpResult> result;
    int exit_code = kExitOk;
};
[[nodiscard]] Call call(const Invocation& invocation, HttpClient& client, const std::string& method,
                        const std::string& target, const std::string& body, std::ostream& out,
                        std::ostream& err, const std::string& content_type = "application/json");

// The storage and integration-service verbs (vhd_verbs.cpp).
[[nodiscard]] int run_vhd_command(const Invocation& invocation, HttpClient& client,
                                  std::ostream& out, std::ostream& err);

// Builds the JSON body of New-VM / Set-VM from the parameters; `error` is set for bad values.
[[nodiscard]] std::string vm_settings_body(const Invocation& invocation, bool include_name,
                                           std::string& error);

// Percent-encodes a path segment (keeps A-Z a-z 0-9 - . _ ~ and, if `keep_slash`, '/').
[[nodiscard]] std::string percent_encode(const std::string& text, bool keep_slash);

// Runs the command; output to `out`, diagnostics to `err`.
[[nodiscard]] int run_command(const Invocation& invocation, HttpClient& client, std::ostream& out,
                              std::ostream& err);

// Connect-VM (console.cpp).
[[nodiscard]] int run_console(const std::string& name, HttpClient& client, std::ostream& err);

// Help texts and the bash completion script (help.cpp).
[[nodiscard]] std::string help_text(const std::string& command);
[[nodiscard]] std::string bash_completion_script();

} // namespace halcyon::halctl
