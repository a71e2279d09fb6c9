# tests/cli: unit tests of the pure parts of the `strata` CLI. There is no strata_cli
# library (the CLI is an executable), so each test compiles the pure src/cli files it
# needs directly and links proto + util.
if(TARGET strata_proto)
    set(STRATA_CLI_PURE_SOURCES
        ${CMAKE_SOURCE_DIR}/src/cli/args.c ${CMAKE_SOURCE_DIR}/src/cli/batch.c
        ${CMAKE_SOURCE_DIR}/src/cli/errors.c ${CMAKE_SOURCE_DIR}/src/cli/group_proto.c
        ${CMAKE_SOURCE_DIR}/src/cli/topics_fmt.c)
    file(GLOB cli_unit_tests CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/cli/test_cli_*.c)
    foreach(test_source ${cli_unit_tests})
        get_filename_component(test_name ${test_source} NAME_WE)
        add_executable(${test_name} ${test_source} ${STRATA_CLI_PURE_SOURCES})
        target_include_directories(${test_name} PRIVATE ${CMAKE_SOURCE_DIR}/src)
        strata_link_module(${test_name} proto)
        target_link_libraries(${test_name} PRIVATE PkgConfig::CMOCKA)
        add_test(NAME ${test_name} COMMAND ${test_name})
        set_tests_properties(${test_name} PROPERTIES LABELS unit TIMEOUT 300)
    endforeach()
endif()
