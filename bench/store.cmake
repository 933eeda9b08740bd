# Store benchmarks (included by bench/CMakeLists.txt). Run with bench/put.sh.
add_executable(put_bench ${CMAKE_CURRENT_LIST_DIR}/put_bench.cpp)
target_link_libraries(put_bench PRIVATE blobsync_store)
blobsync_warnings(put_bench)

add_executable(hash_bench ${CMAKE_CURRENT_LIST_DIR}/hash_bench.cpp)
target_link_libraries(hash_bench PRIVATE blobsync_core)
blobsync_warnings(hash_bench)
