'use strict'
// nsqjs discovery against our nsqlookupd alone: the /lookup shape nsqjs parses, and a Reader
// that finds a producer through lookupdHTTPAddresses and dials it.
const assert = require('node:assert/strict')
const net = require('node:net')
const {test} = require('node:test')
const nsq = require('nsqjs')
const lookup = require('nsqjs/lib/lookupd')
const {skipUnlessBuilt, startLookupd, freePort, eventually, post, getJson, closeReader, uniqueName, onCleanup} = require('../support/helpers')
const {V1Producer} = require('../support/v1producer')

const skip = skipUnlessBuilt('nsqlookupd')

test('nsqjs lookup() reads producers registered over TCP V1', {skip, timeout: 30000}, async (t) => {
  const lookupd = await startLookupd(t)
  const topic = uniqueName('lookup')
  const a = await V1Producer.connect(lookupd.tcpPort)
  const b = await V1Producer.connect(lookupd.tcpPort)
  onCleanup(t, () => {
    a.close()
    b.close()
  })
  const identify = JSON.parse(await a.identify({broadcast_address: '127.0.0.1', tcp_port: 4150, http_port: 4151, version: '1.3.0', hostname: 'a'}))
  assert.equal(identify.http_port, lookupd.httpPort)
  assert.equal(identify.tcp_port, lookupd.tcpPort)
  await b.identify({broadcast_address: '127.0.0.1', tcp_port: 5150, http_port: 5151, version: '1.3.0', hostname: 'b'})
  assert.equal(await a.command(`REGISTER ${topic} ch`), 'OK')
  assert.equal(await b.command(`REGISTER ${topic}`), 'OK')

  const producers = await lookup([lookupd.httpAddress, `http://${lookupd.httpAddress}/lookup`], topic)
  const ports = producers.map((p) => p.tcp_port).sort()
  assert.deepEqual(ports, [4150, 5150])

  // Unknown topic: nsqjs treats the 404 as "no producers".
  assert.deepEqual(await lookup(lookupd.httpAddress, uniqueName('none')), [])

  // A producer that disconnects is gone from /lookup; the topic key stays.
  b.close()
  await eventually(async () => (await lookup(lookupd.httpAddress, topic)).length === 1, 'producer removal')
  const topics = await getJson(lookupd.httpBase, '/topics')
  assert.ok(topics.json.topics.includes(topic))
})

test('nsqjs Reader discovers a producer via lookupdHTTPAddresses and dials it', {skip, timeout: 30000}, async (t) => {
  const lookupd = await startLookupd(t)
  const topic = uniqueName('discover')

  // A stand-in nsqd that only records the V2 magic nsqjs sends when it dials.
  const dialed = new Promise((resolve) => {
    const server = net.createServer((socket) => {
      socket.once('data', (data) => {
        resolve(data.subarray(0, 4).toString())
        socket.destroy()
      })
    })
    onCleanup(t, () => server.close())
    server.listen(0, '127.0.0.1')
    server.once('listening', async () => {
      const producer = await V1Producer.connect(lookupd.tcpPort)
      onCleanup(t, () => producer.close())
      await producer.identify({broadcast_address: '127.0.0.1', tcp_port: server.address().port, http_port: await freePort(), version: '1.3.0', hostname: 'fake'})
      await producer.command(`REGISTER ${topic}`)
      reader.connect()
    })
  })

  const reader = new nsq.Reader(topic, 'ch', {lookupdHTTPAddresses: [lookupd.httpAddress]})
  reader.on('error', () => {})
  onCleanup(t, () => closeReader(reader))
  assert.equal(await dialed, '  V2')
})

test('lookupd administration endpoints used by nsqadmin', {skip, timeout: 30000}, async (t) => {
  const lookupd = await startLookupd(t)
  const topic = uniqueName('admin')
  await post(lookupd.httpBase, '/channel/create', {topic, channel: 'c'})
  assert.deepEqual((await getJson(lookupd.httpBase, '/channels', {topic})).json, {channels: ['c']})
  const missing = await getJson(lookupd.httpBase, '/channels')
  assert.equal(missing.status, 400)
  assert.deepEqual(missing.json, {message: 'MISSING_ARG_TOPIC'})
  await post(lookupd.httpBase, '/topic/delete', {topic})
  assert.deepEqual((await getJson(lookupd.httpBase, '/channels', {topic})).json, {channels: []})
  const info = await getJson(lookupd.httpBase, '/info')
  assert.deepEqual(info.json, {version: '1.3.0'})
})
