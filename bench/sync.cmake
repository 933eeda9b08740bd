# Sync benchmarks (included by bench/CMakeLists.txt). Run with bench/sync.sh.
add_executable(sync_load ${CMAKE_CURRENT_LIST_DIR}/sync_load.cpp)
target_link_libraries(sync_load PRIVATE blobsync_crdt)
blobsync_warnings(sync_load)
# The floor for the fixed-rate measurement: a minimal relay, one send per delivery.
add_executable(relay_floor ${CMAKE_CURRENT_LIST_DIR}/relay_floor.cpp)
target_link_libraries(relay_floor PRIVATE OpenSSL::Crypto)
blobsync_warnings(relay_floor)
