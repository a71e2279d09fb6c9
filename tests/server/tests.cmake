# Daemon-level checks of strata-broker that need no client: a bad configuration is one
# error line and exit code 2 (issue 4, "The daemon").
if(TARGET strata-broker)
    add_test(NAME broker_bad_config_exits_2
             COMMAND sh -c "\"$<TARGET_FILE:strata-broker>\" /dev/null --override num.partitions=abc; test $? -eq 2")
    add_test(NAME broker_missing_config_exits_2
             COMMAND sh -c "\"$<TARGET_FILE:strata-broker>\" /nonexistent/server.properties; test $? -eq 2")
    add_test(NAME broker_config_doc_lists_keys
             COMMAND sh -c "\"$<TARGET_FILE:strata-broker>\" --config-doc | grep -q '`socket.request.max.bytes`'")
    set_tests_properties(broker_bad_config_exits_2 broker_missing_config_exits_2
                         broker_config_doc_lists_keys PROPERTIES LABELS unit TIMEOUT 30)
endif()
