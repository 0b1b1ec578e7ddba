// A fake NVMe controller behind RegisterWindow: CAP/VS/CC/CSTS with the enable and reset
// handshake taking time, the admin queue from AQA/ASQ/ACQ, doorbells that make it fetch
// submission entries from (fake) DMA memory and post completions with phase tags, Identify
// (controller, active namespace list, namespace), Create I/O CQ/SQ, and Read/Write/Flush on one
// namespace with PRP lists walked as a controller does. Writes go through DiskImage's cache
// model unless FUA is set; Flush commits.
#pragma once

#include "drivers/block/nvme_spec.hpp"
#include "drivers/block/register_window.hpp"
#include "tests/unit/block_test_support.hpp"

#include <map>
#include <optional>
#include <string>

namespace halcyon::test {

namespace nv = halcyon::drivers::block::nvme;

class FakeNvme final : public RegisterWindow {
public:
    FakeNvme(FakeDmaMemory& dma, FakeClock& clock, uint32_t lba_shift, uint64_t blocks)
        : disk(1u << lba_shift, blocks), lba_shift(lba_shift), dma_(dma), clock_(clock) {
        clock.on_tick = [this](uint64_t now) { tick(now); };
    }

    // ---- knobs ----
    DiskImage disk;
    uint32_t lba_shift;
    uint64_t cap = uint64_t(63) /* MQES: 64 entries */ | 1ull << 16 /* CQR */ |
                   2ull << 24 /* TO: 1 s */ | 1ull << 37 /* NVM command set */ |
                   4ull << 52 /* MPSMAX 64 KiB */;
    uint32_t ready_delay_us = 100;
    bool never_ready = false;
    bool fatal = false;
    uint32_t latency_us = 0;
    bool never_complete = false;
    uint8_t mdts = 5; // 2^5 pages = 128 KiB
    bool volatile_write_cache = true;
    bool write_protected = false;
    uint16_t metadata_bytes = 0;
    bool active_list_supported = true;
    uint32_t namespace_id = 1;
    std::string model = "HALCYON FAKE NVME";
    std::string serial = "FAKE-0001";
    // Answer the next command with this opcode on an I/O queue with (type << 8 | code).
    std::map<uint8_t, uint16_t> fail_io;

    // ---- observations ----
    struct Command {
        uint16_t queue;
        nv::SubmissionEntry entry;
    };
    std::vector<Command> commands;
    uint32_t cc_writes_while_enabled = 0;
    size_t list_pages_walked = 0;
    bool enabled() const { return (cc_ & nv::kCcEnable) != 0; }
    size_t io_commands(uint8_t opcode) const {
        size_t n = 0;
        for (const Command& c : commands)
            n += c.queue != 0 && (c.entry.cdw0 & 0xFF) == opcode;
        return n;
    }

    // Firmware left the controller enabled and ready.
    void start_enabled() {
        cc_ = nv::kCcEnable;
        ready_ = true;
    }

    // ---- RegisterWindow ----
    uint32_t read32(uint32_t offset) override {
        switch (offset) {
        case nv::kCap:
            return static_cast<uint32_t>(cap);
        case nv::kCap + 4:
            return static_cast<uint32_t>(cap >> 32);
        case nv::kVersion:
            return 0x0001'0400;
        case nv::kCc:
            return cc_;
        case nv::kCsts:
            return (ready_ ? nv::kCstsReady : 0) | (fatal ? nv::kCstsFatal : 0);
        default:
            return regs_[offset];
        }
    }

    void write32(uint32_t offset, uint32_t value) override {
        if (offset == nv::kCc) {
            write_cc(value);
            return;
        }
        if (offset >= nv::kDoorbellBase) {
            doorbell(offset, value);
            return;
        }
        regs_[offset] = value;
    }

private:
    struct Queue {
        uint64_t address = 0;
        uint16_t size = 0;
        uint16_t head = 0; // SQ: next to fetch; CQ: as the host reported
        uint16_t tail = 0; // SQ: as the host wrote; CQ: next to post
        bool phase = true; // CQ only
        uint16_t cq = 0;   // SQ only
    };

