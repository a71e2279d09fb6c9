# Cluster tests of issue 5 (labels integration;slow): each driver starts its own ZooKeeper (Debian's
# package, scripts/zk.sh, free loopback port, mkdtemp dir) and three strata-broker processes on
# two racks with separate ports and data dirs, so they run side by side with other tests.
# A driver exits 77 (skipped) when java/zookeeper or kcat are not installed.
find_program(STRATA_PYTHON3 python3)
if(TARGET strata-broker AND TARGET strata AND TARGET strata-zkdump AND STRATA_PYTHON3)
    set(strata_ct_env
        "STRATA_BROKER=$<TARGET_FILE:strata-broker>"
        "STRATA_CLI=$<TARGET_FILE:strata>"
        "STRATA_ZKDUMP=$<TARGET_FILE:strata-zkdump>"
        "STRATA_CONFIG=${CMAKE_SOURCE_DIR}/config/server.properties"
        "STRATA_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
        "PYTHONDONTWRITEBYTECODE=1")
    foreach(driver membership topics failover topics_zk)
        add_test(NAME cluster_${driver}
                 COMMAND ${STRATA_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/test_cluster_${driver}.py)
        set_tests_properties(cluster_${driver} PROPERTIES
                             LABELS "integration;slow" TIMEOUT 900 SKIP_RETURN_CODE 77
                             ENVIRONMENT "${strata_ct_env}")
    endforeach()
endif()
