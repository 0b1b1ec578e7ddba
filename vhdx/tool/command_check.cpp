// vhdx check FILE [--repair]
// Exit status: 0 clean, 1 repairable (or, after --repair, still repairable), 2 damaged,
// 3 usage or I/O error.
#include "vhdx/ops/check.hpp"
#include "vhdx/tool/commands.hpp"
#include "vhdx/tool/tool_common.hpp"

#include <cstdio>

namespace halcyon::vhdx::tool {
namespace {

class PrintingSink final : public ops::CheckSink {
public:
    explicit PrintingSink(const char* prefix) : prefix_(prefix) {}
    void problem(const ops::Problem& p) override {
        const char* severity = p.severity == ops::Severity::note         ? "note"
                               : p.severity == ops::Severity::repairable ? "repairable"
                                                                         : "damaged";
        std::printf("%s%s: %s", prefix_, severity, p.message);
        if (p.index != ops::kNoIndex)
            std::printf(" [entry %llu]", (unsigned long long)p.index);
        if (p.file_offset != ops::kNoOffset)
            std::printf(" at file offset 0x%llx", (unsigned long long)p.file_offset);
        if (p.has_values)
            std::printf(" (found 0x%llx, expected 0x%llx)", (unsigned long long)p.found,
                        (unsigned long long)p.expected);
        std::printf("\n");
    }

private:
    const char* prefix_;
};

int exit_for(ops::Verdict verdict) {
    switch (verdict) {
    case ops::Verdict::clean:
        return kExitOk;
    case ops::Verdict::repairable:
        return kExitRepairable;
    case ops::Verdict::damaged:
        return kExitDamaged;
    }
    return kExitError;
}

void summary(const std::string& path, const ops::CheckResult& r) {
    std::printf("%s: %s (%u damaged, %u repairable, %u notes; %llu of %llu blocks allocated)\n",
                path.c_str(), ops::verdict_name(r.verdict), r.damaged, r.repairable, r.notes,
                (unsigned long long)r.present_blocks, (unsigned long long)r.payload_blocks);
}

} // namespace

int command_check(int argc, char** argv) {
    Args args;
    std::string error;
    if (!parse_args(argc, argv, 2, {}, {"repair"}, args, error))
        return fail("check: " + error);
    if (args.positional.size() != 1)
        return fail("check: expected exactly one FILE");
    const std::string& path = args.positional[0];
    bool repair = args.has("repair");
    auto io = FileBlockIo::open(
        path, repair ? FileBlockIo::Mode::read_write : FileBlockIo::Mode::read_only, error);
    if (!io)
        return fail("check: " + error);
    MallocAllocator allocator;
    PrintingSink sink("");
    if (!repair) {
        auto result = ops::check_file(*io, allocator, sink);
        if (result.is_error())
            return fail("check: " + path + ": " + describe(result.error(), io.get()));
        summary(path, result.value());
        return exit_for(result.value().verdict);
    }
    FileParentResolver resolver;
    resolver.register_file(*io);
    UrandomSource random;
    PrintingSink after("after repair: ");
    ops::RepairActions actions;
    auto result = ops::repair_file(*io, allocator, random, &resolver, sink, after, actions);
    if (result.is_error())
        return fail("check: repair of " + path + " failed: " + describe(result.error(), io.get()));
    if (actions.rewrote_header)
        std::printf("repaired: rewrote the damaged header copy from the current one\n");
    if (actions.rewrote_region_table)
        std::printf("repaired: rewrote the damaged region table copy from the good one\n");
    if (actions.replayed_log)
        std::printf("repaired: replayed the log\n");
    if (result.value().verdict == ops::Verdict::damaged && !actions.replayed_log &&
        !actions.rewrote_header && !actions.rewrote_region_table)
        std::printf("not repaired: the file is damaged beyond what repair fixes safely\n");
    summary(path, result.value());
    return exit_for(result.value().verdict);
}

} // namespace halcyon::vhdx::tool
