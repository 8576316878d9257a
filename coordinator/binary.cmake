add_library(txc_config STATIC ${CMAKE_CURRENT_SOURCE_DIR}/src/config.cpp)
target_link_libraries(txc_config PUBLIC txc_core txc_applog)

add_executable(txc-coordinator ${CMAKE_CURRENT_SOURCE_DIR}/src/main.cpp)
target_link_libraries(txc-coordinator PRIVATE txc_config txc_engine txc_log txc_transport txc_liveness txc_api)
# jemalloc: the coordinator allocates and frees many small objects across its threads; with
# glibc's malloc it spent ~18% more CPU per transaction (txc-bench's "coord us" column, see
# docs/benchmarks.md). Not under the sanitizers, which bring their own allocator.
# Its options (small per-thread caches) are in src/jemalloc_conf.cpp.
if(NOT TXC_SANITIZE)
  pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)
  target_sources(txc-coordinator PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src/jemalloc_conf.cpp)
  target_link_libraries(txc-coordinator PRIVATE PkgConfig::JEMALLOC)
endif()
