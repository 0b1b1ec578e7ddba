// A VmHost for tests (unit tests, the fuzzer and the end-to-end test server): VMs are records
// with a state machine like Hyper-V's, consoles are strings (input is echoed back the way a
// shell on a serial line would), files are kept in memory. Host-only code: std containers.
#pragma once

#include "mgmt/api/vm_host.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace halcyon::mgmt::testing {

class FakeVmHost : public VmHost {
public:
    static constexpr uint32_t kMaxVms = 16;

    struct FakeVm {
        VmInfo info;
        std::string console; // output so far (offset 0 = first byte ever)
        std::string input;   // everything typed
    };
    struct FakeFile {
        uint64_t size = 0;
        std::vector<uint8_t> data;
        std::vector<bool> have;
    };

    ErrorOr<HostInfo> host_info() override {
        HostInfo info;
        (void)info.name.assign("fakehost");
        (void)info.version.assign("0.1.0-test");
        (void)info.virtualization.assign("svm");
        info.logical_processors = 4;
        info.memory_bytes = 8ULL << 30;
        info.memory_free_bytes = info.memory_bytes - committed_memory();
        info.uptime_ms = 123456;
        return info;
    }

    uint32_t vm_count() override { return uint32_t(vms_.size()); }

    ErrorOr<VmInfo> vm_at(uint32_t index) override {
        if (index >= vms_.size())
            return Error(ErrorCode::not_found, "no such VM");
        return vms_[index].info;
    }

    ErrorOr<VmInfo> find_vm(std::string_view name) override {
        FakeVm* vm = find(name);
        if (!vm)
            return Error(ErrorCode::not_found, "no VM with this name");
        return vm->info;
    }

    ErrorOr<void> create_vm(const VmSpec& spec) override {
        if (find(spec.name.view()))
            return Error(ErrorCode::already_exists, "a VM with this name exists");
        if (vms_.size() == kMaxVms)
            return Error(ErrorCode::out_of_memory, "no room for another VM");
        FakeVm vm;
        vm.info.spec = spec;
        vms_.push_back(vm);
        log("created VM " + std::string(spec.name.view()));
        return {};
    }

    ErrorOr<void> set_vm(std::string_view name, const VmChanges& changes) override {
        FakeVm* vm = TRY(require(name));
        bool hardware = changes.memory_bytes || changes.vcpus;
        if (hardware && vm->info.state != VmState::off)
            return Error(ErrorCode::busy, "memory and processors change only while the VM is off");
        VmSpec& spec = vm->info.spec;
        if (changes.memory_bytes)
            spec.memory_bytes = *changes.memory_bytes;
        if (changes.vcpus)
            spec.vcpus = *changes.vcpus;
        if (changes.kernel)
            spec.kernel = *changes.kernel;
        if (changes.initrd)
            spec.initrd = *changes.initrd;
        if (changes.command_line)
            spec.command_line = *changes.command_line;
        if (changes.disks_present) {
            spec.disk_count = changes.disk_count;
            std::copy(changes.disks, changes.disks + kVmDisksMax, spec.disks);
        }
        log("changed VM " + std::string(name));
        return {};
    }

    ErrorOr<void> remove_vm(std::string_view name) override {
        FakeVm* vm = TRY(require(name));
        if (vm->info.state != VmState::off)
            return Error(ErrorCode::busy, "the VM must be off to be removed");
        vms_.erase(vms_.begin() + (vm - vms_.data()));
        log("removed VM " + std::string(name));
        return {};
    }

    ErrorOr<void> start_vm(std::string_view name) override {
        FakeVm* vm = TRY(require(name));
        if (vm->info.state != VmState::off)
            return Error(ErrorCode::busy, "the VM is not off");
        vm->info.state = VmState::running;
        vm->info.uptime_ms = 1;
        vm->console += "Booting " + std::string(name) + "\r\n# ";
        log("started VM " + std::string(name));
        return {};
    }

    ErrorOr<void> stop_vm(std::string_view name, StopMode mode) override {
        FakeVm* vm = TRY(require(name));
        if (vm->info.state == VmState::off)
            return Error(ErrorCode::busy, "the VM is already off");
        if (mode == StopMode::graceful && vm->info.state != VmState::running)
            return Error(ErrorCode::busy, "only a running VM can shut down gracefully");
        // The fake guest honours the power button at once.
        vm->info.state = VmState::off;
        vm->info.uptime_ms = 0;
        last_stop_mode = mode;
        log("stopped VM " + std::string(name));
        return {};
    }

    ErrorOr<void> restart_vm(std::string_view name) override {
        FakeVm* vm = TRY(require(name));
        if (vm->info.state != VmState::running)
            return Error(ErrorCode::busy, "the VM is not running");
        vm->info.uptime_ms = 1;
        vm->console += "\r\nRebooting\r\n# ";
        return {};
    }

