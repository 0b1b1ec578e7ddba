#include "mgmt/halctl/commands.hpp"

#include "mgmt/api/json_writer.hpp"
#include "mgmt/halctl/output.hpp"

#include <fstream>
#include <iostream>
#include <unistd.h>
#include <vector>

namespace halcyon::halctl {
namespace {

constexpr size_t kUploadChunk = 64 * 1024; // the server's body limit

std::string json_string(const std::string& text) {
    std::vector<char> buffer(text.size() * 6 + 3);
    mgmt::JsonWriter writer(buffer);
    writer.string(text);
    return std::string(writer.text());
}

// Prints the error of a failed request; returns its exit code.
int report_failure(const Invocation& invocation, const HttpResult& result, std::ostream& out,
                   std::ostream& err) {
    std::string code = "http_" + std::to_string(result.status);
    std::string message = result.body;
    if (auto body = JsonBody::parse(result.body)) {
        if (auto error = body->root().member("error")) {
            code = JsonBody::string(error->member("code"));
            message = JsonBody::string(error->member("message"));
        }
    }
    if (invocation.has("Json"))
        out << result.body << "\n";
    err << "halctl: " << invocation.spec->name << ": " << message << " (" << code << ")\n";
    return exit_code_for_status(result.status);
}

} // namespace

Call call(const Invocation& invocation, HttpClient& client, const std::string& method,
          const std::string& target, const std::string& body, std::ostream& out, std::ostream& err,
          const std::string& content_type) {
    Call call;
    std::string error;
    call.result = client.request(method, target, body, content_type, error);
    if (!call.result) {
        err << "halctl: " << invocation.spec->name << ": " << error << "\n";
        call.exit_code = kExitConnection;
    } else if (call.result->status < 200 || call.result->status > 299) {
        call.exit_code = report_failure(invocation, *call.result, out, err);
        call.result.reset();
    }
    return call;
}

namespace {

// Prints a VM answer: JSON as is, or the table row (New-VM, -Passthru) / details (Get-VM NAME).
int print_vm(const Invocation& invocation, const HttpResult& result, bool details,
             std::ostream& out, std::ostream& err) {
    if (invocation.has("Json")) {
        out << result.body << "\n";
        return kExitOk;
    }
    auto body = JsonBody::parse(result.body);
    if (!body) {
        err << "halctl: the server's answer is not JSON\n";
        return kExitConnection;
    }
    out << (details ? format_vm_details(body->root()) : format_vm_table({body->root()}));
    return kExitOk;
}

int upload(const Invocation& invocation, HttpClient& client, std::ostream& out, std::ostream& err) {
    std::string source = invocation.value("SourcePath");
    std::ifstream file(source, std::ios::binary);
    if (!file) {
        err << "halctl: Copy-VMFile: cannot read " << source << "\n";
        return kExitLocalFile;
    }
    std::vector<char> contents((std::istreambuf_iterator<char>(file)),
                               std::istreambuf_iterator<char>());
    std::string destination = invocation.value("DestinationPath");
    if (destination.empty())
        destination = source.substr(source.find_last_of('/') + 1);
    std::string target = "/v1/files/" + percent_encode(destination, true);
    size_t offset = 0;
    HttpResult last;
    do {
        size_t length = std::min(kUploadChunk, contents.size() - offset);
        // Content-Range carries the offset; an empty file goes as one empty PUT.
        std::string chunk(contents.data() + offset, length);
        std::vector<std::string> headers;
        if (!contents.empty())
            headers.push_back("Content-Range: bytes " + std::to_string(offset) + "-" +
                              std::to_string(offset + length - 1) + "/" +
                              std::to_string(contents.size()));
        std::string error;
        std::optional<HttpResult> put =
            client.request("PUT", target, chunk, "application/octet-stream", error, headers);
        if (!put) {
            err << "halctl: Copy-VMFile: " << error << "\n";
            return kExitConnection;
        }
        if (put->status != 200)
            return report_failure(invocation, *put, out, err);
        last = *put;
        offset += length;
    } while (offset < contents.size());
    if (invocation.has("Json"))
        out << last.body << "\n";
    else
        out << destination << ": " << contents.size() << " bytes copied\n";
    return kExitOk;
}

int show_log(const Invocation& invocation, HttpClient& client, std::ostream& out,
             std::ostream& err) {
    uint64_t since = 0;
    if (invocation.has("Since")) {
        auto parsed = parse_byte_size(invocation.value("Since"));
        if (!parsed) {
            err << "halctl: Get-VMLog: -Since must be a number\n";
            return kExitUsage;
        }
        since = *parsed;
    }
    bool follow = invocation.has("Follow");
    bool json = invocation.has("Json");
    // -Json prints one object for everything read (one per poll with -Follow).
    std::optional<uint64_t> first;
    std::string text;
    for (;;) {
        Call read =
            call(invocation, client, "GET", "/v1/log?since=" + std::to_string(since), "", out, err);
        if (!read.result)
            return read.exit_code;
        auto body = JsonBody::parse(read.result->body);
        if (!body)
            return kExitConnection;
        uint64_t next = JsonBody::number(body->root().member("next"));
        if (!first)
            first = JsonBody::number(body->root().member("first"));
        std::string chunk = JsonBody::string(body->root().member("text"));
        if (json)
            text += chunk;
        else
            out << chunk << std::flush;
        bool more = next != since;
        since = next;
        if (more)
            continue; // a chunk at a time until the end of the log
        if (json && (!text.empty() || !follow)) {
            std::vector<char> buffer(text.size() * 6 + 128);
            mgmt::JsonWriter writer(buffer);
            writer.begin_object();
            writer.field("first", *first);
            writer.field("next", next);
            writer.field("text", text);
            writer.end_object();
            out << writer.text() << "\n" << std::flush;
            text.clear();
            first.reset();
        }
        if (!follow)
            return kExitOk;
        usleep(500'000);
    }
}

} // namespace

int exit_code_for_status(int status) {
    if (status == 401 || status == 403)
        return kExitAuth;
    if (status == 404)
        return kExitNotFound;
    if (status == 409)
        return kExitConflict;
    if (status >= 500)
        return kExitServer;
    return kExitInvalid;
}

std::string percent_encode(const std::string& text, bool keep_slash) {
    static const char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
            (keep_slash && c == '/')) {
            out += char(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

std::string vm_settings_body(const Invocation& invocation, bool include_name, std::string& error) {
    std::string body = "{";
    auto add = [&](const std::string& key, const std::string& json) {
        body += (body.size() > 1 ? "," : "") + json_string(key) + ":" + json;
    };
    if (include_name)
        add("name", json_string(invocation.value("Name")));
    if (invocation.has("MemoryStartupBytes")) {
        auto bytes = parse_byte_size(invocation.value("MemoryStartupBytes"));
        if (!bytes) {
            error = "-MemoryStartupBytes must be a size like 512MB or 2GB";
            return "";
        }
        add("memory_bytes", std::to_string(*bytes));
    }
    if (invocation.has("ProcessorCount")) {
        auto count = parse_byte_size(invocation.value("ProcessorCount"));
        if (!count || invocation.value("ProcessorCount").find_first_not_of("0123456789") !=
                          std::string::npos) {
            error = "-ProcessorCount must be a number";
            return "";
        }
        add("vcpus", std::to_string(*count));
    }
    if (invocation.has("Kernel"))
        add("kernel", json_string(invocation.value("Kernel")));
    if (invocation.has("Initrd"))
        add("initrd", json_string(invocation.value("Initrd")));
    if (invocation.has("CommandLine"))
        add("command_line", json_string(invocation.value("CommandLine")));
    if (invocation.has("Disk")) {
        std::string disks = "[";
        for (std::string disk : invocation.all("Disk")) {
            bool read_only = false;
            if (disk.size() > 3 && (disk.ends_with(":ro") || disk.ends_with(":rw"))) {
                read_only = disk.ends_with(":ro");
                disk.resize(disk.size() - 3);
            }
            disks += (disks.size() > 1 ? "," : "") + std::string("{\"path\":") + json_string(disk) +
                     ",\"read_only\":" + (read_only ? "true" : "false") + "}";
        }
        add("disks", disks + "]");
    }
    return body + "}";
}

int run_command(const Invocation& invocation, HttpClient& client, std::ostream& out,
                std::ostream& err) {
    bool json = invocation.has("Json");
    std::string vm = "/v1/vms/" + percent_encode(invocation.value("Name"), false);
    switch (invocation.verb) {
    case Verb::get_vmhost: {
        Call host = call(invocation, client, "GET", "/v1/host", "", out, err);
        if (!host.result)
            return host.exit_code;
        auto body = JsonBody::parse(host.result->body);
        if (json || !body)
            out << host.result->body << "\n";
        else
            out << format_host(body->root());
        return kExitOk;
    }
    case Verb::get_vm: {
        if (invocation.has("Name")) {
            Call one = call(invocation, client, "GET", vm, "", out, err);
            return one.result ? print_vm(invocation, *one.result, true, out, err) : one.exit_code;
        }
        Call list = call(invocation, client, "GET", "/v1/vms", "", out, err);
        if (!list.result)
            return list.exit_code;
        auto body = JsonBody::parse(list.result->body);
        if (json || !body) {
            out << list.result->body << "\n";
            return kExitOk;
        }
        std::vector<mgmt::JsonValue> vms;
        if (auto array = body->root().member("vms")) {
            for (uint32_t i = 0; i < array->size(); ++i)
                vms.push_back(*array->element(i));
        }
        out << format_vm_table(vms);
        return kExitOk;
    }
    case Verb::new_vm:
    case Verb::set_vm: {
        std::string error;
        bool create = invocation.verb == Verb::new_vm;
        std::string body = vm_settings_body(invocation, create, error);
        if (!error.empty()) {
            err << "halctl: " << invocation.spec->name << ": " << error << "\n";
            return kExitUsage;
        }
        Call changed = call(invocation, client, create ? "POST" : "PATCH", create ? "/v1/vms" : vm,
                            body, out, err);
        if (!changed.result)
            return changed.exit_code;
        // New-VM shows the new VM, as the cmdlet does; Set-VM only with -Passthru.
        if (create || invocation.has("Passthru") || json)
            return print_vm(invocation, *changed.result, false, out, err);
        return kExitOk;
    }
    case Verb::start_vm:
    case Verb::stop_vm:
    case Verb::restart_vm:
    case Verb::suspend_vm:
    case Verb::resume_vm: {
        static const std::map<Verb, std::string> kActions = {{Verb::start_vm, "start"},
                                                             {Verb::stop_vm, "stop"},
                                                             {Verb::restart_vm, "restart"},
                                                             {Verb::suspend_vm, "suspend"},
                                                             {Verb::resume_vm, "resume"}};
        std::string body;
        if (invocation.verb == Verb::stop_vm && invocation.has("TurnOff"))
            body = R"({"mode":"turnoff"})";
        else if (invocation.verb == Verb::stop_vm && invocation.has("Force"))
            body = R"({"mode":"force"})";
        Call action = call(invocation, client, "POST", vm + "/" + kActions.at(invocation.verb),
                           body, out, err);
        if (!action.result)
            return action.exit_code;
        if (invocation.has("Passthru") || json)
            return print_vm(invocation, *action.result, false, out, err);
        return kExitOk;
    }
    case Verb::remove_vm: {
        Call removed = call(invocation, client, "DELETE", vm, "", out, err);
        if (removed.result && json)
            out << removed.result->body << "\n";
        return removed.exit_code;
    }
    case Verb::connect_vm:
        return run_console(invocation.value("Name"), client, err);
    case Verb::get_vmlog:
        return show_log(invocation, client, out, err);
    case Verb::copy_vmfile:
        return upload(invocation, client, out, err);
    case Verb::new_vhd:
    case Verb::get_vhd:
    case Verb::resize_vhd:
    case Verb::get_vmharddiskdrive:
    case Verb::add_vmharddiskdrive:
    case Verb::remove_vmharddiskdrive:
    case Verb::get_vmintegrationservice:
        return run_vhd_command(invocation, client, out, err);
    case Verb::completion:
    case Verb::help:
        break; // handled without a server (main.cpp)
    }
    return kExitUsage;
}

} // namespace halcyon::halctl
