# Halcyon builds three "worlds" from one configure, all with Debian's clang:
#   core  - the hypervisor core: freestanding x86-64 ELF, no exceptions/RTTI, no SSE state, kernel
#           code model, libc++ headers over newlib's C headers (declarations only).
#   efi   - the UEFI loader: freestanding PE32+ (x86_64-windows-gnu objects linked by lld).
#   host  - unit tests and host tools: libc++ with AddressSanitizer and UndefinedBehaviorSanitizer.
# Pure code (parsers, formats, page-table logic) is compiled once per world it runs in; see
# halcyon_library().

execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-resource-dir
                OUTPUT_VARIABLE HALCYON_CLANG_RESOURCE_DIR OUTPUT_STRIP_TRAILING_WHITESPACE)
set(HALCYON_LIBCXX_INCLUDE /usr/include/c++/v1)
set(HALCYON_NEWLIB_INCLUDE /usr/include/newlib)
foreach(dir ${HALCYON_LIBCXX_INCLUDE} ${HALCYON_NEWLIB_INCLUDE})
    if(NOT EXISTS ${dir})
        message(FATAL_ERROR "${dir} is missing: run './halcyon setup' (libc++-14-dev, libnewlib-dev)")
    endif()
endforeach()

set(HALCYON_WARNINGS -Wall -Wextra -Werror -Wno-unused-parameter)

# Flags shared by both freestanding worlds.
set(HALCYON_FREESTANDING_FLAGS
    -ffreestanding -fno-stack-protector -mno-red-zone -fno-omit-frame-pointer
    -nostdinc
    $<$<COMPILE_LANGUAGE:CXX>:-fno-exceptions -fno-rtti -fno-threadsafe-statics -nostdinc++
        "SHELL:-isystem ${HALCYON_LIBCXX_INCLUDE}" -D_LIBCPP_HAS_NO_THREADS
        -D_LIBCPP_HAS_NO_LIBRARY_ALIGNED_ALLOCATION -D_LIBCPP_HAS_NO_VENDOR_AVAILABILITY_ANNOTATIONS>
    "SHELL:-isystem ${HALCYON_CLANG_RESOURCE_DIR}/include"
    "SHELL:-isystem ${HALCYON_NEWLIB_INCLUDE}"
    -DHALCYON_FREESTANDING=1)

add_library(halcyon_world_core INTERFACE)
target_compile_options(halcyon_world_core INTERFACE
    --target=x86_64-unknown-none-elf ${HALCYON_FREESTANDING_FLAGS}
    -fno-pic -mcmodel=kernel -mno-sse -mno-sse2 -mno-mmx -mno-avx -mno-3dnow
    -ffunction-sections -fdata-sections -DHALCYON_WORLD_CORE=1)
target_include_directories(halcyon_world_core INTERFACE ${PROJECT_SOURCE_DIR})

add_library(halcyon_world_efi INTERFACE)
target_compile_options(halcyon_world_efi INTERFACE
    --target=x86_64-unknown-windows-gnu ${HALCYON_FREESTANDING_FLAGS}
    -fshort-wchar -mno-stack-arg-probe -mno-sse -mno-mmx -mno-avx -DHALCYON_WORLD_EFI=1)
target_include_directories(halcyon_world_efi INTERFACE ${PROJECT_SOURCE_DIR})

set(HALCYON_SANITIZERS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
add_library(halcyon_world_host INTERFACE)
# fuzzer-no-link adds coverage instrumentation (no libFuzzer runtime), so the fuzzers in
# tests/fuzz are guided by the edges of the library code they exercise, not just their own.
target_compile_options(halcyon_world_host INTERFACE -stdlib=libc++ ${HALCYON_SANITIZERS}
    -fsanitize=fuzzer-no-link -DHALCYON_WORLD_HOST=1)
target_link_options(halcyon_world_host INTERFACE -stdlib=libc++ ${HALCYON_SANITIZERS})
target_include_directories(halcyon_world_host INTERFACE ${PROJECT_SOURCE_DIR})

# Every host-world library, for the unit tests to link.
add_library(halcyon_all_host_libraries INTERFACE)

# halcyon_library(NAME WORLDS <core|efi|host>... SOURCES src... [DEPENDS lib...])
# Creates NAME_<world> static libraries; DEPENDS names other halcyon_library()s (without suffix).
function(halcyon_library name)
    cmake_parse_arguments(ARG "" "" "WORLDS;SOURCES;DEPENDS" ${ARGN})
    foreach(world IN LISTS ARG_WORLDS)
        add_library(${name}_${world} STATIC ${ARG_SOURCES})
        target_link_libraries(${name}_${world} PUBLIC halcyon_world_${world})
        target_compile_options(${name}_${world} PRIVATE ${HALCYON_WARNINGS})
        foreach(dep IN LISTS ARG_DEPENDS)
            target_link_libraries(${name}_${world} PUBLIC ${dep}_${world})
        endforeach()
        if(world STREQUAL "host")
            target_link_libraries(halcyon_all_host_libraries INTERFACE ${name}_host)
        endif()
    endforeach()
endfunction()

# halcyon_host_tool(NAME SOURCES src... [DEPENDS lib...]): a host command built against libc++
# and installed into build/bin/.
function(halcyon_host_tool name)
    cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS" ${ARGN})
    add_executable(${name} ${ARG_SOURCES})
    target_link_libraries(${name} PRIVATE halcyon_world_host)
    target_compile_options(${name} PRIVATE ${HALCYON_WARNINGS})
    foreach(dep IN LISTS ARG_DEPENDS)
        target_link_libraries(${name} PRIVATE ${dep}_host)
    endforeach()
    set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
endfunction()
