# CRDT benchmarks (included by bench/CMakeLists.txt). Run with bench/crdt.sh.
add_executable(crdt_bench ${CMAKE_CURRENT_LIST_DIR}/crdt_bench.cpp)
target_include_directories(crdt_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests/crdt)
target_link_libraries(crdt_bench PRIVATE blobsync_crdt z)
blobsync_warnings(crdt_bench)
