# Mesh replication benchmark (included by bench/CMakeLists.txt). Run with
# bench/mesh.sh; it also needs the blobsync binary (run as `blobsync serve`).
add_executable(mesh_seed ${CMAKE_CURRENT_LIST_DIR}/mesh_seed.cpp)
target_link_libraries(mesh_seed PRIVATE blobsync_client CLI11::CLI11)
blobsync_warnings(mesh_seed)
