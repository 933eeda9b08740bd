# blobsync_fuzz_target(NAME n SOURCES a.cpp... LIBS libs... [CORPUS dir])
#
# Every decoder fed from the network has a fuzz target defining
# LLVMFuzzerTestOneInput. With -DBLOBSYNC_FUZZ=ON (clang++-16) it becomes a
# libFuzzer binary `n`; in every build it is also linked with a replay main
# into `n_replay`, run by CTest over the committed regression corpus, so each
# known-hostile input stays a unit test.
if(BLOBSYNC_FUZZ)
  # Instrument every library, not only the targets' own files, so libFuzzer
  # sees coverage inside the decoders it drives.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined)
  add_link_options(-fsanitize=address,undefined)
  # `scripts/build fuzz fuzz_all` builds just the fuzz targets.
  add_custom_target(fuzz_all)
endif()

function(blobsync_fuzz_target)
  cmake_parse_arguments(F "" "NAME;CORPUS" "SOURCES;LIBS" ${ARGN})
  add_executable(${F_NAME}_replay ${F_SOURCES} ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.cpp)
  target_link_libraries(${F_NAME}_replay PRIVATE ${F_LIBS})
  blobsync_warnings(${F_NAME}_replay)
  if(F_CORPUS)
    add_test(NAME fuzz_replay.${F_NAME} COMMAND ${F_NAME}_replay ${F_CORPUS})
    set_tests_properties(fuzz_replay.${F_NAME} PROPERTIES LABELS "unit;fuzz")
  endif()
  if(BLOBSYNC_FUZZ)
    add_executable(${F_NAME} ${F_SOURCES})
    target_compile_options(${F_NAME} PRIVATE -fsanitize=fuzzer)
    target_link_options(${F_NAME} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${F_NAME} PRIVATE ${F_LIBS})
    blobsync_warnings(${F_NAME})
    add_dependencies(fuzz_all ${F_NAME})
  endif()
endfunction()
