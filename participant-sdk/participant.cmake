# txc_participant: the participant SDK a service embeds (2PC, 3PC and sagas over NATS; branch
# records and the idempotency barrier in the service's own SQLite database; in-doubt resolution).
# Included from participant-sdk/CMakeLists.txt.
add_library(txc_participant STATIC
  ${CMAKE_CURRENT_LIST_DIR}/src/branch_store.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/branch_transitions.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/dispatcher.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/in_doubt_resolver.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/nats_endpoint.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/participant.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/request_batcher.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/sqlite_db.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/termination_rule.cpp
)
target_include_directories(txc_participant PUBLIC ${CMAKE_CURRENT_LIST_DIR}/include)
# SQLite is public: BranchContext and WithDb hand the service a sqlite3*.
target_link_libraries(txc_participant
  PUBLIC txc_wire SQLite::SQLite3
  PRIVATE txc_nats_common PkgConfig::NATS Threads::Threads)
