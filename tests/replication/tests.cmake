# Replication tests of issue 6 (labels integration;slow): one driver, three cases, each with its
# own ZooKeeper (scripts/zk.sh, free loopback port, mkdtemp dir) and three strata-broker processes
# on two racks with their own ports and data dirs, so it runs side by side with other tests.
# Exits 77 (skipped) when java/zookeeper or kcat are not installed.
find_program(STRATA_PYTHON3 python3)
if(TARGET strata-broker AND TARGET strata AND TARGET strata-zkdump AND TARGET strata-replprod
   AND STRATA_PYTHON3)
    add_test(NAME replication
             COMMAND ${STRATA_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/test_replication.py)
    set_tests_properties(replication PROPERTIES
                         LABELS "integration;slow" TIMEOUT 600 SKIP_RETURN_CODE 77
                         ENVIRONMENT "STRATA_BROKER=$<TARGET_FILE:strata-broker>;STRATA_CLI=$<TARGET_FILE:strata>;STRATA_ZKDUMP=$<TARGET_FILE:strata-zkdump>;STRATA_REPLPROD=$<TARGET_FILE:strata-replprod>;STRATA_CONFIG=${CMAKE_SOURCE_DIR}/config/server.properties;STRATA_SOURCE_DIR=${CMAKE_SOURCE_DIR};PYTHONDONTWRITEBYTECODE=1")
    add_test(NAME replication_compaction
             COMMAND ${STRATA_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/test_replication_compaction.py)
    set_tests_properties(replication_compaction PROPERTIES
                         LABELS "integration;slow" TIMEOUT 600 SKIP_RETURN_CODE 77
                         ENVIRONMENT "STRATA_BROKER=$<TARGET_FILE:strata-broker>;STRATA_CLI=$<TARGET_FILE:strata>;STRATA_ZKDUMP=$<TARGET_FILE:strata-zkdump>;STRATA_CONFIG=${CMAKE_SOURCE_DIR}/config/server.properties;STRATA_SOURCE_DIR=${CMAKE_SOURCE_DIR};PYTHONDONTWRITEBYTECODE=1")
endif()
