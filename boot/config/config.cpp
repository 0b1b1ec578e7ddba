#include "boot/config/config.hpp"

namespace halcyon::config {
bool parse(std::string_view text, BootConfig& out, Diagnostics& diagnostics) { return text.empty(); }
const char* log_level_name(LogLevel level) { return "info"; }
} // namespace halcyon::config