    uint64_t reg64(uint32_t offset) {
        return uint64_t(regs_[offset]) | uint64_t(regs_[offset + 4]) << 32;
    }

    void write_cc(uint32_t value) {
        const bool was = enabled();
        if (was && ready_ && (value & nv::kCcEnable) != 0)
            ++cc_writes_while_enabled;
        cc_ = value;
        if (!was && (value & nv::kCcEnable) != 0) {
            EXPECT_EQ((value >> 16) & 0xF, 6u) << "IOSQES";
            EXPECT_EQ((value >> 20) & 0xF, 4u) << "IOCQES";
            EXPECT_EQ((value >> 7) & 0xF, 0u) << "MPS 4 KiB";
            EXPECT_EQ((value >> 4) & 0x7, 0u) << "NVM command set";
            transition_at_ = clock_.now_us + ready_delay_us;
            target_ready_ = true;
        } else if (was && (value & nv::kCcEnable) == 0) {
            transition_at_ = clock_.now_us + ready_delay_us;
            target_ready_ = false;
        }
        tick(clock_.now_us);
    }

    void tick(uint64_t now) {
        if (transition_at_ && now >= *transition_at_) {
            transition_at_.reset();
            if (target_ready_ && !never_ready) {
                ready_ = true;
                const uint32_t aqa = regs_[nv::kAqa];
                sq_.clear();
                cq_.clear();
                sq_[0] = Queue{reg64(nv::kAsq), static_cast<uint16_t>((aqa & 0xFFF) + 1)};
                cq_[0] = Queue{reg64(nv::kAcq), static_cast<uint16_t>(((aqa >> 16) & 0xFFF) + 1)};
            } else if (!target_ready_) {
                ready_ = false; // reset: every queue is gone
                sq_.clear();
                cq_.clear();
            }
        }
        if (due_ && now >= *due_) {
            due_.reset();
            process();
        }
    }

    void doorbell(uint32_t offset, uint32_t value) {
        const uint32_t stride = nv::cap_doorbell_stride(cap);
        const uint32_t index = (offset - nv::kDoorbellBase) / stride;
        const uint16_t queue = static_cast<uint16_t>(index / 2);
        if (index % 2 == 1) {
            ASSERT_TRUE(cq_.count(queue)) << "head doorbell of a queue that does not exist";
            cq_[queue].head = static_cast<uint16_t>(value);
            return;
        }
        ASSERT_TRUE(sq_.count(queue)) << "tail doorbell of a queue that does not exist";
        ASSERT_TRUE(ready_) << "doorbell before CSTS.RDY";
        ASSERT_LT(value, sq_[queue].size);
        sq_[queue].tail = static_cast<uint16_t>(value);
        if (latency_us == 0)
            process();
        else
            due_ = clock_.now_us + latency_us;
    }

    void process() {
        for (auto& [id, sq] : sq_) {
            while (sq.head != sq.tail) {
                nv::SubmissionEntry entry;
                if (uint8_t* p = dma_.at(sq.address + 64ull * sq.head, 64))
                    std::memcpy(&entry, p, 64);
                sq.head = static_cast<uint16_t>((sq.head + 1) % sq.size);
                commands.push_back({id, entry});
                if (never_complete)
                    continue;
                const uint16_t status = id == 0 ? admin(entry) : io(entry);
                post(sq.cq, id, sq.head, static_cast<uint16_t>(entry.cdw0 >> 16), status);
            }
        }
    }

