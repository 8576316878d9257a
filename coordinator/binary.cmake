add_library(txc_config STATIC ${CMAKE_CURRENT_SOURCE_DIR}/src/config.cpp)
target_link_libraries(txc_config PUBLIC txc_core txc_applog)

add_executable(txc-coordinator ${CMAKE_CURRENT_SOURCE_DIR}/src/main.cpp)
target_link_libraries(txc-coordinator PRIVATE txc_config txc_engine txc_log txc_transport txc_liveness txc_api)
