// A VhdHost for tests (unit tests and the end-to-end test server): VHD files are records keyed
// by their canonical path (compared ignoring case, as the exFAT datastore does), a VM's disks
// are a list per VM of the FakeVmHost next to it; a running VM's disks are "online" and its
// integration services answer. Host-only code: std containers.
#pragma once

#include "mgmt/api/vhd_host.hpp"
#include "tests/interop/mgmt/fake_vm_host.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <string>
#include <vector>

namespace halcyon::mgmt::testing {

class FakeVhdHost : public VhdHost {
public:
    explicit FakeVhdHost(FakeVmHost& vms) : vms_(vms) {}

    ErrorOr<VhdInfo> create_vhd(const VhdSpec& spec) override {
        if (files_.count(key(spec.path.view())))
            return Error(ErrorCode::already_exists, "the file exists");
        VhdInfo info;
        info.path = spec.path;
        info.type = spec.type;
        info.size_bytes = spec.size_bytes;
        info.block_size_bytes = spec.block_size_bytes ? spec.block_size_bytes : 32U << 20;
        info.logical_sector_bytes = spec.logical_sector_bytes;
        info.physical_sector_bytes = spec.physical_sector_bytes;
        info.blocks = (spec.size_bytes + info.block_size_bytes - 1) / info.block_size_bytes;
        info.allocated_blocks = spec.type == VhdType::fixed ? info.blocks : 0;
        info.file_size_bytes = 4ULL << 20; // headers, log, BAT, metadata
        if (spec.type == VhdType::fixed)
            info.file_size_bytes += info.blocks * info.block_size_bytes;
        (void)info.disk_id.assign("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0");
        files_[key(spec.path.view())] = info;
        return get_vhd(spec.path.view());
    }

    ErrorOr<VhdInfo> get_vhd(std::string_view path) override {
        auto file = files_.find(key(path));
        if (file == files_.end())
            return Error(ErrorCode::not_found, "no such file on the datastore");
        VhdInfo info = file->second;
        info.attachment_count = 0;
        for (auto& [vm, drives] : drives_) {
            for (const VmHardDiskDrive& drive : drives) {
                if (key(drive.path.view()) != key(path))
                    continue;
                if (info.attachment_count < kVhdAttachmentsMax) {
                    VhdAttachment& attachment = info.attachments[info.attachment_count];
                    (void)attachment.vm.assign(vm);
                    attachment.lun = drive.lun;
                    attachment.read_only = drive.read_only;
                    attachment.online = running(vm);
                }
                ++info.attachment_count;
            }
        }
        return info;
    }

    ErrorOr<VhdInfo> resize_vhd(std::string_view path, uint64_t size_bytes) override {
        auto file = files_.find(key(path));
        if (file == files_.end())
            return Error(ErrorCode::not_found, "no such file on the datastore");
        VhdInfo& info = file->second;
        if (size_bytes % info.logical_sector_bytes != 0)
            return Error(ErrorCode::invalid_argument, "not a whole number of sectors");
        if (size_bytes < info.size_bytes && info.allocated_blocks > 0)
            return Error(ErrorCode::busy, "allocated data lies beyond the new end of the disk");
        info.size_bytes = size_bytes;
        info.blocks = (size_bytes + info.block_size_bytes - 1) / info.block_size_bytes;
        resizes.push_back({std::string(path), size_bytes});
        return get_vhd(path);
    }

    ErrorOr<uint32_t> vm_disks(std::string_view vm, std::span<VmHardDiskDrive> out) override {
        TRY(vms_.find_vm(vm));
        const std::vector<VmHardDiskDrive>& drives = drives_[std::string(vm)];
        for (size_t i = 0; i < drives.size() && i < out.size(); ++i) {
            out[i] = drives[i];
            out[i].online = running(vm);
        }
        return uint32_t(drives.size());
    }

    ErrorOr<VmHardDiskDrive> add_vm_disk(std::string_view vm, std::string_view path,
                                         bool read_only) override {
        TRY(vms_.find_vm(vm));
        if (!files_.count(key(path)))
            return Error(ErrorCode::not_found, "no such file on the datastore");
        std::vector<VmHardDiskDrive>& drives = drives_[std::string(vm)];
        if (drives.size() == kVmDisksMax)
            return Error(ErrorCode::out_of_range, "a VM has at most 8 disks");
        VmHardDiskDrive drive;
        while (std::any_of(drives.begin(), drives.end(),
                           [&](const VmHardDiskDrive& d) { return d.lun == drive.lun; }))
            ++drive.lun;
        (void)drive.path.assign(path);
        drive.read_only = read_only;
        drive.online = running(vm);
        drives.push_back(drive);
        return drive;
    }

    ErrorOr<void> remove_vm_disk(std::string_view vm, uint32_t lun) override {
        TRY(vms_.find_vm(vm));
        std::vector<VmHardDiskDrive>& drives = drives_[std::string(vm)];
        auto found = std::find_if(drives.begin(), drives.end(),
                                  [&](const VmHardDiskDrive& d) { return d.lun == lun; });
        if (found == drives.end())
            return Error(ErrorCode::not_found, "no disk at this LUN");
        drives.erase(found);
        return {};
    }

    ErrorOr<uint32_t> integration_services(std::string_view vm,
                                           std::span<IntegrationService> out) override {
        TRY(vms_.find_vm(vm));
        static constexpr const char* kNames[] = {"Heartbeat", "Key-Value Pair Exchange", "Shutdown",
                                                 "Time Synchronization"};
        uint32_t count = 0;
        for (const char* name : kNames) {
            if (count == out.size())
                break;
            IntegrationService& service = out[count++];
            service = IntegrationService{};
            (void)service.name.assign(name);
            if (running(vm)) {
                service.status = IntegrationStatus::ok;
                service.version_major = 3;
                (void)service.detail.assign("ready");
            }
        }
        return count;
    }

    struct Resize {
        std::string path;
        uint64_t size = 0;
    };
    std::vector<Resize> resizes;

private:
    static std::string key(std::string_view path) {
        std::string lower(path);
        for (char& c : lower)
            c = char(std::tolower(uint8_t(c)));
        return lower;
    }
    bool running(std::string_view vm) {
        ErrorOr<VmInfo> info = vms_.find_vm(vm);
        return !info.is_error() && info.value().state == VmState::running;
    }

    FakeVmHost& vms_;
    std::map<std::string, VhdInfo> files_;
    std::map<std::string, std::vector<VmHardDiskDrive>> drives_;
};

} // namespace halcyon::mgmt::testing