    void post(uint16_t cq_id, uint16_t sq_id, uint16_t sq_head, uint16_t cid, uint16_t status) {
        Queue& cq = cq_[cq_id];
        ASSERT_NE((cq.tail + 1) % cq.size, cq.head) << "completion queue overflow";
        nv::CompletionEntry entry{};
        entry.sq_head = sq_head;
        entry.sq_id = sq_id;
        entry.command_id = cid;
        entry.status = static_cast<uint16_t>(status << 1 | (cq.phase ? 1 : 0));
        if (uint8_t* p = dma_.at(cq.address + 16ull * cq.tail, 16))
            std::memcpy(p, &entry, 16);
        cq.tail = static_cast<uint16_t>(cq.tail + 1);
        if (cq.tail == cq.size) {
            cq.tail = 0;
            cq.phase = !cq.phase;
        }
    }

    // Status values are (type << 8 | code), shifted into place by post().
    static constexpr uint16_t kInvalidOpcode = 0x001;
    static constexpr uint16_t kInvalidField = 0x002;
    static constexpr uint16_t kInvalidNamespace = 0x00B;
    static constexpr uint16_t kLbaOutOfRange = 0x080;
    static constexpr uint16_t kInvalidQueueId = 0x101;
    static constexpr uint16_t kWriteProtected = 0x020;

    uint16_t admin(const nv::SubmissionEntry& e) {
        const uint8_t opcode = e.cdw0 & 0xFF;
        if (opcode == nv::kAdminIdentify) {
            uint8_t* page = dma_.at(e.prp1, 4096);
            if (page == nullptr)
                return kInvalidField;
            std::memset(page, 0, 4096);
            switch (e.cdw10 & 0xFF) {
            case nv::kIdentifyController:
                std::memset(page + nv::kIdSerial, ' ', 20);
                std::memcpy(page + nv::kIdSerial, serial.data(), serial.size());
                std::memset(page + nv::kIdModel, ' ', 40);
                std::memcpy(page + nv::kIdModel, model.data(), model.size());
                page[nv::kIdMdts] = mdts;
                page[nv::kIdSqes] = 0x66;
                page[nv::kIdCqes] = 0x44;
                page[nv::kIdNamespaceCount] = 1;
                page[nv::kIdVolatileWriteCache] = volatile_write_cache ? 1 : 0;
                return 0;
            case nv::kIdentifyActiveNamespaces:
                if (!active_list_supported)
                    return kInvalidField;
                std::memcpy(page, &namespace_id, 4);
                return 0;
            case nv::kIdentifyNamespace: {
                if (e.nsid != namespace_id)
                    return kInvalidNamespace;
                const uint64_t blocks = disk.sectors();
                std::memcpy(page + nv::kNsSize, &blocks, 8);
                page[nv::kNsLbaFormatCount] = 1; // two formats: 512 and ours
                page[nv::kNsFormattedLbaSize] = 1;
                const uint32_t format0 = 9u << 16;
                const uint32_t format1 = lba_shift << 16 | metadata_bytes;
                std::memcpy(page + nv::kNsLbaFormats, &format0, 4);
                std::memcpy(page + nv::kNsLbaFormats + 4, &format1, 4);
                page[nv::kNsAttributes] = write_protected ? 1 : 0;
                return 0;
            }
            default:
                return kInvalidField;
            }
        }
        if (opcode == nv::kAdminCreateIoCq || opcode == nv::kAdminCreateIoSq) {
            const uint16_t id = e.cdw10 & 0xFFFF;
            const uint16_t size = static_cast<uint16_t>((e.cdw10 >> 16) + 1);
            if (id == 0 || size > nv::cap_max_queue_entries(cap) || (e.cdw11 & 1) == 0)
                return kInvalidQueueId;
            if (opcode == nv::kAdminCreateIoCq) {
                cq_[id] = Queue{e.prp1, size};
            } else {
                const uint16_t cq = static_cast<uint16_t>(e.cdw11 >> 16);
                if (!cq_.count(cq))
                    return kInvalidQueueId;
                Queue sq{e.prp1, size};
                sq.cq = cq;
                sq_[id] = sq;
            }
            return 0;
        }
        return kInvalidOpcode;
    }

