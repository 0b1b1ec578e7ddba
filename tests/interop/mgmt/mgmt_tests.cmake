# The management API end to end: mgmt_test_server (the API over localhost TCP with the fake
# VmHost) driven by the real halctl binary. Included from mgmt/halctl/CMakeLists.txt so the test
# exists wherever halctl does; label "unit" because it needs no external peer.
add_executable(mgmt_test_server ${CMAKE_CURRENT_LIST_DIR}/test_server.cpp)
target_link_libraries(mgmt_test_server PRIVATE halcyon_world_host mgmt_api_host)
target_compile_options(mgmt_test_server PRIVATE ${HALCYON_WARNINGS})

find_package(Python3 COMPONENTS Interpreter REQUIRED)
add_test(NAME mgmt.halctl.e2e
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/halctl_e2e_test.py
                 $<TARGET_FILE:halctl> $<TARGET_FILE:mgmt_test_server>)
set_tests_properties(mgmt.halctl.e2e PROPERTIES LABELS unit TIMEOUT 120)
