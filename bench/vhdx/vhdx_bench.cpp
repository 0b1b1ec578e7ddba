// vhdx_bench: throughput of our VHDX library against qemu (qemu-img/qemu-io on the same kind of
// file, in the same run) and raw file I/O (the ceiling), printed as a table.
//
//   vhdx_bench [--size-mib N] [--dir DIR]      (default 2048 MiB in a fresh /tmp directory)
//
// Every contender goes through the page cache (qemu-io runs with -t writeback, qemu-img with its
// defaults); writes end with a flush (fdatasync / qemu-io flush). Request sizes are the same for
// all: 4 MiB sequential, 4 KiB random at the same seeded offsets. qemu-io is driven by a command
// script on its standard input, so its per-command parsing and printing are part of its figure
// (the random rows are the ones where that matters).
#include "bench_runner.hpp"
#include "vhdx/disk.hpp"
#include "vhdx/ops/convert.hpp"
#include "vhdx/ops/merge.hpp"
#include "vhdx/tool/file_block_io.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <unistd.h>

using namespace halcyon;
using namespace halcyon::vhdx;
using namespace vhdx_bench;
using halcyon::vhdx::tool::FileBlockIo;

namespace {

using halcyon::vhdx::kMiB;
constexpr uint64_t kSeqChunk = 4 * kMiB;
constexpr int kRandomOps = 20000;

uint64_t g_size = 2048 * kMiB;
std::string g_dir;

std::string path(const char* name) {
    return g_dir + "/" + name;
}

template <typename T>
T must(ErrorOr<T>&& result, const char* what) {
    if (result.is_error())
        die(std::string(what) + ": " + result.error().message());
    return result.release_value();
}
void must(ErrorOr<void>&& result, const char* what) {
    if (result.is_error())
        die(std::string(what) + ": " + result.error().message());
}

struct Session {
    std::unique_ptr<FileBlockIo> io;
    tool::FileParentResolver resolver;
    tool::UrandomSource random;
    tool::MallocAllocator allocator;
    Disk* disk = nullptr;
};

std::unique_ptr<Session> open_ours(const std::string& file, bool create, bool writable,
                                   DiskType type = DiskType::dynamic,
                                   const char* parent = nullptr) {
    auto s = std::make_unique<Session>();
    std::string error;
    s->io = FileBlockIo::open(
        file,
        create ? FileBlockIo::Mode::create
               : (writable ? FileBlockIo::Mode::read_write : FileBlockIo::Mode::read_only),
        error);
    if (!s->io)
        die(error);
    s->resolver.register_file(*s->io);
    if (create) {
        CreateOptions options;
        options.type = type;
        options.virtual_size = type == DiskType::differencing ? 0 : g_size;
        options.block_size = 32 * kMiB;
        options.random = &s->random;
        if (parent != nullptr) {
            options.parent_resolver = &s->resolver;
            options.parent_relative_path = parent;
            options.block_size = 2 * kMiB;
        }
        s->disk = must(Disk::create(*s->io, s->allocator, options), "create");
    } else {
        OpenOptions options;
        options.read_only = !writable;
        options.random = &s->random;
        options.parent_resolver = &s->resolver;
        s->disk = must(Disk::open(*s->io, s->allocator, options), "open");
    }
    return s;
}

int open_raw(const std::string& file, bool create) {
    int fd = open(file.c_str(), create ? O_RDWR | O_CREAT | O_TRUNC : O_RDWR, 0644);
    if (fd < 0)
        die("cannot open " + file);
    return fd;
}

std::vector<uint64_t> random_offsets() {
    std::mt19937_64 engine(42);
    std::vector<uint64_t> offsets(kRandomOps);
    for (auto& o : offsets)
        o = engine() % (g_size / 4096) * 4096;
    return offsets;
}

std::string qemu_size(uint64_t bytes) {
    return std::to_string(bytes);
}

// --- rows ---

Row sequential_write() {
    Row row{"sequential write, 4 MiB requests", double(g_size), 0, 0, 0, ""};
    std::vector<uint8_t> chunk(kSeqChunk, 0xab);
    unlink(path("ours.vhdx").c_str());
    row.ours = time_seconds([&] {
        auto s = open_ours(path("ours.vhdx"), true, true);
        for (uint64_t off = 0; off < g_size; off += kSeqChunk)
            must(s->disk->write(off, chunk), "write");
        must(s->disk->close(), "close");
    });
    unlink(path("qemu.vhdx").c_str());
    shell("qemu-img create -f vhdx -o block_size=32M " + path("qemu.vhdx") + " " +
          qemu_size(g_size));
    std::vector<std::string> script;
    for (uint64_t off = 0; off < g_size; off += kSeqChunk)
        script.push_back("write -P 0xab " + std::to_string(off) + " 4M");
    script.push_back("flush");
    row.qemu = time_seconds([&] { qemu_io_script("vhdx", path("qemu.vhdx"), script); });
    row.raw = time_seconds([&] {
        int fd = open_raw(path("raw.img"), true);
        for (uint64_t off = 0; off < g_size; off += kSeqChunk)
            if (pwrite(fd, chunk.data(), kSeqChunk, off) != ssize_t(kSeqChunk))
                die("raw write");
        fdatasync(fd);
        close(fd);
    });
    row.note = "dynamic disk, new file, ends with flush";
    return row;
}

Row sequential_read() {
    Row row{"sequential read, 4 MiB requests", double(g_size), 0, 0, 0, ""};
    std::vector<uint8_t> chunk(kSeqChunk);
    warm(path("ours.vhdx"));
    row.ours = time_seconds([&] {
        auto s = open_ours(path("ours.vhdx"), false, false);
        for (uint64_t off = 0; off < g_size; off += kSeqChunk)
            must(s->disk->read(off, chunk), "read");
        if (chunk[100] != 0xab)
            die("ours read back wrong data");
        must(s->disk->close(), "close");
    });
    std::vector<std::string> script;
    for (uint64_t off = 0; off < g_size; off += kSeqChunk)
        script.push_back("read " + std::to_string(off) + " 4M");
    warm(path("qemu.vhdx"));
    row.qemu = time_seconds([&] { qemu_io_script("vhdx", path("qemu.vhdx"), script); });
    warm(path("raw.img"));
    row.raw = time_seconds([&] {
        int fd = open_raw(path("raw.img"), false);
        for (uint64_t off = 0; off < g_size; off += kSeqChunk)
            if (pread(fd, chunk.data(), kSeqChunk, off) != ssize_t(kSeqChunk))
                die("raw read");
        close(fd);
    });
    row.note = "each file read once before timing";
    return row;
}

// 4 KiB random I/O at queue depth 1 or 32 (32 = 32 threads; ours serializes them on one lock
// because a Disk is not thread-safe; qemu-io: 32 aio requests then aio_flush to wait).
Row random_io(bool write, int depth) {
    Row row{std::string("4 KiB random ") + (write ? "write" : "read") + ", QD" +
                std::to_string(depth),
            double(kRandomOps) * 4096,
            0,
            0,
            0,
            ""};
    std::vector<uint64_t> offsets = random_offsets();
    auto parallel = [&](const std::function<void(uint64_t)>& op) {
        if (depth == 1) {
            for (uint64_t o : offsets)
                op(o);
            return;
        }
        std::vector<std::thread> threads;
        for (int t = 0; t < depth; ++t)
            threads.emplace_back([&, t] {
                for (size_t i = t; i < offsets.size(); i += depth)
                    op(offsets[i]);
            });
        for (auto& th : threads)
            th.join();
    };
    if (!write)
        warm(path("ours.vhdx"));
    row.ours = time_seconds([&] {
        auto s = open_ours(path("ours.vhdx"), false, write);
        std::mutex lock;
        parallel([&](uint64_t o) {
            uint8_t buffer[4096];
            std::memset(buffer, 0x5c, sizeof(buffer));
            std::lock_guard<std::mutex> guard(lock);
            if (write)
                must(s->disk->write(o, {buffer, 4096}), "write");
            else
                must(s->disk->read(o, {buffer, 4096}), "read");
        });
        must(s->disk->close(), "close");
    });
    std::vector<std::string> script;
    for (size_t i = 0; i < offsets.size(); ++i) {
        std::string verb = depth == 1 ? (write ? "write -P 0x5c " : "read ")
                                      : (write ? "aio_write -P 0x5c " : "aio_read ");
        script.push_back(verb + std::to_string(offsets[i]) + " 4k");
        if (depth > 1 && (i + 1) % depth == 0)
            script.push_back("aio_flush");
    }
    if (depth > 1)
        script.push_back("aio_flush");
    if (write)
        script.push_back("flush");
    if (!write)
        warm(path("qemu.vhdx"));
    row.qemu = time_seconds([&] { qemu_io_script("vhdx", path("qemu.vhdx"), script); });
    if (!write)
        warm(path("raw.img"));
    row.raw = time_seconds([&] {
        int fd = open_raw(path("raw.img"), false);
        parallel([&](uint64_t o) {
            uint8_t buffer[4096];
            std::memset(buffer, 0x5c, sizeof(buffer));
            ssize_t n = write ? pwrite(fd, buffer, 4096, o) : pread(fd, buffer, 4096, o);
            if (n != 4096)
                die("raw random io");
        });
        if (write)
            fdatasync(fd);
        close(fd);
    });
    row.note = depth == 1 ? "20000 ops, allocated disk"
                          : "ours: 32 threads on one Disk lock (not thread-safe)";
    return row;
}

// A raw image half full: every other 4 MiB chunk carries data, the rest is zeros.
void make_half_full_raw(const std::string& file) {
    int fd = open_raw(file, true);
    std::vector<uint8_t> chunk(kSeqChunk);
    std::mt19937_64 engine(7);
    for (auto& b : chunk)
        b = uint8_t(engine() | 1);
    if (ftruncate(fd, off_t(g_size)) != 0)
        die("truncate");
    for (uint64_t off = 0; off < g_size; off += 2 * kSeqChunk)
        if (pwrite(fd, chunk.data(), kSeqChunk, off) != ssize_t(kSeqChunk))
            die("raw write");
    fdatasync(fd);
    close(fd);
}

Row convert_raw_to_dynamic() {
    Row row{"convert raw -> dynamic VHDX (half full)", double(g_size), 0, 0, 0, ""};
    make_half_full_raw(path("source.img"));
    unlink(path("converted.vhdx").c_str());
    row.ours = time_seconds([&] {
        std::string error;
        auto source_io = FileBlockIo::open(path("source.img"), FileBlockIo::Mode::read_only, error);
        ops::RawSource source(*source_io, g_size);
        // As `vhdx convert` does: a new output file needs only the final barrier.
        auto s = open_ours(path("converted.vhdx"), true, true);
        s->io->defer_flushes();
        ops::VhdxSink sink(*s->disk);
        must(ops::copy_image(source, sink, s->allocator, {}), "convert");
        must(s->disk->close(), "close");
        must(s->io->sync(), "sync");
    });
    unlink(path("qemu-converted.vhdx").c_str());
    row.qemu = time_seconds([&] {
        // -t writeback: flushed at the end like ours (qemu-img's default, unsafe, never is).
        shell("qemu-img convert -t writeback -f raw -O vhdx -o block_size=32M " +
              path("source.img") + " " + path("qemu-converted.vhdx"));
    });
    unlink(path("copy.img").c_str());
    row.raw = time_seconds([&] {
        std::string error;
        auto source_io = FileBlockIo::open(path("source.img"), FileBlockIo::Mode::read_only, error);
        auto out = FileBlockIo::open(path("copy.img"), FileBlockIo::Mode::create, error);
        must(out->set_size(g_size), "truncate");
        ops::RawSource source(*source_io, g_size);
        ops::RawSink sink(*out);
        tool::MallocAllocator allocator;
        must(ops::copy_image(source, sink, allocator, {}), "copy");
    });
    row.note = "all end with fdatasync; raw: same copy loop into a sparse raw file";
    return row;
}

Row merge_half_full_child() {
    uint64_t merged = g_size / 2;
    Row row{"merge half-full child into parent", double(merged), 0, 0, 0, ""};
    // Ours: parent = the sequentially written disk (full), child with every other 4 MiB.
    std::vector<uint8_t> chunk(kSeqChunk, 0xcd);
    unlink(path("child.vhdx").c_str());
    {
        auto child = open_ours(path("child.vhdx"), true, true, DiskType::differencing, "ours.vhdx");
        for (uint64_t off = 0; off < g_size; off += 2 * kSeqChunk)
            must(child->disk->write(off, chunk), "child write");
        must(child->disk->close(), "close");
    }
    row.ours = time_seconds([&] {
        auto child = open_ours(path("child.vhdx"), false, true);
        auto parent = open_ours(path("ours.vhdx"), false, true);
        ops::Merger merger = must(
            ops::Merger::start(*child->disk, *parent->disk, child->allocator, {}), "merge start");
        must(merger.run(), "merge");
        must(parent->disk->close(), "close parent");
        must(child->disk->close(), "close child");
    });
    // qemu cannot make differencing VHDX: its nearest operation is `qemu-img commit` of a qcow2
    // overlay holding the same data onto a full qcow2 base.
    unlink(path("base.qcow2").c_str());
    unlink(path("top.qcow2").c_str());
    shell("qemu-img convert -f raw -O qcow2 " + path("raw.img") + " " + path("base.qcow2"));
    shell("qemu-img create -f qcow2 -F qcow2 -b base.qcow2 " + path("top.qcow2"));
    std::vector<std::string> script;
    for (uint64_t off = 0; off < g_size; off += 2 * kSeqChunk)
        script.push_back("write -P 0xcd " + std::to_string(off) + " 4M");
    qemu_io_script("qcow2", path("top.qcow2"), script);
    row.qemu = time_seconds([&] { shell("qemu-img commit -q " + path("top.qcow2")); });
    // Raw: copy the child's chunks into a raw parent (read + write + flush).
    row.raw = time_seconds([&] {
        int source = open_raw(path("source.img"), false);
        int target = open_raw(path("raw.img"), false);
        std::vector<uint8_t> buffer(kSeqChunk);
        for (uint64_t off = 0; off < g_size; off += 2 * kSeqChunk) {
            if (pread(source, buffer.data(), kSeqChunk, off) != ssize_t(kSeqChunk) ||
                pwrite(target, buffer.data(), kSeqChunk, off) != ssize_t(kSeqChunk))
                die("raw merge copy");
        }
        fdatasync(target);
        close(source);
        close(target);
    });
    row.note = "MB/s of merged data; qemu: qcow2 commit";
    return row;
}

} // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--size-mib" && i + 1 < argc)
            g_size = std::strtoull(argv[++i], nullptr, 10) * kMiB;
        else if (arg == "--dir" && i + 1 < argc)
            g_dir = argv[++i];
        else
            die("usage: vhdx_bench [--size-mib N] [--dir DIR]");
    }
    if (g_size < 64 * kMiB || g_size % (8 * kMiB) != 0)
        die("--size-mib must be a multiple of 8, at least 64");
    bool own_dir = g_dir.empty();
    if (own_dir) {
        char pattern[] = "/tmp/vhdx-bench-XXXXXX";
        if (mkdtemp(pattern) == nullptr)
            die("mkdtemp");
        g_dir = pattern;
    }
    std::printf("vhdx_bench: %llu MiB disks in %s\n", (unsigned long long)(g_size / kMiB),
                g_dir.c_str());
    std::vector<Row> rows;
    auto add = [&](Row row) {
        std::fprintf(stderr, "  %s: ours %.2fs qemu %.2fs raw %.2fs\n", row.name.c_str(), row.ours,
                     row.qemu, row.raw);
        rows.push_back(row);
    };
    add(sequential_write());
    add(sequential_read());
    add(random_io(false, 1));
    add(random_io(true, 1));
    add(random_io(false, 32));
    add(random_io(true, 32));
    add(convert_raw_to_dynamic());
    add(merge_half_full_child());
    print_table(rows);
    if (own_dir)
        shell("rm -rf " + g_dir);
    return 0;
}
