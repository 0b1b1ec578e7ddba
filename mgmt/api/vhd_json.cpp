#include "mgmt/api/vhd_json.hpp"
#include "mgmt/api/text.hpp"

namespace halcyon::mgmt {
namespace {

constexpr std::string_view kDatastorePrefix = "ds:";
constexpr std::string_view kVhdxSuffix = ".vhdx";
constexpr uint32_t kMiB = 1U << 20;

bool ends_with_ignoring_case(std::string_view text, std::string_view suffix) {
    if (text.size() < suffix.size())
        return false;
    std::string_view tail = substring(text, text.size() - suffix.size());
    for (size_t i = 0; i < suffix.size(); ++i) {
        char c = tail[i];
        if (c >= 'A' && c <= 'Z')
            c = char(c - 'A' + 'a');
        if (c != suffix[i])
            return false;
    }
    return true;
}

// Calls `visit(key, value)` for each member of an object body; refuses members not in `known`.
template <size_t N, typename Visit>
ErrorOr<void> for_each_member(JsonValue body, const std::string_view (&known)[N], FieldError& error,
                              Visit visit) {
    error.field = {};
    if (!body.is(JsonType::object))
        return Error(ErrorCode::invalid_argument, "the request body must be a JSON object");
    JsonValue key = body.first_child();
    for (uint32_t i = 0; i < body.size(); ++i, key = key.next_sibling().next_sibling()) {
        error.field = key.raw();
        bool is_known = false;
        for (std::string_view field : known)
            is_known = is_known || key.string_equals(field);
        if (!is_known)
            return Error(ErrorCode::invalid_argument, "unknown field");
        TRY(visit(key, key.next_sibling()));
    }
    error.field = {};
    return {};
}

ErrorOr<void> read_vhd_path(JsonValue value, FilePath& out) {
    if (!value.is(JsonType::string))
        return Error(ErrorCode::invalid_argument, "expected a file name (a string)");
    char text[FilePath::kCapacity + 8];
    ErrorOr<std::string_view> decoded = value.as_string(text);
    if (decoded.is_error())
        return Error(ErrorCode::invalid_argument, "the file name is too long");
    return canonical_vhd_path(decoded.value(), out);
}

ErrorOr<uint64_t> read_positive(JsonValue value, const char* what) {
    ErrorOr<uint64_t> number = value.as_uint64();
    if (number.is_error() || number.value() == 0)
        return Error(ErrorCode::invalid_argument, what);
    return number.value();
}

ErrorOr<uint32_t> read_sector_size(JsonValue value) {
    ErrorOr<uint64_t> bytes = value.as_uint64();
    if (bytes.is_error() || (bytes.value() != 512 && bytes.value() != 4096))
        return Error(ErrorCode::invalid_argument, "a sector size is 512 or 4096 bytes");
    return uint32_t(bytes.value());
}

} // namespace

const char* vhd_type_name(VhdType type) {
    switch (type) {
    case VhdType::fixed:
        return "Fixed";
    case VhdType::dynamic:
        return "Dynamic";
    case VhdType::differencing:
        return "Differencing";
    }
    return "Unknown";
}

const char* integration_status_name(IntegrationStatus status) {
    switch (status) {
    case IntegrationStatus::vm_off:
        return "";
    case IntegrationStatus::ok:
        return "OK";
    case IntegrationStatus::no_contact:
        return "No Contact";
    case IntegrationStatus::lost_communication:
        return "Lost Communication";
    case IntegrationStatus::protocol_mismatch:
        return "Protocol Mismatch";
    }
    return "Unknown";
}

ErrorOr<void> canonical_vhd_path(std::string_view text, FilePath& out) {
    if (substring(text, 0, kDatastorePrefix.size()) == kDatastorePrefix)
        text = substring(text, kDatastorePrefix.size());
    while (!text.empty() && text.front() == '/')
        text.remove_prefix(1);
    char canonical[FilePath::kCapacity + 1] = "ds:/";
    size_t length = 4;
    if (text.empty() || length + text.size() > FilePath::kCapacity)
        return Error(ErrorCode::invalid_argument,
                     "a VHD is a file on the datastore: ds:/PATH, at most 111 characters");
    for (char c : text)
        canonical[length++] = c;
    std::string_view path(canonical, length);
    if (!valid_file_path(path))
        return Error(ErrorCode::invalid_argument,
                     "invalid file name (printable ASCII, no '\\', no '..' component)");
    if (!ends_with_ignoring_case(path, kVhdxSuffix) || path.size() == 4 + kVhdxSuffix.size())
        return Error(ErrorCode::invalid_argument, "a VHD's name ends in .vhdx (VHDX format)");
    (void)out.assign(path);
    return {};
}

void write_vhd_json(JsonWriter& writer, const VhdInfo& vhd) {
    writer.begin_object();
    writer.field("path", vhd.path.view());
    writer.field("type", vhd_type_name(vhd.type));
    writer.field("size_bytes", vhd.size_bytes);
    writer.field("file_size_bytes", vhd.file_size_bytes);
    writer.field("block_size_bytes", vhd.block_size_bytes);
    writer.field("logical_sector_bytes", vhd.logical_sector_bytes);
    writer.field("physical_sector_bytes", vhd.physical_sector_bytes);
    writer.field("blocks", vhd.blocks);
    writer.field("allocated_blocks", vhd.allocated_blocks);
    writer.field("disk_id", vhd.disk_id.view());
    writer.field("attached", vhd.attachment_count > 0);
    writer.key("attachments");
    writer.begin_array();
    for (uint32_t i = 0; i < vhd.attachment_count && i < kVhdAttachmentsMax; ++i) {
        const VhdAttachment& attachment = vhd.attachments[i];
        writer.begin_object();
        writer.field("vm", attachment.vm.view());
        writer.field("lun", attachment.lun);
        writer.field("read_only", attachment.read_only);
        writer.field("online", attachment.online);
        writer.end_object();
    }
    writer.end_array();
    writer.end_object();
}

void write_vm_disk_json(JsonWriter& writer, std::string_view vm, const VmHardDiskDrive& drive) {
    writer.begin_object();
    writer.field("vm", vm);
    writer.field("controller_type", "SCSI");
    writer.field("lun", drive.lun);
    writer.field("path", drive.path.view());
    writer.field("read_only", drive.read_only);
    writer.field("online", drive.online);
    writer.end_object();
}

void write_integration_service_json(JsonWriter& writer, std::string_view vm,
                                    const IntegrationService& service) {
    writer.begin_object();
    writer.field("vm", vm);
    writer.field("name", service.name.view());
    writer.field("enabled", service.enabled);
    writer.field("status", integration_status_name(service.status));
    writer.key("version");
    if (service.version_major == 0 && service.version_minor == 0) {
        writer.null();
    } else {
        char text[12];
        size_t length = 0;
        auto put = [&](uint16_t value) {
            char digits[5];
            size_t count = 0;
            do {
                digits[count++] = char('0' + value % 10);
                value = uint16_t(value / 10);
            } while (value != 0);
            while (count > 0)
                text[length++] = digits[--count];
        };
        put(service.version_major);
        text[length++] = '.';
        put(service.version_minor);
        writer.string(std::string_view(text, length));
    }
    writer.field("detail", service.detail.view());
    writer.end_object();
}

ErrorOr<void> parse_vhd_spec(JsonValue body, VhdSpec& out, FieldError& error) {
    static constexpr std::string_view kFields[] = {"path",
                                                   "size_bytes",
                                                   "type",
                                                   "block_size_bytes",
                                                   "logical_sector_bytes",
                                                   "physical_sector_bytes"};
    out = VhdSpec{};
    TRY(for_each_member(body, kFields, error, [&](JsonValue key, JsonValue value) -> ErrorOr<void> {
        if (key.string_equals("path"))
            return read_vhd_path(value, out.path);
        if (key.string_equals("size_bytes")) {
            out.size_bytes = TRY(read_positive(value, "the size is a positive number of bytes"));
            return {};
        }
        if (key.string_equals("type")) {
            if (value.string_equals("dynamic"))
                out.type = VhdType::dynamic;
            else if (value.string_equals("fixed"))
                out.type = VhdType::fixed;
            else
                return Error(ErrorCode::invalid_argument, "type must be dynamic or fixed");
            return {};
        }
        if (key.string_equals("block_size_bytes")) {
            ErrorOr<uint64_t> bytes = value.as_uint64();
            if (bytes.is_error() || bytes.value() < kMiB || bytes.value() > 256ULL * kMiB ||
                (bytes.value() & (bytes.value() - 1)) != 0)
                return Error(ErrorCode::invalid_argument,
                             "the block size is a power of two from 1 MiB to 256 MiB");
            out.block_size_bytes = uint32_t(bytes.value());
            return {};
        }
        if (key.string_equals("logical_sector_bytes")) {
            out.logical_sector_bytes = TRY(read_sector_size(value));
            return {};
        }
        out.physical_sector_bytes = TRY(read_sector_size(value));
        return {};
    }));
    error.field = "path";
    if (out.path.empty())
        return Error(ErrorCode::invalid_argument, "required field missing");
    error.field = "size_bytes";
    if (out.size_bytes == 0)
        return Error(ErrorCode::invalid_argument, "required field missing");
    if (out.size_bytes > kVhdMaxSizeBytes)
        return Error(ErrorCode::out_of_range, "a VHDX holds at most 64 TiB");
    if (out.size_bytes % out.logical_sector_bytes != 0)
        return Error(ErrorCode::invalid_argument,
                     "the size is not a whole number of logical sectors");
    error.field = {};
    return {};
}

ErrorOr<uint64_t> parse_vhd_resize(JsonValue body, FieldError& error) {
    static constexpr std::string_view kFields[] = {"size_bytes"};
    uint64_t size = 0;
    TRY(for_each_member(body, kFields, error, [&](JsonValue, JsonValue value) -> ErrorOr<void> {
        size = TRY(read_positive(value, "the size is a positive number of bytes"));
        if (size > kVhdMaxSizeBytes)
            return Error(ErrorCode::out_of_range, "a VHDX holds at most 64 TiB");
        return {};
    }));
    if (size == 0) {
        error.field = "size_bytes";
        return Error(ErrorCode::invalid_argument, "required field missing");
    }
    return size;
}

ErrorOr<void> parse_vm_disk(JsonValue body, FilePath& path, bool& read_only, FieldError& error) {
    static constexpr std::string_view kFields[] = {"path", "read_only"};
    path = FilePath{};
    read_only = false;
    TRY(for_each_member(body, kFields, error, [&](JsonValue key, JsonValue value) -> ErrorOr<void> {
        if (key.string_equals("path"))
            return read_vhd_path(value, path);
        read_only = TRY(value.as_bool());
        return {};
    }));
    if (path.empty()) {
        error.field = "path";
        return Error(ErrorCode::invalid_argument, "required field missing");
    }
    return {};
}

ErrorOr<uint32_t> parse_lun(std::string_view text) {
    if (text.empty() || text.size() > 2)
        return Error(ErrorCode::invalid_argument, "a LUN is a number from 0 to 63");
    uint32_t lun = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return Error(ErrorCode::invalid_argument, "a LUN is a number from 0 to 63");
        lun = lun * 10 + uint32_t(c - '0');
    }
    if (lun >= kVmLunsMax)
        return Error(ErrorCode::out_of_range, "a LUN is a number from 0 to 63");
    return lun;
}

} // namespace halcyon::mgmt
