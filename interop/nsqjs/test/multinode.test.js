'use strict'
// Issue 3: several of our nsqd processes behind one of our nsqlookupd; nsqjs consumers discover
// producers through lookupdHTTPAddresses and must receive every message published to any node.
const assert = require('node:assert/strict')
const {test} = require('node:test')
const nsq = require('nsqjs')
const {
  skipUnlessBuilt, startLookupd, lookupPorts, startNsqd, post, getJson, eventually, nextEvent, closeReader, uniqueName, onCleanup,
} = require('../support/helpers')

const skip = skipUnlessBuilt('nsqlookupd', 'nsqd')

async function startWriter(t, node) {
  const writer = new nsq.Writer('127.0.0.1', node.tcpPort)
  writer.on('error', () => {})
  const ready = nextEvent(writer, 'ready')
  writer.connect()
  await ready
  onCleanup(t, () => writer.close())
  return writer
}

function publish(writer, topic, body) {
  return new Promise((resolve, reject) => writer.publish(topic, body, (err) => (err ? reject(err) : resolve())))
}

/** A Reader through lookupd that records every body it gets (and finishes each message). */
function collectingReader(t, lookupd, topic, channel) {
  const reader = new nsq.Reader(topic, channel, {
    lookupdHTTPAddresses: [lookupd.httpAddress],
    lookupdPollInterval: 1,
    maxInFlight: 50,
  })
  const received = new Map()
  reader.on('error', () => {})
  reader.on('message', (msg) => {
    const body = msg.body.toString()
    received.set(body, (received.get(body) || 0) + 1)
    msg.finish()
  })
  onCleanup(t, () => closeReader(reader))
  return {reader, received}
}

test('readers discover all nsqd nodes via lookupd and receive every message', {skip, timeout: 120000}, async (t) => {
  const lookupd = await startLookupd(t)
  const nodes = []
  for (let i = 0; i < 3; i++) {
    nodes.push(await startNsqd(t, {lookupdTcpAddresses: [lookupd.tcpAddress]}))
  }
  const topic = uniqueName('multi')

  for (const node of nodes) await post(node.httpBase, '/topic/create', {topic})
  const expectedPorts = nodes.map((n) => n.tcpPort).sort((a, b) => a - b)
  await eventually(async () => JSON.stringify(await lookupPorts(lookupd, topic)) === JSON.stringify(expectedPorts),
    'all three nodes registered the topic')

  const {reader, received} = collectingReader(t, lookupd, topic, 'everything')
  let connections = 0
  reader.on('nsqd_connected', () => connections++)
  reader.connect()
  await eventually(() => connections === 3, 'reader connected to all three nodes')

  // The channel each node got from SUB is registered with lookupd too.
  await eventually(async () => (await getJson(lookupd.httpBase, '/channels', {topic})).json.channels.includes('everything'),
    'channel registration')

  const writers = []
  for (const node of nodes) writers.push(await startWriter(t, node))
  const total = 300
  const sends = []
  for (let i = 0; i < total; i++) {
    const n = i % nodes.length
    const body = `message-${i}`
    sends.push(i % 2 === 0 ? post(nodes[n].httpBase, '/pub', {topic}, body) : publish(writers[n], topic, body))
  }
  await Promise.all(sends)

  await eventually(() => received.size === total, () => `all ${total} messages (have ${received.size})`, 60000)
  for (let i = 0; i < total; i++) assert.ok(received.has(`message-${i}`), `message-${i} missing`)
})

test('a new node pre-creates channels lookupd knows, so no channel misses messages', {skip, timeout: 120000}, async (t) => {
  const lookupd = await startLookupd(t)
  const topic = uniqueName('precreate')
  const first = await startNsqd(t, {lookupdTcpAddresses: [lookupd.tcpAddress]})
  await post(first.httpBase, '/topic/create', {topic})
  await post(first.httpBase, '/channel/create', {topic, channel: 'early'})
  await post(first.httpBase, '/channel/create', {topic, channel: 'late'})
  await eventually(async () => (await getJson(lookupd.httpBase, '/channels', {topic})).json.channels.length === 2,
    'channels known to lookupd')

  // The second node has never seen the topic: publishing creates it, and it must ask lookupd
  // for the channels before those messages can be lost to a channel created later.
  const second = await startNsqd(t, {lookupdTcpAddresses: [lookupd.tcpAddress]})
  await eventually(async () => (await getJson(lookupd.httpBase, '/nodes')).json.producers.length === 2, 'second node identified')
  const count = 20
  for (let i = 0; i < count; i++) await post(second.httpBase, '/pub', {topic}, `kept-${i}`)

  const early = collectingReader(t, lookupd, topic, 'early')
  early.reader.connect()
  await eventually(() => early.received.size === count, () => `early channel to get ${count} (has ${early.received.size})`, 30000)

  const late = collectingReader(t, lookupd, topic, 'late')
  late.reader.connect()
  await eventually(() => late.received.size === count, () => `late channel to get ${count} (has ${late.received.size})`, 30000)
})

test('nsqd re-registers with a restarted lookupd and unregisters deleted topics', {skip, timeout: 120000}, async (t) => {
  const lookupd = await startLookupd(t)
  const node = await startNsqd(t, {lookupdTcpAddresses: [lookupd.tcpAddress]})
  const topic = uniqueName('rereg')
  await post(node.httpBase, '/topic/create', {topic})
  await post(node.httpBase, '/channel/create', {topic, channel: 'c'})
  await eventually(async () => (await lookupPorts(lookupd, topic)).length === 1, 'registration')

  await lookupd.restart() // a new, empty lookupd on the same ports
  await eventually(async () => (await lookupPorts(lookupd, topic)).length === 1, 're-registration', 30000)
  await eventually(async () => (await getJson(lookupd.httpBase, '/channels', {topic})).json.channels.includes('c'),
    'channel re-registration')

  await post(node.httpBase, '/topic/delete', {topic})
  await eventually(async () => (await lookupPorts(lookupd, topic)).length === 0, 'topic unregistered')
})

test('a stopped nsqd disappears from lookupd', {skip, timeout: 60000}, async (t) => {
  const lookupd = await startLookupd(t)
  const node = await startNsqd(t, {lookupdTcpAddresses: [lookupd.tcpAddress]})
  await eventually(async () => (await getJson(lookupd.httpBase, '/nodes')).json.producers.length === 1, 'node listed')
  const nodes = (await getJson(lookupd.httpBase, '/nodes')).json.producers
  assert.equal(nodes[0].tcp_port, node.tcpPort)
  assert.equal(nodes[0].http_port, node.httpPort)
  assert.equal(nodes[0].broadcast_address, '127.0.0.1')

  await node.proc.terminate()
  await eventually(async () => (await getJson(lookupd.httpBase, '/nodes')).json.producers.length === 0, 'node removed')
})
