// halcyon-disktest: the storage workloads of the Linux test guest (tests/guests/linux/init), a
// static Linux program built with the host's C compiler against glibc (libc.a of libc6-dev) so it
// runs in the busybox initramfs. Every byte it writes is a function of a seed, so what a guest
// wrote can be checked again later: by the same guest on its next boot, or on the host.
//
//   halcyon-disktest fill SEED BYTES
//       writes BYTES deterministic bytes to stdout (the files of the file-system check)
//   halcyon-disktest random DEVICE OFFSET_MIB SIZE_MIB OPS [JOBS [SEED]]
//       4 KiB random reads and writes with O_DIRECT in [OFFSET, OFFSET + SIZE) of DEVICE by JOBS
//       processes (default: one per online CPU, each pinned to its own CPU), OPS operations each;
//       every read is verified, and a final pass verifies every block written. Block b belongs
//       to job b % JOBS, so the final contents do not depend on how the jobs interleave.
//   halcyon-disktest random-verify DEVICE OFFSET_MIB SIZE_MIB OPS [JOBS [SEED]]
//       replays the operation sequence of `random` with the same arguments without doing I/O,
//       then verifies that the device holds what that run left (e.g. after a reboot)
//   halcyon-disktest sequential DEVICE OFFSET_MIB SIZE_MIB [SEED]
//       writes the range in 1 MiB O_DIRECT requests, syncs, reads it back and verifies it;
//       reports both throughputs
//
// Results are single lines: "<workload> OK ..." or "<workload> FAILED ..." (exit status 0 / 1).
// A 4 KiB block holds a header (magic, seed, block number, generation, job), bytes derived from
// those, and a CRC-32 of all that, so a bad read says whether the block is stale (an older
// generation), misdirected (another block's data) or corrupt (checksum mismatch).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { kBlock = 4096, kChunk = 1 << 20, kMaxJobs = 256, kErrorText = 200 };
static const char kMagic[8] = {'H', 'L', 'C', 'N', 'B', 'L', 'K', '1'};

struct BlockHeader {
    char magic[8];
    uint64_t seed;
    uint64_t block;
    uint32_t generation;
    uint32_t job;
};

struct JobResult { // in memory shared with the parent
    uint64_t reads, writes, verified;
    uint32_t errors;
    char first_error[kErrorText];
};

static uint64_t splitmix64(uint64_t* state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Deterministic bytes: splitmix64 of a state seeded from `seed`, little endian.
static void fill_bytes(uint8_t* out, size_t length, uint64_t* state) {
    for (size_t i = 0; i < length; i += 8) {
        uint64_t value = splitmix64(state);
        for (size_t j = 0; j < 8 && i + j < length; ++j)
            out[i + j] = (uint8_t)(value >> (8 * j));
    }
}

static uint32_t crc32_ieee(const uint8_t* data, size_t length) {
    static uint32_t table[256];
    if (table[1] == 0) {
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k)
                c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    }
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < length; ++i)
        crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

static void make_block(uint8_t* out, uint64_t seed, uint64_t block, uint32_t generation,
                       uint32_t job) {
    struct BlockHeader header;
    memcpy(header.magic, kMagic, sizeof kMagic);
    header.seed = seed;
    header.block = block;
    header.generation = generation;
    header.job = job;
    memcpy(out, &header, sizeof header);
    uint64_t state = seed ^ (block * 0x100000001B3ull) ^ ((uint64_t)generation << 40);
    fill_bytes(out + sizeof header, kBlock - sizeof header - 4, &state);
    uint32_t crc = crc32_ieee(out, kBlock - 4);
    memcpy(out + kBlock - 4, &crc, 4);
}

