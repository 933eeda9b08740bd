# MIME rule benchmark (included by bench/CMakeLists.txt). Run with bench/mime.sh.
add_executable(mime_refusals ${CMAKE_CURRENT_LIST_DIR}/mime_refusals.cpp)
target_link_libraries(mime_refusals PRIVATE blobsync_http)
blobsync_warnings(mime_refusals)
