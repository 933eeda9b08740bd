# Sync benchmarks (included by bench/CMakeLists.txt). Run with bench/sync.sh.
add_executable(sync_load ${CMAKE_CURRENT_LIST_DIR}/sync_load.cpp)
target_link_libraries(sync_load PRIVATE blobsync_crdt)
blobsync_warnings(sync_load)
