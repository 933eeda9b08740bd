# Clang builds (fuzzing). Debian 12's libstdc++ 12 only offers <expected> when
# __cpp_concepts >= 202002L; clang 16 implements what that gate protects
# (P0848, conditionally trivial special members) but still reports 201907L,
# so we raise the macro. Clang 14/15 lack P0848 and cannot build this project.
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  if(CMAKE_CXX_COMPILER_VERSION VERSION_LESS 16)
    message(FATAL_ERROR "clang ${CMAKE_CXX_COMPILER_VERSION} cannot compile std::expected from libstdc++ 12; "
                        "configure with CXX=clang++-16 (Debian package clang-16)")
  endif()
  if(CMAKE_CXX_COMPILER_VERSION VERSION_LESS 19)
    add_compile_options(-D__cpp_concepts=202002L -Wno-macro-redefined)
  endif()
endif()
if(BLOBSYNC_FUZZ AND NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "BLOBSYNC_FUZZ needs clang (libFuzzer): configure with CXX=clang++-16")
endif()
