// kafkajs 2.2.4 client driven by test_kafkajs.py: one admin or producer action per run, result
// printed as one JSON line on stdout (kafkajs's own log lines go to stderr).
//   node kafkajs_client.js BOOTSTRAP create TOPIC PARTITIONS
//   node kafkajs_client.js BOOTSTRAP metadata TOPIC
//   node kafkajs_client.js BOOTSTRAP produce TOPIC COUNT
//   node kafkajs_client.js BOOTSTRAP delete TOPIC
//   node kafkajs_client.js BOOTSTRAP list
'use strict';
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const { Kafka, logLevel } = require('kafkajs');

const [bootstrap, action, ...args] = process.argv.slice(2);
const kafka = new Kafka({
    clientId: 'strata-it-kafkajs',
    brokers: [bootstrap],
    connectionTimeout: 10000,
    requestTimeout: 30000,
    retry: { retries: 5 },
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, level, log }) => {
        process.stderr.write(`[kafkajs ${level}] ${namespace}: ${JSON.stringify(log)}\n`);
    },
});

async function withAdmin(fn) {
    const admin = kafka.admin();
    await admin.connect();
    try {
        return await fn(admin);
    } finally {
        await admin.disconnect();
    }
}

async function main() {
    switch (action) {
    case 'create':
        return withAdmin(async (admin) => ({
            created: await admin.createTopics({
                topics: [{ topic: args[0], numPartitions: Number(args[1]) }],
                waitForLeaders: true,
                timeout: 20000,
            }),
        }));
    case 'metadata':
        return withAdmin((admin) => admin.fetchTopicMetadata({ topics: [args[0]] }));
    case 'list':
        return withAdmin(async (admin) => ({ topics: await admin.listTopics() }));
    case 'delete':
        return withAdmin(async (admin) => {
            await admin.deleteTopics({ topics: [args[0]], timeout: 20000 });
            return { deleted: args[0] };
        });
    case 'produce': {
        const producer = kafka.producer({ allowAutoTopicCreation: false });
        await producer.connect();
        const topic = args[0];
        const count = Number(args[1]);
        const results = [];
        try {
            for (let start = 0; start < count; start += 500) {
                const messages = [];
                for (let i = start; i < Math.min(count, start + 500); i++) {
                    messages.push({ key: `kjs-key-${i % 13}`, value: `kjs-value-${i}` });
                }
                const res = await producer.send({ topic, acks: -1, messages });
                results.push(...res);
            }
        } finally {
            await producer.disconnect();
        }
        return { sent: count, results };
    }
    default:
        throw new Error(`unknown action ${action}`);
    }
}

main().then(
    (result) => {
        process.stdout.write(JSON.stringify(result) + '\n');
    },
    (err) => {
        process.stderr.write(`kafkajs_client ${action} failed: ${err.name}: ${err.message}\n`);
        if (err.type) {
            process.stderr.write(`  type: ${err.type}\n`);
        }
        process.exitCode = 1;
    });
