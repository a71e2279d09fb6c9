# Issue 7 tests with real clients (ctest label "integration"): consumer groups with kcat -G
# and kafkajs, the idempotent librdkafka producer across broker kills, and the
# `strata consumer-groups` CLI. Each driver starts its own broker (tests/integration/harness.py).
find_program(STRATA_GROUPS_PYTHON3 python3)
if(TARGET strata-broker AND TARGET strata AND STRATA_GROUPS_PYTHON3)
    set(strata_groups_env
        "STRATA_BROKER=$<TARGET_FILE:strata-broker>"
        "STRATA_CLI=$<TARGET_FILE:strata>"
        "STRATA_CONFIG=${CMAKE_SOURCE_DIR}/config/server.properties"
        "STRATA_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
        "PYTHONDONTWRITEBYTECODE=1")
    if(TARGET strata-idemprod)
        list(APPEND strata_groups_env "STRATA_IDEMPROD=$<TARGET_FILE:strata-idemprod>")
    endif()
    if(TARGET strata-zkdump)
        list(APPEND strata_groups_env "STRATA_ZKDUMP=$<TARGET_FILE:strata-zkdump>")
    endif()
    foreach(driver kcat idempotence kafkajs cli bad_input cluster)
        if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_groups_${driver}.py)
            add_test(NAME groups_${driver}
                     COMMAND ${STRATA_GROUPS_PYTHON3}
                             ${CMAKE_CURRENT_LIST_DIR}/test_groups_${driver}.py)
            set(labels integration)
            if(driver STREQUAL "cluster")
                set(labels "integration;slow") # ZooKeeper + 3 brokers (tests/cluster harness)
            endif()
            set_tests_properties(groups_${driver} PROPERTIES
                                 LABELS "${labels}" TIMEOUT 900 SKIP_RETURN_CODE 77
                                 ENVIRONMENT "${strata_groups_env}")
        endif()
    endforeach()
endif()
