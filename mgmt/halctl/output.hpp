// How halctl shows API answers to people: aligned tables (like PowerShell's Format-Table) for
// lists, "Name : value" blocks (Format-List) for single objects. -Json bypasses all of this and
// prints the API's own JSON.
#pragma once

#include "mgmt/api/json_reader.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace halcyon::halctl {

// A parsed JSON response body that owns its text and tokens.
class JsonBody {
public:
    static std::unique_ptr<JsonBody> parse(const std::string& text);

    [[nodiscard]] mgmt::JsonValue root() const { return document_->root(); }

    static std::string string(const std::optional<mgmt::JsonValue>& value);
    static uint64_t number(const std::optional<mgmt::JsonValue>& value);
    static bool boolean(const std::optional<mgmt::JsonValue>& value);

private:
    std::string text_;
    std::vector<mgmt::JsonToken> tokens_;
    std::optional<mgmt::JsonDocument> document_;
};

// Columns left-aligned unless `right_aligned`, separated by one space, with a dashed rule under
// the header row.
std::string format_table(const std::vector<std::string>& headers,
                         const std::vector<std::vector<std::string>>& rows,
                         const std::vector<bool>& right_aligned);

// "Label : value" lines with the colons aligned.
std::string format_list(const std::vector<std::pair<std::string, std::string>>& fields);

// 3723000 ms -> "01:02:03"; a day or more -> "2.01:02:03" (PowerShell's TimeSpan form).
std::string format_uptime(uint64_t milliseconds);

// The VM table (Get-VM) and the detail block (Get-VM NAME) from the API's VM objects.
std::string format_vm_table(const std::vector<mgmt::JsonValue>& vms);
std::string format_vm_details(mgmt::JsonValue vm);
std::string format_host(mgmt::JsonValue host);

} // namespace halcyon::halctl
