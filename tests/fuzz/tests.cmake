# Fuzzing of the request decoder (tests/fuzz/).
#  - STRATA_FUZZ=ON with clang: the libFuzzer target fuzz_request (run it with
#    scripts/fuzz.sh [seconds]); the top CMakeLists already compiles every object with
#    -fsanitize=fuzzer-no-link,address,undefined, the executable links -fsanitize=fuzzer.
#  - Any build: fuzz_request_replay runs every seed in tests/fuzz/corpus once through the
#    same entry point (a regression test for past findings), as ctest fuzz_request_corpus.
file(GLOB fuzz_corpus_files CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/corpus/*)

if(STRATA_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
    add_executable(fuzz_request ${CMAKE_CURRENT_LIST_DIR}/fuzz_request.c)
    target_link_options(fuzz_request PRIVATE -fsanitize=fuzzer)
    strata_link_module(fuzz_request proto)
    add_test(NAME fuzz_request_seeds COMMAND fuzz_request -runs=0 ${CMAKE_CURRENT_LIST_DIR}/corpus)
    set_tests_properties(fuzz_request_seeds PROPERTIES LABELS integration TIMEOUT 300)
elseif(NOT STRATA_FUZZ)
    add_executable(fuzz_request_replay ${CMAKE_CURRENT_LIST_DIR}/fuzz_request.c)
    target_compile_definitions(fuzz_request_replay PRIVATE FUZZ_REPLAY_MAIN)
    strata_link_module(fuzz_request_replay proto)
    add_test(NAME fuzz_request_corpus COMMAND fuzz_request_replay ${fuzz_corpus_files})
    set_tests_properties(fuzz_request_corpus PROPERTIES LABELS integration TIMEOUT 300)
endif()