    // The data segments PRP1/PRP2 describe for `length` bytes, walking lists as a controller.
    std::vector<std::pair<uint64_t, uint32_t>> prp_segments(uint64_t prp1, uint64_t prp2,
                                                            uint64_t length) {
        std::vector<std::pair<uint64_t, uint32_t>> out;
        EXPECT_EQ(prp1 & 3, 0u) << "PRP1 dword aligned";
        const uint64_t first = std::min<uint64_t>(length, 4096 - (prp1 & 4095));
        out.push_back({prp1, static_cast<uint32_t>(first)});
        uint64_t left = length - first;
        if (left == 0)
            return out;
        if (left <= 4096) {
            EXPECT_EQ(prp2 & 4095, 0u) << "PRP2 names a page";
            out.push_back({prp2, static_cast<uint32_t>(left)});
            return out;
        }
        EXPECT_EQ(prp2 & 7, 0u) << "PRP list qword aligned";
        uint64_t slot = prp2;
        ++list_pages_walked;
        while (left > 0) {
            uint64_t entry = 0;
            if (uint8_t* p = dma_.at(slot, 8))
                std::memcpy(&entry, p, 8);
            if ((slot & 4095) == 4088 && left > 4096) {
                slot = entry; // the last entry of a full list page chains to the next
                ++list_pages_walked;
                continue;
            }
            EXPECT_EQ(entry & 4095, 0u) << "list entries name pages";
            const uint32_t piece = static_cast<uint32_t>(std::min<uint64_t>(left, 4096));
            out.push_back({entry, piece});
            left -= piece;
            slot += 8;
        }
        return out;
    }

    uint16_t io(const nv::SubmissionEntry& e) {
        const uint8_t opcode = e.cdw0 & 0xFF;
        if (auto failure = fail_io.find(opcode); failure != fail_io.end()) {
            const uint16_t status = failure->second;
            fail_io.erase(failure);
            return status;
        }
        if (e.nsid != namespace_id)
            return kInvalidNamespace;
        if (opcode == nv::kIoFlush) {
            disk.flush();
            return 0;
        }
        if (opcode != nv::kIoRead && opcode != nv::kIoWrite)
            return kInvalidOpcode;
        const bool write = opcode == nv::kIoWrite;
        if (write && write_protected)
            return kWriteProtected;
        const uint64_t lba = uint64_t(e.cdw11) << 32 | e.cdw10;
        const uint64_t count = (e.cdw12 & 0xFFFF) + 1;
        const bool fua = (e.cdw12 & nv::kCdw12ForceUnitAccess) != 0;
        if (lba + count > disk.sectors())
            return kLbaOutOfRange;
        const uint64_t bytes = count << lba_shift;
        EXPECT_LE(bytes, (uint64_t(1) << mdts) * 4096) << "transfer over MDTS";
        std::vector<uint8_t> data(bytes);
        if (write) {
            size_t done = 0;
            for (auto [address, length] : prp_segments(e.prp1, e.prp2, bytes)) {
                if (uint8_t* p = dma_.at(address, length))
                    std::memcpy(data.data() + done, p, length);
                done += length;
            }
            disk.write(lba, data.data(), count, fua || !volatile_write_cache);
        } else {
            disk.read(lba, data.data(), count);
            size_t done = 0;
            for (auto [address, length] : prp_segments(e.prp1, e.prp2, bytes)) {
                if (uint8_t* p = dma_.at(address, length))
                    std::memcpy(p, data.data() + done, length);
                done += length;
            }
        }
        return 0;
    }

    FakeDmaMemory& dma_;
    FakeClock& clock_;
    std::map<uint32_t, uint32_t> regs_;
    uint32_t cc_ = 0;
    bool ready_ = false;
    std::optional<uint64_t> transition_at_;
    bool target_ready_ = false;
    std::map<uint16_t, Queue> sq_;
    std::map<uint16_t, Queue> cq_;
    std::optional<uint64_t> due_;
};

} // namespace halcyon::test
