#include "vmm/vmbus/storvsp/vhdx_block_device.hpp"

#include "vhdx/disk_impl.hpp"
#include "vhdx/resize.hpp"

#include <string.h>

namespace halcyon::vmm::storvsp {
namespace {

// Zeros to write from (WRITE SAME of zeros over allocated data).
constexpr uint32_t kZeroBytes = 64 * 1024;
const uint8_t kZeros[kZeroBytes] = {};

} // namespace

VhdxBlockDevice::VhdxBlockDevice(vhdx::Disk& disk, bool read_only)
    : disk_(disk), read_only_(read_only || disk.impl().read_only) {
    refresh();
    __atomic_store_n(&allocated_, count_allocated(), __ATOMIC_RELEASE);
    const vhdx::Guid id = disk.info().disk_id;
    static_assert(sizeof(id) == sizeof(id_.bytes));
    memcpy(id_.bytes, &id, sizeof(id_.bytes));
    id.format({serial_, sizeof(serial_)});
}

void VhdxBlockDevice::refresh() {
    const vhdx::DiskInfo info = disk_.info();
    logical_ = info.logical_sector_size;
    physical_ = info.physical_sector_size < info.logical_sector_size ? info.logical_sector_size
                                                                     : info.physical_sector_size;
    sectors_ = info.virtual_size / logical_;
    block_size_ = info.block_size;
    fixed_ = info.type == vhdx::DiskType::fixed;
    has_parent_ = info.has_parent;
    // A trim releases whole VHDX blocks only, so that is the unit worth sending.
    unmap_granularity_ = fixed_ ? 0 : block_size_ / logical_;
    __atomic_store_n(&payload_blocks_, info.payload_blocks, __ATOMIC_RELEASE);
}

// --- allocation accounting ----------------------------------------------------------------------

namespace {

bool holds_data(vhdx::BlockState state) {
    return state == vhdx::BlockState::fully_present || state == vhdx::BlockState::partially_present;
}

} // namespace

uint64_t VhdxBlockDevice::allocated_in(uint64_t offset, uint64_t length) const {
    if (length == 0)
        return 0;
    uint64_t count = 0;
    const uint64_t last = (offset + length - 1) / block_size_;
    for (uint64_t block = offset / block_size_; block <= last; ++block) {
        auto state = disk_.block_state(block, nullptr);
        count += !state.is_error() && holds_data(state.value()) ? 1 : 0;
    }
    return count;
}

uint64_t VhdxBlockDevice::count_allocated() const {
    const vhdx::BlockStateCounts counts = disk_.info().blocks;
    return counts.fully_present + counts.partially_present;
}

// Only the blocks an operation touches can change state: count them before and after instead
// of walking the whole BAT on every write.
void VhdxBlockDevice::account(uint64_t offset, uint64_t length, uint64_t before) {
    const uint64_t after = allocated_in(offset, length);
    __atomic_store_n(&allocated_, allocated_ - before + after, __ATOMIC_RELEASE);
}

uint64_t VhdxBlockDevice::begin_trim(uint64_t offset, uint64_t length) {
    {
        mm::SpinLockGuard guard(report_lock_);
        if (report_.trims == 0)
            report_.before = allocated_;
    }
    return allocated_in(offset, length);
}

void VhdxBlockDevice::end_trim(uint64_t offset, uint64_t length, uint64_t before) {
    account(offset, length, before);
    mm::SpinLockGuard guard(report_lock_);
    ++report_.trims;
    report_.after = allocated_;
}

VhdxBlockDevice::TrimReport VhdxBlockDevice::take_trim_report() {
    mm::SpinLockGuard guard(report_lock_);
    const TrimReport report = report_;
    report_ = TrimReport{};
    return report;
}

// --- I/O ----------------------------------------------------------------------------------------

ErrorOr<void> VhdxBlockDevice::read(uint64_t lba, std::span<uint8_t> out) {
    return disk_.read(lba * logical_, out);
}

ErrorOr<void> VhdxBlockDevice::write(uint64_t lba, std::span<const uint8_t> data) {
    if (read_only_)
        return Error(ErrorCode::permission, "vhdx device: read-only");
    const uint64_t offset = lba * logical_;
    const uint64_t before = allocated_in(offset, data.size());
    auto written = disk_.write(offset, data);
    account(offset, data.size(), before);
    return written;
}

ErrorOr<void> VhdxBlockDevice::flush() {
    return disk_.flush();
}

ErrorOr<void> VhdxBlockDevice::unmap(uint64_t lba, uint64_t count) {
    if (read_only_)
        return Error(ErrorCode::permission, "vhdx device: read-only");
    const uint64_t offset = lba * logical_;
    const uint64_t length = count * logical_;
    const uint64_t before = begin_trim(offset, length);
    auto trimmed = disk_.trim(offset, length);
    end_trim(offset, length, before);
    return trimmed;
}

bool VhdxBlockDevice::block_reads_zero(uint64_t block) const {
    uint64_t file_offset = 0;
    auto state = disk_.block_state(block, &file_offset);
    if (state.is_error())
        return false;
    switch (state.value()) {
    case vhdx::BlockState::zero:
    case vhdx::BlockState::unmapped:
        return true;
    case vhdx::BlockState::not_present:
        // Without a parent an absent block reads zeros; with one the parent shows through.
        return !has_parent_;
    default:
        return false;
    }
}

ErrorOr<void> VhdxBlockDevice::write_zero_bytes(uint64_t offset, uint64_t length) {
    const uint64_t end = offset + length;
    while (offset < end) {
        const uint64_t block = offset / block_size_;
        const uint64_t block_end = (block + 1) * uint64_t{block_size_};
        const uint64_t piece_end = block_end < end ? block_end : end;
        // Zeros over a block that already reads as zeros would only allocate it.
        if (!block_reads_zero(block)) {
            for (uint64_t at = offset; at < piece_end;) {
                uint64_t bytes = piece_end - at < kZeroBytes ? piece_end - at : kZeroBytes;
                TRY(disk_.write(at, {kZeros, static_cast<size_t>(bytes)}));
                at += bytes;
            }
        }
        offset = piece_end;
    }
    return {};
}

ErrorOr<void> VhdxBlockDevice::write_zeroes(uint64_t lba, uint64_t count, bool may_unmap) {
    if (read_only_)
        return Error(ErrorCode::permission, "vhdx device: read-only");
    const uint64_t offset = lba * logical_;
    const uint64_t end = offset + count * logical_;
    if (!may_unmap || fixed_) {
        const uint64_t before = allocated_in(offset, end - offset);
        auto zeroed = write_zero_bytes(offset, end - offset);
        account(offset, end - offset, before);
        return zeroed;
    }
    // Whole blocks are trimmed (they read as zeros afterwards, also in a differencing disk);
    // the partial blocks at either end, which a trim leaves alone, get real zeros. The same
    // alignment rule as Disk::trim: a range reaching the end of the disk covers the last block.
    const uint64_t virtual_size = sectors_ * logical_;
    const uint64_t aligned_start = (offset + block_size_ - 1) / block_size_ * block_size_;
    const uint64_t aligned_end = end == virtual_size ? end : end / block_size_ * block_size_;
    const uint64_t before = begin_trim(offset, end - offset);
    auto zeroed = [&]() -> ErrorOr<void> {
        if (aligned_start >= aligned_end)
            return write_zero_bytes(offset, end - offset);
        TRY(disk_.trim(aligned_start, aligned_end - aligned_start));
        TRY(write_zero_bytes(offset, aligned_start - offset));
        return write_zero_bytes(aligned_end, end - aligned_end);
    }();
    end_trim(offset, end - offset, before);
    return zeroed;
}

ErrorOr<void> VhdxBlockDevice::resize(uint64_t new_sector_count) {
    if (read_only_)
        return Error(ErrorCode::permission, "vhdx device: read-only");
    if (has_parent_)
        return Error(ErrorCode::not_supported, "vhdx device: a differencing disk cannot resize");
    auto resized = vhdx::resize(disk_, new_sector_count * logical_);
    refresh();
    __atomic_store_n(&allocated_, count_allocated(), __ATOMIC_RELEASE);
    return resized;
}

} // namespace halcyon::vmm::storvsp
