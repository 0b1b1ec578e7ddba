// Shared by the halcyon.cfg parser tests: parse a text, look at its diagnostics.
#pragma once

#include "boot/config/config.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <string_view>

namespace halcyon::config::testing {

struct Parsed {
    std::unique_ptr<BootConfig> config = std::make_unique<BootConfig>();
    Diagnostics diagnostics;
    bool ok = false;

    [[nodiscard]] std::string messages() const {
        std::string all;
        for (uint32_t i = 0; i < diagnostics.count; ++i)
            all += std::to_string(diagnostics.entries[i].line) + ": " +
                   diagnostics.entries[i].message + "\n";
        return all;
    }
    // True when some diagnostic on `line` contains `fragment`.
    [[nodiscard]] bool has(uint32_t line, const char* fragment) const {
        for (uint32_t i = 0; i < diagnostics.count; ++i) {
            if (diagnostics.entries[i].line == line &&
                std::strstr(diagnostics.entries[i].message, fragment))
                return true;
        }
        return false;
    }
};

inline Parsed run(std::string_view text) {
    Parsed parsed;
    parsed.ok = parse(text, *parsed.config, parsed.diagnostics);
    return parsed;
}

// Expects exactly one diagnostic, on `line`, containing `fragment`.
inline void expect_error(std::string_view text, uint32_t line, const char* fragment) {
    const Parsed parsed = run(text);
    EXPECT_FALSE(parsed.ok) << text;
    EXPECT_EQ(parsed.diagnostics.count, 1u) << text << "\n" << parsed.messages();
    EXPECT_TRUE(parsed.has(line, fragment))
        << "input:\n"
        << text << "\nwanted line " << line << ": " << fragment << "\ngot:\n"
        << parsed.messages();
}

inline Parsed expect_ok(std::string_view text) {
    Parsed parsed = run(text);
    EXPECT_TRUE(parsed.ok) << text << "\n" << parsed.messages();
    return parsed;
}

} // namespace halcyon::config::testing