// Why `got` is not the expected block (generation `generation` of `block` in run `seed`).
static void describe_mismatch(char* text, const uint8_t* got, uint64_t seed, uint64_t block,
                              uint32_t generation) {
    struct BlockHeader header;
    memcpy(&header, got, sizeof header);
    uint32_t crc;
    memcpy(&crc, got + kBlock - 4, 4);
    const unsigned long long number = (unsigned long long)block;
    if (memcmp(header.magic, kMagic, sizeof kMagic) != 0)
        snprintf(text, kErrorText, "block %llu: no block header (expected generation %u)", number,
                 generation);
    else if (crc != crc32_ieee(got, kBlock - 4))
        snprintf(text, kErrorText,
                 "block %llu: corrupt (checksum mismatch; expected generation %u)", number,
                 generation);
    else if (header.seed != seed)
        snprintf(text, kErrorText, "block %llu: written by another run (seed %llu)", number,
                 (unsigned long long)header.seed);
    else if (header.block != block)
        snprintf(text, kErrorText, "block %llu: misdirected (holds block %llu generation %u)",
                 number, (unsigned long long)header.block, header.generation);
    else if (header.generation < generation)
        snprintf(text, kErrorText, "block %llu: stale (generation %u, expected %u)", number,
                 header.generation, generation);
    else
        snprintf(text, kErrorText, "block %llu: generation %u, expected %u", number,
                 header.generation, generation);
}

