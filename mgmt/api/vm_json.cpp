#include "mgmt/api/vm_json.hpp"
#include "mgmt/api/text.hpp"

namespace halcyon::mgmt {
namespace {

constexpr std::string_view kSpecFields[] = {"name",   "memory_bytes", "vcpus", "kernel",
                                            "initrd", "command_line", "disks", "vmbus"};

bool known_field(JsonValue key) {
    for (std::string_view field : kSpecFields) {
        if (key.string_equals(field))
            return true;
    }
    return false;
}

template <size_t N>
ErrorOr<void> read_string(JsonValue value, FixedString<N>& out) {
    char buffer[N];
    std::string_view text = TRY(value.as_string(buffer));
    if (!out.assign(text))
        return Error(ErrorCode::out_of_range, "string too long");
    return {};
}

ErrorOr<void> read_path(JsonValue value, FilePath& out) {
    if (!value.is(JsonType::string))
        return Error(ErrorCode::invalid_argument, "expected a file name (a string)");
    auto result = read_string(value, out);
    if (result.is_error() || !valid_file_path(out.view()))
        return Error(ErrorCode::invalid_argument,
                     "invalid file name (relative, printable ASCII, at most 111 characters, no "
                     "'..' component)");
    return {};
}

ErrorOr<uint32_t> read_disks(JsonValue value, VmDisk (&disks)[kVmDisksMax]) {
    if (!value.is(JsonType::array))
        return Error(ErrorCode::invalid_argument, "expected an array of disks");
    if (value.size() > kVmDisksMax)
        return Error(ErrorCode::out_of_range, "at most 8 disks");
    JsonValue disk = value.first_child();
    for (uint32_t i = 0; i < value.size(); ++i, disk = disk.next_sibling()) {
        disks[i] = VmDisk{};
        if (disk.is(JsonType::string)) {
            TRY(read_path(disk, disks[i].path));
            continue;
        }
        if (!disk.is(JsonType::object))
            return Error(ErrorCode::invalid_argument,
                         "a disk is a file name or {\"path\": ..., \"read_only\": ...}");
        JsonValue key = disk.first_child();
        for (uint32_t m = 0; m < disk.size(); ++m, key = key.next_sibling().next_sibling()) {
            if (!key.string_equals("path") && !key.string_equals("read_only"))
                return Error(ErrorCode::invalid_argument,
                             "a disk has only \"path\" and \"read_only\"");
        }
        std::optional<JsonValue> path = disk.member("path");
        if (!path)
            return Error(ErrorCode::invalid_argument, "a disk needs a \"path\"");
        TRY(read_path(*path, disks[i].path));
        if (std::optional<JsonValue> read_only = disk.member("read_only"))
            disks[i].read_only = TRY(read_only->as_bool());
    }
    return value.size();
}

// One member of a VmSpec-shaped body into the spec; `name` is handled by the callers.
ErrorOr<void> read_member(JsonValue key, JsonValue value, VmSpec& spec, VmChanges* changes) {
    if (key.string_equals("memory_bytes")) {
        uint64_t bytes = TRY(value.as_uint64());
        if (!valid_memory_bytes(bytes))
            return Error(ErrorCode::out_of_range,
                         "memory must be 16 MiB to 1 TiB and a multiple of 2 MiB");
        spec.memory_bytes = bytes;
        if (changes)
            changes->memory_bytes = bytes;
    } else if (key.string_equals("vcpus")) {
        uint64_t count = TRY(value.as_uint64());
        if (count < 1 || count > kVmVcpusMax)
            return Error(ErrorCode::out_of_range, "vcpus must be 1 to 64");
        spec.vcpus = uint32_t(count);
        if (changes)
            changes->vcpus = uint32_t(count);
    } else if (key.string_equals("kernel")) {
        TRY(read_path(value, spec.kernel));
        if (changes)
            changes->kernel = spec.kernel;
    } else if (key.string_equals("initrd")) {
        // An empty string removes the initrd.
        if (!value.string_equals(""))
            TRY(read_path(value, spec.initrd));
        else
            spec.initrd = FilePath{};
        if (changes)
            changes->initrd = spec.initrd;
    } else if (key.string_equals("command_line")) {
        if (!value.is(JsonType::string))
            return Error(ErrorCode::invalid_argument, "expected a string");
        auto result = read_string(value, spec.command_line);
        if (result.is_error() || !valid_command_line(spec.command_line.view()))
            return Error(ErrorCode::invalid_argument,
                         "command line: at most 1023 bytes, no control characters but tab");
        if (changes)
            changes->command_line = spec.command_line;
    } else if (key.string_equals("vmbus")) {
        spec.vmbus = TRY(value.as_bool());
        if (changes)
            changes->vmbus = spec.vmbus;
    } else if (key.string_equals("disks")) {
        spec.disk_count = TRY(read_disks(value, spec.disks));
        if (changes) {
            changes->disks_present = true;
            changes->disk_count = spec.disk_count;
            for (uint32_t i = 0; i < spec.disk_count; ++i)
                changes->disks[i] = spec.disks[i];
        }
    }
    return {};
}

// KVP's address lists are joined with ';' (hv_kvp_daemon): one JSON string per address.
void write_address_list(JsonWriter& writer, std::string_view list) {
    size_t start = 0;
    while (start < list.size()) {
        size_t end = list.find(';', start);
        if (end == std::string_view::npos)
            end = list.size();
        std::string_view address = substring(list, start, end - start);
        while (!address.empty() && address.front() == ' ')
            address.remove_prefix(1);
        while (!address.empty() && address.back() == ' ')
            address.remove_suffix(1);
        if (!address.empty())
            writer.string(address);
        start = end + 1;
    }
}

} // namespace

bool valid_vm_name(std::string_view name) {
    if (name.empty() || name.size() > kVmNameMax)
        return false;
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

bool valid_file_path(std::string_view path) {
    if (path.empty() || path.size() > kFilePathMax || path[0] == '/')
        return false;
    for (char c : path) {
        if (c < 0x20 || c > 0x7E || c == '\\')
            return false;
    }
    // No ".." component: it could name a file outside the upload area.
    size_t start = 0;
    while (start <= path.size()) {
        size_t slash = path.find('/', start);
        size_t end = slash == std::string_view::npos ? path.size() : slash;
        if (substring(path, start, end - start) == "..")
            return false;
        if (slash == std::string_view::npos)
            break;
        start = slash + 1;
    }
    return true;
}

bool valid_command_line(std::string_view text) {
    if (text.size() > kCommandLineMax)
        return false;
    for (char c : text) {
        if ((uint8_t(c) < 0x20 && c != '\t') || uint8_t(c) == 0x7F)
            return false;
    }
    return true;
}

bool valid_memory_bytes(uint64_t bytes) {
    return bytes >= kVmMemoryMin && bytes <= kVmMemoryMax && bytes % kVmMemoryGranule == 0;
}

const char* vm_state_name(VmState state) {
    switch (state) {
    case VmState::off:
        return "Off";
    case VmState::starting:
        return "Starting";
    case VmState::running:
        return "Running";
    case VmState::stopping:
        return "Stopping";
    case VmState::suspended:
        return "Paused";
    case VmState::crashed:
        return "Crashed";
    }
    return "Unknown";
}

void write_vm_json(JsonWriter& writer, const VmInfo& vm) {
    writer.begin_object();
    writer.field("name", vm.spec.name.view());
    writer.field("state", vm_state_name(vm.state));
    writer.field("memory_bytes", vm.spec.memory_bytes);
    writer.field("vcpus", vm.spec.vcpus);
    writer.field("kernel", vm.spec.kernel.view());
    writer.field("initrd", vm.spec.initrd.view());
    writer.field("command_line", vm.spec.command_line.view());
    writer.key("disks");
    writer.begin_array();
    for (uint32_t i = 0; i < vm.spec.disk_count && i < kVmDisksMax; ++i) {
        writer.begin_object();
        writer.field("path", vm.spec.disks[i].path.view());
        writer.field("read_only", vm.spec.disks[i].read_only);
        writer.end_object();
    }
    writer.end_array();
    writer.field("vmbus", vm.spec.vmbus);
    writer.field("uptime_ms", vm.uptime_ms);
    writer.key("heartbeat");
    if (vm.guest.heartbeat.empty())
        writer.null();
    else
        writer.string(vm.guest.heartbeat.view());
    writer.field("computer_name", vm.guest.computer_name.view());
    writer.key("ip_addresses");
    writer.begin_array();
    write_address_list(writer, vm.guest.ipv4_addresses.view());
    write_address_list(writer, vm.guest.ipv6_addresses.view());
    writer.end_array();
    writer.field("status", vm.status.view());
    writer.end_object();
}

ErrorOr<void> parse_vm_spec(JsonValue body, VmSpec& out, FieldError& error) {
    out = VmSpec{};
    error.field = {};
    if (!body.is(JsonType::object))
        return Error(ErrorCode::invalid_argument, "the request body must be a JSON object");
    JsonValue key = body.first_child();
    for (uint32_t i = 0; i < body.size(); ++i, key = key.next_sibling().next_sibling()) {
        error.field = key.raw();
        if (!known_field(key))
            return Error(ErrorCode::invalid_argument, "unknown field");
        if (key.string_equals("name")) {
            if (!key.next_sibling().is(JsonType::string) ||
                read_string(key.next_sibling(), out.name).is_error() ||
                !valid_vm_name(out.name.view()))
                return Error(ErrorCode::invalid_argument,
                             "a VM name is 1 to 31 characters from A-Z a-z 0-9 _ -");
            continue;
        }
        TRY(read_member(key, key.next_sibling(), out, nullptr));
    }
    error.field = "name";
    if (out.name.empty())
        return Error(ErrorCode::invalid_argument, "required field missing");
    error.field = "kernel";
    if (out.kernel.empty())
        return Error(ErrorCode::invalid_argument, "required field missing");
    error.field = {};
    return {};
}

ErrorOr<void> parse_vm_changes(JsonValue body, std::string_view name, VmChanges& out,
                               FieldError& error) {
    out = VmChanges{};
    error.field = {};
    if (!body.is(JsonType::object))
        return Error(ErrorCode::invalid_argument, "the request body must be a JSON object");
    VmSpec scratch;
    JsonValue key = body.first_child();
    for (uint32_t i = 0; i < body.size(); ++i, key = key.next_sibling().next_sibling()) {
        error.field = key.raw();
        if (!known_field(key))
            return Error(ErrorCode::invalid_argument, "unknown field");
        if (key.string_equals("name")) {
            if (!key.next_sibling().string_equals(name))
                return Error(ErrorCode::invalid_argument, "a VM cannot be renamed");
            continue;
        }
        TRY(read_member(key, key.next_sibling(), scratch, &out));
    }
    error.field = {};
    return {};
}

ErrorOr<StopMode> parse_stop_mode(std::string_view text) {
    if (text == "graceful")
        return StopMode::graceful;
    if (text == "force")
        return StopMode::force;
    if (text == "turnoff")
        return StopMode::turn_off;
    return Error(ErrorCode::invalid_argument, "mode must be graceful, force or turnoff");
}

} // namespace halcyon::mgmt
