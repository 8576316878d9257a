# txc_add_test(NAME SOURCES ... LIBS ... LABELS ...): one gtest binary, its tests registered
# with ctest one by one and labelled (unit tests need nothing running; integration and e2e
# tests start nats-server and processes themselves).
function(txc_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main Threads::Threads)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/support
                                             ${PROJECT_SOURCE_DIR}/coordinator/src)
  gtest_discover_tests(${name} PROPERTIES LABELS "${ARG_LABELS}" DISCOVERY_TIMEOUT 30
                       TEST_PREFIX "${name}.")
endfunction()
