// Host-only: runs a power-cut Scenario (fault_io_scenarios.hpp) at every cut point and checks
// each crashed image: it reopens (replaying the log), passes the structural check, shows only
// acceptable data (CrashModel), keeps or drops user metadata atomically, and stays usable.
#pragma once

#include "vhdx/testing/fault_io_scenarios.hpp"

namespace halcyon::vhdx::testing {

inline constexpr char kParentName[] = "parent.vhdx";

// Makes w.base (the clean starting image) and w.base_model. Returns "" or an error.
inline std::string build_scenario_base(ScenarioWorld& w, const Scenario& sc) {
    CreateOptions create = sc.create;
    create.random = &w.random;
    if (sc.differencing) {
        CreateOptions parent = create;
        parent.type = DiskType::dynamic;
        auto made = Disk::create(w.parent_io, w.allocator, parent);
        if (made.is_error())
            return "parent create: " + error_text(made.error());
        Disk* p = made.value();
        // The parent shows through everywhere the child has not written: give it content.
        uint32_t s = parent.logical_sector_size;
        std::vector<uint8_t> data(parent.virtual_size);
        for (uint64_t i = 0; i < data.size(); i += s)
            fill_sector(data.data() + i, s, 0xA11CE, i / s);
        if (p->write(0, data).is_error() || p->close().is_error())
            return "parent write/close failed";
        w.resolver.add(kParentName, &w.parent_io);
        create.type = DiskType::differencing;
        create.parent_resolver = &w.resolver;
        create.parent_relative_path = kParentName;
    }
    PowerCutBlockIo io;
    auto made = Disk::create(io, w.allocator, create);
    if (made.is_error())
        return "create: " + error_text(made.error());
    Disk* disk = made.value();
    DiskInfo info = disk->info();
    w.base_model =
        std::make_unique<CrashModel>(info.virtual_size, info.logical_sector_size, sc.model_cap);
    std::string e = w.base_model->set_baseline(*disk);
    if (!e.empty())
        return e;
    ScenarioDriver driver(disk, *w.base_model, io);
    if (sc.prepare && !sc.prepare(driver))
        return "prepare failed: " + driver.unexpected();
    if (!driver.close())
        return "prepare close failed: " + driver.unexpected();
    w.base = io.current();
    return "";
}

// Checks one crashed image. `deep`: also proves the disk is still writable and closes cleanly.
inline std::string check_crashed_image(ScenarioWorld& w, std::vector<uint8_t>& image,
                                       const CrashModel& model,
                                       const std::vector<std::vector<uint8_t>>& metadata,
                                       bool deep) {
    ImageBlockIo io(image);
    auto opened = Disk::open(io, w.allocator, w.open_options());
    if (opened.is_error())
        return "reopen failed: " + error_text(opened.error());
    Disk* disk = opened.value();
    std::string e = check_structure(*disk, image.size());
    if (e.empty())
        e = model.verify(*disk);
    if (e.empty() && !metadata.empty()) {
        std::vector<uint8_t> value(64 * 1024);
        auto length = disk->read_metadata(kScenarioItem, value);
        bool fine = false;
        if (length.is_error()) {
            for (const auto& candidate : metadata)
                fine =
                    fine || candidate.empty(); // absence is acceptable only before the first write
        } else {
            value.resize(length.value());
            for (const auto& candidate : metadata)
                fine = fine || (!candidate.empty() && candidate == value);
        }
        if (!fine)
            e = "user metadata item holds a value that was never written";
    }
    if (e.empty() && deep) {
        uint32_t s = disk->info().logical_sector_size;
        std::vector<uint8_t> data(s), back(s);
        fill_sector(data.data(), s, 0xD00D, 0);
        if (disk->write(0, data).is_error() || disk->close().is_error())
            return "crashed image not writable after reopen";
        auto again = Disk::open(io, w.allocator, w.open_options(true));
        if (again.is_error())
            return "reopen after write failed: " + error_text(again.error());
        if (again.value()->read(0, back).is_error() || back != data)
            e = "write after crash did not read back";
        again.value()->abandon();
        return e;
    }
    disk->abandon();
    return e;
}

struct CutStats {
    uint64_t operations = 0; // cut points of the scenario
    uint64_t images = 0;     // crashed images checked
};

// Runs the scenario once per cut point. random_seeds: random_subset images per cut.
inline std::string run_scenario_cuts(
    ScenarioWorld& w, const Scenario& sc, int random_seeds, CutStats& stats,
    const std::function<std::string(const std::vector<uint8_t>&, const CrashModel&, int64_t)>&
        extra_check = {},
    int64_t extra_every = 0, int64_t stride = 1) {
    // The dry run: how many operations, and that the scenario works without a cut.
    uint64_t total = 0;
    {
        PowerCutBlockIo io(w.base);
        auto opened = Disk::open(io, w.allocator, w.open_options());
        if (opened.is_error())
            return "dry run open: " + error_text(opened.error());
        CrashModel model = *w.base_model;
        ScenarioDriver driver(opened.value(), model, io);
        bool done = sc.steps(driver) && driver.close();
        if (!done) {
            if (driver.open_disk())
                driver.open_disk()->abandon();
            return "dry run failed: " + driver.unexpected();
        }
        total = io.operations();
        std::vector<uint8_t> image = io.current();
        std::string e = check_crashed_image(w, image, model, driver.metadata_candidates(), true);
        if (!e.empty())
            return "dry run result: " + e;
    }
    stats.operations += total;
    std::vector<uint8_t> image, copy;
    for (int64_t cut = 0; cut < static_cast<int64_t>(total); cut += stride) {
        PowerCutBlockIo io(w.base);
        io.cut_at(cut);
        CrashModel model = *w.base_model;
        auto opened = Disk::open(io, w.allocator, w.open_options());
        if (opened.is_error())
            return "cut " + std::to_string(cut) + ": open: " + error_text(opened.error());
        ScenarioDriver driver(opened.value(), model, io);
        if (sc.steps(driver))
            driver.close();
        if (driver.open_disk())
            driver.open_disk()->abandon(); // what the power cut leaves: nothing more is written
        if (!driver.unexpected().empty())
            return "cut " + std::to_string(cut) + ": " + driver.unexpected();
        if (!io.dead())
            return "cut " + std::to_string(cut) + ": the power cut never happened";
        int variants = 0;
        for (CrashPolicy policy : kAllCrashPolicies) {
            int seeds = policy == CrashPolicy::random_subset ? random_seeds : 1;
            for (int seed = 0; seed < seeds; ++seed) {
                if (io.pending() == 0 && variants > 0)
                    break; // nothing unflushed: every policy gives the same image
                io.crash_image_into(image, policy, uint64_t(cut) * 131 + uint64_t(seed));
                bool extra =
                    extra_check && extra_every > 0 && cut % extra_every == 0 && variants == 0;
                if (extra)
                    copy.assign(image.begin(), image.end()); // the check replays into `image`
                std::string e = check_crashed_image(w, image, model, driver.metadata_candidates(),
                                                    variants == 0);
                if (e.empty() && extra)
                    e = extra_check(copy, model, cut);
                if (!e.empty())
                    return "cut " + std::to_string(cut) + " of " + std::to_string(total) + " (" +
                           crash_policy_name(policy) + ", seed " + std::to_string(seed) + "): " + e;
                variants++;
                stats.images++;
            }
        }
    }
    return "";
}

} // namespace halcyon::vhdx::testing
