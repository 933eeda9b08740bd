# Warnings are errors for our own code. Third-party headers come in as SYSTEM includes.
function(blobsync_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Werror
    -Wnon-virtual-dtor -Wcast-align -Wunused -Woverloaded-virtual -Wimplicit-fallthrough)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # g++ 12 false positives in <expected>/<variant>/<string> at -O2
    # (GCC bugs 105562, 107138, 105651).
    target_compile_options(${target} PRIVATE -Wshadow=local
      -Wno-maybe-uninitialized -Wno-array-bounds -Wno-stringop-overflow -Wno-restrict)
  endif()
endfunction()
