// kafkajs 2.2.4 consumer-group member for test_groups_kafkajs.py: joins GROUP, reads TOPIC
// from the beginning with eachMessage until COUNT messages arrived, commits (autoCommit, and
// once more explicitly), leaves, and prints {"values": [...]} as one JSON line on stdout.
//   node kafkajs_group.js BOOTSTRAP GROUP TOPIC COUNT
'use strict';
const path = require('path');
const { Kafka, logLevel } = require(path.join(__dirname, '..', 'integration', 'node_modules',
                                              'kafkajs'));

const [bootstrap, groupId, topic, countArg] = process.argv.slice(2);
const count = Number(countArg);
const kafka = new Kafka({
    clientId: 'strata-groups-kafkajs',
    brokers: [bootstrap],
    connectionTimeout: 10000,
    requestTimeout: 30000,
    retry: { retries: 10 },
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, level, log }) => {
        process.stderr.write(`[kafkajs ${level}] ${namespace}: ${JSON.stringify(log)}\n`);
    },
});

async function main() {
    const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000 });
    const values = [];
    let done;
    const finished = new Promise((resolve) => { done = resolve; });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
        autoCommitInterval: 500,
        eachMessage: async ({ partition, message }) => {
            values.push(message.value.toString());
            await consumer.commitOffsets([{ topic, partition,
                offset: (BigInt(message.offset) + 1n).toString() }]);
            if (values.length >= count) {
                done();
            }
        },
    });
    const timer = setTimeout(() => done(), 60000);
    await finished;
    clearTimeout(timer);
    await consumer.disconnect();
    process.stdout.write(JSON.stringify({ values }) + '\n');
}

main().catch((e) => {
    process.stderr.write(`kafkajs_group: ${e.stack || e}\n`);
    process.exit(1);
});
