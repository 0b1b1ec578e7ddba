# Third-party code, built from Debian 12's own source packages (nothing is vendored in this repo):
#   zydis_core - the Zydis 4.0.0 instruction decoder (ZYAN_NO_LIBC), used by the core to decode
#                intercepted guest instructions and to annotate crash reports.
#   lwip_core  - the lwIP 2.1.3 TCP/IP stack (NO_SYS), used by the management partition; its port
#                (lwipopts.h, arch/cc.h, the hooks it expects) lives in mgmt/lwip/port/.
#
# `./halcyon setup` downloads the .dsc/.orig/.debian files into HALCYON_DEPS_SOURCES; here they
# are unpacked with dpkg-source (which applies Debian's patches) into <build>/deps/. Both libraries
# are compiled with the core world's freestanding flags but without our -Werror warning set: the
# code is not ours to fix, and a new compiler warning in it must not break the build.

set(HALCYON_DEPS_SOURCES ${PROJECT_SOURCE_DIR}/.deps/sources
    CACHE PATH "Directory holding the downloaded Debian source packages (./halcyon setup fills it)")
set(HALCYON_DEPS_DIR ${CMAKE_BINARY_DIR}/deps)
find_program(HALCYON_DPKG_SOURCE dpkg-source)
if(NOT HALCYON_DPKG_SOURCE)
    message(FATAL_ERROR "dpkg-source is missing: run './halcyon setup' (package dpkg-dev)")
endif()

# halcyon_unpack_debian_source(OUT_DIR PACKAGE VERSION): unpacks PACKAGE_VERSION.dsc once (again
# only when the .dsc changes) and stores the tree's path in OUT_DIR.
function(halcyon_unpack_debian_source out_dir package version)
    set(dsc ${HALCYON_DEPS_SOURCES}/${package}_${version}.dsc)
    if(NOT EXISTS ${dsc})
        message(FATAL_ERROR "${dsc} is missing: run './halcyon setup' (it downloads the Debian "
                            "source packages zydis=4.0.0-1 and lwip=2.1.3+dfsg1-2)")
    endif()
    set(tree ${HALCYON_DEPS_DIR}/${package}-${version})
    set(stamp ${tree}.unpacked)
    if(NOT EXISTS ${stamp} OR ${dsc} IS_NEWER_THAN ${stamp})
        message(STATUS "Unpacking ${package} ${version} into ${tree}")
        file(REMOVE_RECURSE ${tree})
        file(MAKE_DIRECTORY ${HALCYON_DEPS_DIR})
        execute_process(COMMAND ${HALCYON_DPKG_SOURCE} -x ${dsc} ${tree}
                        RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
        if(NOT result EQUAL 0)
            message(FATAL_ERROR "dpkg-source -x ${dsc} failed:\n${output}")
        endif()
        file(TOUCH ${stamp})
    endif()
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${dsc})
    set(${out_dir} ${tree} PARENT_SCOPE)
endfunction()

# halcyon_read_define(OUT FILE NAME): the value of `#define NAME value` in FILE.
function(halcyon_read_define out file name)
    file(STRINGS ${file} lines REGEX "^#define[ \t]+${name}[ \t]")
    if(NOT lines)
        message(FATAL_ERROR "${file} does not define ${name}: not the expected source tree")
    endif()
    list(GET lines 0 line)
    string(REGEX REPLACE "^#define[ \t]+${name}[ \t]+" "" value "${line}")
    string(STRIP "${value}" value)
    set(${out} "${value}" PARENT_SCOPE)
endfunction()

function(halcyon_require_version what found expected)
    if(NOT found VERSION_EQUAL expected)
        message(FATAL_ERROR "${what}: found version ${found}, Halcyon needs exactly ${expected}. "
                            "Delete ${HALCYON_DEPS_SOURCES} and run './halcyon setup' again.")
    endif()
endfunction()