static double seconds_since(const struct timespec* start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void record_error(struct JobResult* result, const char* text) {
    if (result->errors++ == 0)
        snprintf(result->first_error, kErrorText, "%s", text);
}

static int io_block(int fd, uint8_t* buffer, off_t offset, int write) {
    ssize_t done = write ? pwrite(fd, buffer, kBlock, offset) : pread(fd, buffer, kBlock, offset);
    return done == kBlock ? 0 : -1;
}

struct RandomRun {
    const char* device;
    uint64_t offset, blocks, ops, seed;
    uint32_t jobs;
    int verify_only;
};

// One job: the operations, then the final verification pass over every block it wrote.
static void random_job(const struct RandomRun* run, uint32_t job, struct JobResult* result) {
    const uint64_t owned = (run->blocks - job + run->jobs - 1) / run->jobs;
    uint32_t* generation = calloc(owned, sizeof *generation);
    uint8_t *buffer, *expected;
    if (generation == NULL || posix_memalign((void**)&buffer, kBlock, kBlock) != 0 ||
        posix_memalign((void**)&expected, kBlock, kBlock) != 0) {
        record_error(result, "out of memory");
        return;
    }
    int fd = open(run->device, O_RDWR | O_DIRECT);
    if (fd < 0) {
        char text[kErrorText];
        snprintf(text, sizeof text, "open %s: %s", run->device, strerror(errno));
        record_error(result, text);
        return;
    }
    uint64_t state = run->seed ^ (0xA5A5A5A5ull * (job + 1));
    char text[kErrorText];
    for (uint64_t i = 0; i < run->ops && owned != 0; ++i) {
        const uint64_t random = splitmix64(&state);
        const uint64_t index = random % owned;
        const uint64_t block = job + index * run->jobs;
        const off_t offset = (off_t)(run->offset + block * kBlock);
        const int write = generation[index] == 0 || (random >> 63) != 0;
        if (write)
            ++generation[index];
        if (run->verify_only)
            continue; // only the final state matters
        if (write) {
            make_block(buffer, run->seed, block, generation[index], job);
            if (io_block(fd, buffer, offset, 1) != 0) {
                snprintf(text, sizeof text, "write block %llu: %s", (unsigned long long)block,
                         strerror(errno));
                record_error(result, text);
                continue;
            }
            ++result->writes;
        } else {
            if (io_block(fd, buffer, offset, 0) != 0) {
                snprintf(text, sizeof text, "read block %llu: %s", (unsigned long long)block,
                         strerror(errno));
                record_error(result, text);
                continue;
            }
            ++result->reads;
            make_block(expected, run->seed, block, generation[index], job);
            if (memcmp(buffer, expected, kBlock) != 0) {
                describe_mismatch(text, buffer, run->seed, block, generation[index]);
                record_error(result, text);
            }
        }
    }
    for (uint64_t index = 0; index < owned; ++index) {
        if (generation[index] == 0)
            continue;
        const uint64_t block = job + index * run->jobs;
        if (io_block(fd, buffer, (off_t)(run->offset + block * kBlock), 0) != 0) {
            snprintf(text, sizeof text, "read block %llu: %s", (unsigned long long)block,
                     strerror(errno));
            record_error(result, text);
            continue;
        }
        make_block(expected, run->seed, block, generation[index], job);
        if (memcmp(buffer, expected, kBlock) != 0) {
            describe_mismatch(text, buffer, run->seed, block, generation[index]);
            record_error(result, text);
        } else {
            ++result->verified;
        }
    }
    close(fd);
}

static int random_workload(const struct RandomRun* run) {
    const char* name = run->verify_only ? "random-verify" : "random";
    struct JobResult* results = mmap(NULL, sizeof(struct JobResult) * run->jobs,
                                     PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (results == MAP_FAILED) {
        printf("%s FAILED mmap: %s\n", name, strerror(errno));
        return 1;
    }
    memset(results, 0, sizeof(struct JobResult) * run->jobs);
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (uint32_t job = 0; job < run->jobs; ++job) {
        pid_t pid = fork();
        if (pid < 0) {
            printf("%s FAILED fork: %s\n", name, strerror(errno));
            return 1;
        }
        if (pid == 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET((int)(job % (cpus > 0 ? cpus : 1)), &set);
            sched_setaffinity(0, sizeof set, &set); // spread the I/O over every vCPU's queue
            random_job(run, job, &results[job]);
            _exit(0);
        }
    }
    int crashed = 0, status;
    while (wait(&status) > 0)
        crashed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    const double elapsed = seconds_since(&start);
    uint64_t reads = 0, writes = 0, verified = 0;
    uint32_t errors = 0;
    const char* first_error = "";
    for (uint32_t job = 0; job < run->jobs; ++job) {
        reads += results[job].reads;
        writes += results[job].writes;
        verified += results[job].verified;
        if (errors == 0 && results[job].errors != 0)
            first_error = results[job].first_error;
        errors += results[job].errors;
    }
    const int ok = errors == 0 && crashed == 0;
    printf(
        "%s %s jobs=%u reads=%llu writes=%llu verified=%llu errors=%u seconds=%.2f iops=%.0f%s%s\n",
        name, ok ? "OK" : "FAILED", run->jobs, (unsigned long long)reads,
        (unsigned long long)writes, (unsigned long long)verified, errors, elapsed,
        elapsed > 0 ? (double)(reads + writes + verified) / elapsed : 0.0,
        errors ? " first-error: " : (crashed ? " a job crashed" : ""), first_error);
    return ok ? 0 : 1;
}

static int sequential_workload(const char* device, uint64_t offset, uint64_t bytes, uint64_t seed) {
    uint8_t *buffer, *expected;
    if (posix_memalign((void**)&buffer, kBlock, kChunk) != 0 ||
        posix_memalign((void**)&expected, kBlock, kChunk) != 0) {
        printf("sequential FAILED out of memory\n");
        return 1;
    }
    int fd = open(device, O_RDWR | O_DIRECT);
    if (fd < 0) {
        printf("sequential FAILED open %s: %s\n", device, strerror(errno));
        return 1;
    }
    const uint64_t chunks = bytes / kChunk;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (uint64_t chunk = 0; chunk < chunks; ++chunk) {
        uint64_t state = seed ^ (chunk * 0x9E3779B97F4A7C15ull);
        fill_bytes(buffer, kChunk, &state);
        if (pwrite(fd, buffer, kChunk, (off_t)(offset + chunk * kChunk)) != kChunk) {
            printf("sequential FAILED write at %llu MiB: %s\n",
                   (unsigned long long)(offset / kChunk + chunk), strerror(errno));
            return 1;
        }
    }
    if (fdatasync(fd) != 0) {
        printf("sequential FAILED fdatasync: %s\n", strerror(errno));
        return 1;
    }
    const double write_seconds = seconds_since(&start);
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (uint64_t chunk = 0; chunk < chunks; ++chunk) {
        if (pread(fd, buffer, kChunk, (off_t)(offset + chunk * kChunk)) != kChunk) {
            printf("sequential FAILED read at %llu MiB: %s\n",
                   (unsigned long long)(offset / kChunk + chunk), strerror(errno));
            return 1;
        }
        uint64_t state = seed ^ (chunk * 0x9E3779B97F4A7C15ull);
        fill_bytes(expected, kChunk, &state);
        if (memcmp(buffer, expected, kChunk) != 0) {
            printf("sequential FAILED data mismatch in MiB %llu of the range\n",
                   (unsigned long long)chunk);
            return 1;
        }
    }
    const double read_seconds = seconds_since(&start);
    close(fd);
    const double mib = (double)chunks;
    printf("sequential OK mib=%llu write_seconds=%.2f write_mib_s=%.2f read_seconds=%.2f "
           "read_mib_s=%.2f\n",
           (unsigned long long)chunks, write_seconds, mib / write_seconds, read_seconds,
           mib / read_seconds);
    return 0;
}

static int fill(uint64_t seed, uint64_t bytes) {
    static uint8_t buffer[kChunk];
    uint64_t state = seed;
    while (bytes != 0) {
        const size_t now = bytes < sizeof buffer ? (size_t)bytes : sizeof buffer;
        fill_bytes(buffer, now, &state); // chunks are multiples of 8: the stream is seamless
        if (fwrite(buffer, 1, now, stdout) != now)
            return 1;
        bytes -= now;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

static uint64_t number(const char* text, const char* what) {
    char* end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 0);
    if (errno != 0 || end == text || *end != '\0') {
        fprintf(stderr, "halcyon-disktest: %s is not a number: %s\n", what, text);
        exit(2);
    }
    return value;
}

static int usage(void) {
    fprintf(stderr, "usage: halcyon-disktest fill SEED BYTES\n"
                    "       halcyon-disktest random|random-verify DEVICE OFFSET_MIB SIZE_MIB OPS "
                    "[JOBS [SEED]]\n"
                    "       halcyon-disktest sequential DEVICE OFFSET_MIB SIZE_MIB [SEED]\n");
    return 2;
}

int main(int argc, char** argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 4 && strcmp(argv[1], "fill") == 0)
        return fill(number(argv[2], "SEED"), number(argv[3], "BYTES"));
    if (argc >= 6 && argc <= 8 &&
        (strcmp(argv[1], "random") == 0 || strcmp(argv[1], "random-verify") == 0)) {
        struct RandomRun run;
        run.device = argv[2];
        run.offset = number(argv[3], "OFFSET_MIB") * kChunk;
        run.blocks = number(argv[4], "SIZE_MIB") * (kChunk / kBlock);
        run.ops = number(argv[5], "OPS");
        const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        run.jobs = argc >= 7 ? (uint32_t)number(argv[6], "JOBS") : (uint32_t)(cpus > 0 ? cpus : 1);
        run.seed = argc >= 8 ? number(argv[7], "SEED") : 1;
        run.verify_only = strcmp(argv[1], "random-verify") == 0;
        if (run.jobs == 0 || run.jobs > kMaxJobs || run.blocks < run.jobs) {
            fprintf(stderr, "halcyon-disktest: JOBS must be 1-%d and at most the block count\n",
                    kMaxJobs);
            return 2;
        }
        return random_workload(&run);
    }
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "sequential") == 0) {
        return sequential_workload(argv[2], number(argv[3], "OFFSET_MIB") * kChunk,
                                   number(argv[4], "SIZE_MIB") * kChunk,
                                   argc == 6 ? number(argv[5], "SEED") : 1);
    }
    return usage();
}
