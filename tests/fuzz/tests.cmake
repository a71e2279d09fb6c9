# Fuzzing of the request decoder and of the record paths (tests/fuzz/).
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
    add_executable(fuzz_request_replay ${CMAKE_CURRENT_LIST_DIR}/fuzz_request.c
                                       ${CMAKE_CURRENT_LIST_DIR}/replay_main.c)
    strata_link_module(fuzz_request_replay proto)
    add_test(NAME fuzz_request_corpus COMMAND fuzz_request_replay ${fuzz_corpus_files})
    set_tests_properties(fuzz_request_corpus PROPERTIES LABELS integration TIMEOUT 300)
endif()

# Fuzzing of the storage code that parses client record bytes (v2 batches, codecs, legacy
# message sets, the compacted-topic key check): fuzz_records, the same way. Seeds in
# tests/fuzz/corpus-records (tests/fuzz/make_record_seeds.py).
file(GLOB fuzz_records_corpus_files CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/corpus-records/*)
if(STRATA_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
    add_executable(fuzz_records ${CMAKE_CURRENT_LIST_DIR}/fuzz_records.c)
    target_link_options(fuzz_records PRIVATE -fsanitize=fuzzer)
    target_include_directories(fuzz_records PRIVATE ${CMAKE_SOURCE_DIR}/src)
    strata_link_module(fuzz_records storage)
    add_test(NAME fuzz_records_seeds
             COMMAND fuzz_records -runs=0 ${CMAKE_CURRENT_LIST_DIR}/corpus-records)
    set_tests_properties(fuzz_records_seeds PROPERTIES LABELS integration TIMEOUT 300)
elseif(NOT STRATA_FUZZ)
    add_executable(fuzz_records_replay ${CMAKE_CURRENT_LIST_DIR}/fuzz_records.c
                                       ${CMAKE_CURRENT_LIST_DIR}/replay_main.c)
    target_include_directories(fuzz_records_replay PRIVATE ${CMAKE_SOURCE_DIR}/src)
    strata_link_module(fuzz_records_replay storage)
    add_test(NAME fuzz_records_corpus COMMAND fuzz_records_replay ${fuzz_records_corpus_files})
    set_tests_properties(fuzz_records_corpus PROPERTIES LABELS integration TIMEOUT 300)
endif()