# ---- Zydis ------------------------------------------------------------------------------------
halcyon_unpack_debian_source(HALCYON_ZYDIS_DIR zydis 4.0.0-1)

# Two independent statements of the version: the library's own header and its CMake project().
halcyon_read_define(zydis_version_word ${HALCYON_ZYDIS_DIR}/include/Zydis/Zydis.h ZYDIS_VERSION)
if(NOT zydis_version_word MATCHES "0x([0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f])([0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f])([0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f])")
    message(FATAL_ERROR "Cannot parse ZYDIS_VERSION '${zydis_version_word}' in Zydis.h")
endif()
math(EXPR zydis_major "0x${CMAKE_MATCH_1}")
math(EXPR zydis_minor "0x${CMAKE_MATCH_2}")
math(EXPR zydis_patch "0x${CMAKE_MATCH_3}")
halcyon_require_version("Zydis (include/Zydis/Zydis.h)" "${zydis_major}.${zydis_minor}.${zydis_patch}" 4.0.0)
file(STRINGS ${HALCYON_ZYDIS_DIR}/CMakeLists.txt zydis_project REGEX "^project\\(Zydis VERSION")
if(NOT zydis_project MATCHES "VERSION ([0-9]+\\.[0-9]+\\.[0-9]+)")
    message(FATAL_ERROR "Cannot find project(Zydis VERSION ...) in ${HALCYON_ZYDIS_DIR}/CMakeLists.txt")
endif()
halcyon_require_version("Zydis (CMakeLists.txt)" "${CMAKE_MATCH_1}" 4.0.0)

# Debian's zydis source lacks the Zycore submodule; the decoder only needs Zycore's headers, which
# libzycore-dev installs. They are copied into a directory of their own so that adding it to the
# include path does not also expose glibc's /usr/include to freestanding code.
set(HALCYON_ZYCORE_SYSTEM_INCLUDE /usr/include/Zycore
    CACHE PATH "Zycore headers (Debian package libzycore-dev)")
if(NOT EXISTS ${HALCYON_ZYCORE_SYSTEM_INCLUDE}/Defines.h)
    message(FATAL_ERROR "${HALCYON_ZYCORE_SYSTEM_INCLUDE} is missing: run './halcyon setup' (libzycore-dev)")
endif()
set(HALCYON_ZYCORE_INCLUDE ${HALCYON_DEPS_DIR}/zycore-include)
file(COPY ${HALCYON_ZYCORE_SYSTEM_INCLUDE} DESTINATION ${HALCYON_ZYCORE_INCLUDE})

# Only the decoder: the formatter, encoder and disassembler convenience API are left out.
set(zydis_decoder_sources Decoder DecoderData SharedData Utils Zydis MetaInfo Mnemonic Register Segment)
list(TRANSFORM zydis_decoder_sources PREPEND ${HALCYON_ZYDIS_DIR}/src/)
list(TRANSFORM zydis_decoder_sources APPEND .c)
add_library(zydis_core STATIC ${zydis_decoder_sources})
target_link_libraries(zydis_core PRIVATE halcyon_world_core)
target_include_directories(zydis_core SYSTEM PUBLIC ${HALCYON_ZYDIS_DIR}/include ${HALCYON_ZYCORE_INCLUDE})
target_include_directories(zydis_core PRIVATE ${HALCYON_ZYDIS_DIR}/src)
# Public: users of the headers must see the same configuration the library was built with.
target_compile_definitions(zydis_core PUBLIC ZYAN_NO_LIBC ZYDIS_STATIC_BUILD ZYCORE_STATIC_BUILD
                                             ZYDIS_DISABLE_ENCODER ZYDIS_DISABLE_FORMATTER)

# ---- lwIP -------------------------------------------------------------------------------------
halcyon_unpack_debian_source(HALCYON_LWIP_DIR lwip 2.1.3+dfsg1-2)