    ErrorOr<void> suspend_vm(std::string_view name) override {
        FakeVm* vm = TRY(require(name));
        if (vm->info.state != VmState::running)
            return Error(ErrorCode::busy, "the VM is not running");
        vm->info.state = VmState::suspended;
        return {};
    }

    ErrorOr<void> resume_vm(std::string_view name) override {
        FakeVm* vm = TRY(require(name));
        if (vm->info.state != VmState::suspended)
            return Error(ErrorCode::busy, "the VM is not paused");
        vm->info.state = VmState::running;
        return {};
    }

    ErrorOr<StreamRead> read_log(uint64_t since, std::span<char> out) override {
        return read_stream(log_text, log_dropped, since, out);
    }

    ErrorOr<StreamRead> read_console(std::string_view name, uint64_t since,
                                     std::span<char> out) override {
        FakeVm* vm = TRY(require(name));
        return read_stream(vm->console, 0, since, out);
    }

    ErrorOr<size_t> write_console(std::string_view name, std::span<const uint8_t> input) override {
        FakeVm* vm = TRY(require(name));
        if (vm->info.state != VmState::running)
            return Error(ErrorCode::busy, "the VM is not running");
        // A shell on a serial line: echo, and answer each line with a prompt.
        for (uint8_t byte : input) {
            vm->input += char(byte);
            if (byte == '\r' || byte == '\n') {
                std::string line = current_line(*vm);
                vm->console += "\r\n";
                if (line.rfind("echo ", 0) == 0)
                    vm->console += line.substr(5) + "\r\n";
                vm->console += "# ";
            } else {
                vm->console += char(byte);
            }
        }
        return input.size();
    }

    ErrorOr<FileStatus> write_file(std::string_view path, uint64_t offset, uint64_t total_size,
                                   std::span<const uint8_t> data) override {
        if (total_size > kMaxFileSize)
            return Error(ErrorCode::out_of_memory, "file larger than the upload area");
        FakeFile& file = files[std::string(path)];
        if (offset == 0 || file.size != total_size) {
            file = FakeFile{};
            file.size = total_size;
            file.data.assign(total_size, 0);
            file.have.assign(total_size, false);
        }
        if (offset > total_size || data.size() > total_size - offset)
            return Error(ErrorCode::out_of_range, "chunk outside the file");
        std::copy(data.begin(), data.end(), file.data.begin() + long(offset));
        std::fill(file.have.begin() + long(offset), file.have.begin() + long(offset + data.size()),
                  true);
        FileStatus status;
        status.size = total_size;
        status.received = uint64_t(std::count(file.have.begin(), file.have.end(), true));
        return status;
    }

    // For tests: make the log drop its oldest bytes, as a ring buffer would.
    void drop_log_prefix(size_t count) {
        count = std::min(count, log_text.size());
        log_text.erase(0, count);
        log_dropped += count;
    }

    static constexpr uint64_t kMaxFileSize = 64ULL << 20;
    std::string log_text;
    uint64_t log_dropped = 0;
    std::map<std::string, FakeFile> files;
    std::vector<FakeVm> vms_;
    StopMode last_stop_mode = StopMode::graceful;

private:
    uint64_t committed_memory() const {
        uint64_t total = 0;
        for (const FakeVm& vm : vms_) {
            if (vm.info.state != VmState::off)
                total += vm.info.spec.memory_bytes;
        }
        return total;
    }

    FakeVm* find(std::string_view name) {
        for (FakeVm& vm : vms_) {
            if (vm.info.spec.name.view() == name)
                return &vm;
        }
        return nullptr;
    }

    ErrorOr<FakeVm*> require(std::string_view name) {
        FakeVm* vm = find(name);
        if (!vm)
            return Error(ErrorCode::not_found, "no VM with this name");
        return vm;
    }

    static std::string current_line(const FakeVm& vm) {
        std::string text = vm.input.substr(0, vm.input.size() - 1);
        size_t start = text.find_last_of("\r\n");
        return start == std::string::npos ? text : text.substr(start + 1);
    }

    void log(const std::string& line) { log_text += line + "\n"; }

    static ErrorOr<StreamRead> read_stream(const std::string& text, uint64_t dropped,
                                           uint64_t since, std::span<char> out) {
        uint64_t end = dropped + text.size();
        StreamRead read;
        read.first = std::clamp(since, dropped, end);
        read.length = size_t(std::min<uint64_t>(out.size(), end - read.first));
        std::copy_n(text.data() + (read.first - dropped), read.length, out.data());
        read.next = read.first + read.length;
        return read;
    }
};

} // namespace halcyon::mgmt::testing
