// The vhdx subcommands; each takes the whole argv (argv[1] is the subcommand) and returns the
// process exit status.
#pragma once

namespace halcyon::vhdx::tool {

int command_create(int argc, char** argv);
int command_info(int argc, char** argv);
int command_check(int argc, char** argv);
int command_read(int argc, char** argv);
int command_write(int argc, char** argv);
int command_convert(int argc, char** argv);
int command_resize(int argc, char** argv);
int command_compact(int argc, char** argv);
int command_merge(int argc, char** argv);
int command_metadata(int argc, char** argv);

} // namespace halcyon::vhdx::tool
