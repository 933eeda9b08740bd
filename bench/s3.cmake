# S3 backend benchmark (included by bench/CMakeLists.txt). Run with bench/s3.sh.
if(TARGET blobsync_s3)
  add_executable(s3_bench ${CMAKE_CURRENT_LIST_DIR}/s3_bench.cpp)
  target_link_libraries(s3_bench PRIVATE blobsync_s3)
  blobsync_warnings(s3_bench)
endif()
