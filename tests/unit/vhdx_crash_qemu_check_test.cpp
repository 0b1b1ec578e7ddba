// Interop half of the crash tests (needs qemu-img, package qemu-utils): for every third cut
// point of each dynamic/fixed scenario (qemu-img has no differencing VHDX), the crashed image
// is written to a file and handed to qemu-img: `qemu-img check -r all` must replay our log and
// find nothing wrong, a second `qemu-img check` must report a clean image, and the file qemu
// replayed must then open with Halcyon and hold only acceptable data (so both replays agree).
#include "vhdx/testing/fault_io_scenario_list.hpp"

#include <cstdio>
#include <cstdlib>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace halcyon::vhdx;
using namespace halcyon::vhdx::testing;

namespace {

struct Command {
    int status;
    std::string output;
};

Command run(const std::string& command) {
    Command result{-1, ""};
    FILE* pipe = popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr)
        return result;
    char buffer[512];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0)
        result.output.append(buffer, n);
    int status = pclose(pipe);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

class VhdxCrashQemu : public ::testing::TestWithParam<Scenario> {};

TEST_P(VhdxCrashQemu, QemuImgAcceptsCrashedImages) {
    const Scenario& sc = GetParam();
    Command version = run("qemu-img --version");
    ASSERT_EQ(version.status, 0) << "qemu-img is required (package qemu-utils): " << version.output;
    char path[] = "/tmp/halcyon-vhdx-crash-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    std::string file = std::string(path) + ".vhdx";
    ASSERT_EQ(std::rename(path, file.c_str()), 0);

    ScenarioWorld world;
    ASSERT_EQ(build_scenario_base(world, sc), "");
    int checked = 0;
    auto qemu_check = [&](const std::vector<uint8_t>& image, const CrashModel& model,
                          int64_t cut) -> std::string {
        FILE* out = std::fopen(file.c_str(), "wb");
        if (out == nullptr || std::fwrite(image.data(), 1, image.size(), out) != image.size())
            return "cannot write " + file;
        std::fclose(out);
        // On failure the crashed image is kept as a reproducer.
        std::string keep =
            "/tmp/halcyon-vhdx-crash-" + sc.name + "-cut" + std::to_string(cut) + ".vhdx";
        run("cp " + file + " " + keep);
        Command repair = run("qemu-img check -r all -f vhdx " + file);
        if (repair.status != 0)
            return "qemu-img check -r all exited " + std::to_string(repair.status) + ": " +
                   repair.output + " (crashed image kept: " + keep + ")";
        Command check = run("qemu-img check -f vhdx " + file);
        if (check.status != 0)
            return "qemu-img check exited " + std::to_string(check.status) + ": " + check.output +
                   " (crashed image kept: " + keep + ")";
        std::remove(keep.c_str());
        // What qemu replayed must be what we would have replayed.
        FILE* in = std::fopen(file.c_str(), "rb");
        if (in == nullptr)
            return "cannot read back " + file;
        std::fseek(in, 0, SEEK_END);
        std::vector<uint8_t> replayed(static_cast<size_t>(std::ftell(in)));
        std::fseek(in, 0, SEEK_SET);
        size_t got = std::fread(replayed.data(), 1, replayed.size(), in);
        std::fclose(in);
        if (got != replayed.size())
            return "short read of " + file;
        std::string e = check_crashed_image(world, replayed, model, {}, false);
        checked++;
        return e.empty() ? "" : "after qemu-img's replay: " + e;
    };
    CutStats stats;
    std::string e = run_scenario_cuts(world, sc, 0, stats, qemu_check, 3, sc.cut_stride);
    std::remove(file.c_str());
    EXPECT_EQ(e, "");
    EXPECT_GT(checked, 3);
}

std::vector<Scenario> qemu_scenarios() {
    std::vector<Scenario> out;
    for (Scenario& sc : crash_scenarios(false))
        if (sc.qemu_checkable)
            out.push_back(sc);
    return out;
}

INSTANTIATE_TEST_SUITE_P(Scenarios, VhdxCrashQemu, ::testing::ValuesIn(qemu_scenarios()),
                         [](const ::testing::TestParamInfo<Scenario>& info) {
                             return info.param.name;
                         });

} // namespace
