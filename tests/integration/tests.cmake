# Integration tests (ctest label "integration"): each driver under tests/integration starts its own
# strata-broker on a free loopback port with a mkdtemp data dir and drives it with real clients
# (kcat, kafkajs) or raw sockets. They use separate ports, so ctest -j runs them side by side.
find_program(STRATA_PYTHON3 python3)
if(TARGET strata-broker AND STRATA_PYTHON3)
    set(strata_it_env
        "STRATA_BROKER=$<TARGET_FILE:strata-broker>"
        "STRATA_CONFIG=${CMAKE_SOURCE_DIR}/config/server.properties"
        "STRATA_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
        "PYTHONDONTWRITEBYTECODE=1")
    set(strata_it_drivers bad_input kcat restart kafkajs compression legacy_produce cold_fetch)
    if(TARGET strata)
        list(APPEND strata_it_env "STRATA_CLI=$<TARGET_FILE:strata>")
        list(APPEND strata_it_drivers cli compaction)
    endif()
    foreach(driver ${strata_it_drivers})
        add_test(NAME integration_${driver}
                 COMMAND ${STRATA_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/test_${driver}.py)
        set_tests_properties(integration_${driver} PROPERTIES
                             LABELS integration TIMEOUT 600 SKIP_RETURN_CODE 77
                             ENVIRONMENT "${strata_it_env}")
    endforeach()
endif()