set(lwip_init_h ${HALCYON_LWIP_DIR}/src/include/lwip/init.h)
halcyon_read_define(lwip_major ${lwip_init_h} LWIP_VERSION_MAJOR)
halcyon_read_define(lwip_minor ${lwip_init_h} LWIP_VERSION_MINOR)
halcyon_read_define(lwip_revision ${lwip_init_h} LWIP_VERSION_REVISION)
halcyon_read_define(lwip_rc ${lwip_init_h} LWIP_VERSION_RC)
halcyon_require_version("lwIP (src/include/lwip/init.h)" "${lwip_major}.${lwip_minor}.${lwip_revision}" 2.1.3)
if(NOT lwip_rc STREQUAL "LWIP_RC_RELEASE")
    message(FATAL_ERROR "lwIP in ${HALCYON_LWIP_DIR} is not a release build (LWIP_VERSION_RC=${lwip_rc})")
endif()

set(HALCYON_LWIP_PORT ${PROJECT_SOURCE_DIR}/mgmt/lwip/port)
file(GLOB lwip_sources CONFIGURE_DEPENDS
     ${HALCYON_LWIP_DIR}/src/core/*.c ${HALCYON_LWIP_DIR}/src/core/ipv4/*.c
     ${HALCYON_LWIP_DIR}/src/core/ipv6/*.c)
list(APPEND lwip_sources ${HALCYON_LWIP_DIR}/src/netif/ethernet.c)
add_library(lwip_core STATIC ${lwip_sources})
target_link_libraries(lwip_core PRIVATE halcyon_world_core)
target_include_directories(lwip_core SYSTEM PUBLIC ${HALCYON_LWIP_DIR}/src/include ${HALCYON_LWIP_PORT})

# ---- Self-containment checks (CTest label "deps") -----------------------------------------------
# Each library is relocatably linked into one object and its undefined symbols are compared with
# the list it is allowed to need. For the decoder that list is empty: proof that the ZYAN_NO_LIBC
# build needs nothing from a C library. lwIP is linked with our own libc (mem*/str*), so what is
# left must be exactly the hooks the management partition implements (mgmt/lwip/port/).
find_program(HALCYON_LLVM_NM NAMES llvm-nm-14 llvm-nm REQUIRED)
find_program(HALCYON_LD_LLD NAMES ld.lld-14 ld.lld REQUIRED)
# Debian's interpreter (the scripts use only its standard library), not one a user shim provides.
find_program(HALCYON_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH REQUIRED)
set(HALCYON_LWIP_PORT_HOOKS sys_now halcyon_lwip_random halcyon_lwip_diag halcyon_lwip_assert)
string(REPLACE ";" "," HALCYON_LWIP_PORT_HOOKS_CSV "${HALCYON_LWIP_PORT_HOOKS}")
set(HALCYON_CHECK_UNDEFINED ${PROJECT_SOURCE_DIR}/tools/check-undefined.py)

add_test(NAME deps.zydis_core.self_contained
         COMMAND ${HALCYON_PYTHON3} ${HALCYON_CHECK_UNDEFINED} --nm ${HALCYON_LLVM_NM}
                 --ld ${HALCYON_LD_LLD} --work ${HALCYON_DEPS_DIR}/check-zydis
                 $<TARGET_FILE:zydis_core>)
add_test(NAME deps.lwip_core.only_port_hooks_undefined
         COMMAND ${HALCYON_PYTHON3} ${HALCYON_CHECK_UNDEFINED} --nm ${HALCYON_LLVM_NM}
                 --ld ${HALCYON_LD_LLD} --work ${HALCYON_DEPS_DIR}/check-lwip
                 --allow ${HALCYON_LWIP_PORT_HOOKS_CSV}
                 $<TARGET_FILE:lwip_core> $<TARGET_FILE:halcyon_libc_core>)
set_tests_properties(deps.zydis_core.self_contained deps.lwip_core.only_port_hooks_undefined
                     PROPERTIES LABELS deps TIMEOUT 60)
