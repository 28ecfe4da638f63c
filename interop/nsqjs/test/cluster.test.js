'use strict'
// Issue 10, acceptance 7: nsqjs, knowing nothing of cluster mode, publishes and consumes through a leader failover.
// A real etcd, one nsqlookupd controller and three nsqd nodes; the topic has 3 replicas and min_isr 2. The Reader
// finds the leader through lookupd (only leaders are listed); the Writer publishes to a follower, which forwards to
// the leader (a refused publish closes an nsqjs Writer, so it reconnects then). The leader is SIGKILLed mid-stream: every message the Writer had acknowledged reaches the Reader,
// which follows the new leader by itself.
const assert = require('node:assert/strict')
const {test} = require('node:test')
const nsq = require('nsqjs')
const {
  skipUnlessBuilt, skipUnlessEtcd, startEtcd, startLookupd, startNsqd, post, getJson, eventually, nextEvent, closeReader,
  uniqueName, onCleanup, sleep,
} = require('../support/helpers')

const skip = skipUnlessBuilt('nsqlookupd', 'nsqd') || skipUnlessEtcd()

function publish(writer, topic, body) {
  return new Promise((resolve, reject) => writer.publish(topic, body, (err) => (err ? reject(err) : resolve())))
}

test('nsqjs publishes and consumes through a leader failover found via lookupd', {skip, timeout: 180000}, async (t) => {
  const etcd = await startEtcd(t)
  const cluster = [`--etcd-endpoints=${etcd.clientUrl}`, '--cluster-name=nsqjs']
  const lookupd = await startLookupd(t, cluster)
  const nodes = []
  for (let i = 1; i <= 3; i++) {
    nodes.push(await startNsqd(t, {lookupdTcpAddresses: [lookupd.tcpAddress], extraArgs: [...cluster, `--node-id=n${i}`]}))
  }
  await eventually(async () => (await getJson(lookupd.httpBase, '/cluster')).json?.nodes?.length === 3, 'three nodes in the cluster')

  const topic = uniqueName('failover')
  await post(lookupd.httpBase, '/topic/create', {topic, replicas: 3, min_isr: 2})
  await post(lookupd.httpBase, '/channel/create', {topic, channel: 'readers'})
  const partition = async () => (await getJson(lookupd.httpBase, '/lookup', {topic})).json?.partitions?.[0]
  const first = await eventually(async () => {
    const p = await partition()
    return p && p.leader && p.isr.length === 3 ? p : null
  }, 'a leader with a full ISR')
  const leaderIndex = Number(first.leader.slice(1)) - 1
  const follower = nodes[(leaderIndex + 1) % 3]

  const reader = new nsq.Reader(topic, 'readers', {lookupdHTTPAddresses: [lookupd.httpAddress], lookupdPollInterval: 1, maxInFlight: 100})
  const received = new Set()
  reader.on('error', () => {})
  reader.on('message', (msg) => {
    received.add(msg.body.toString())
    msg.finish()
  })
  onCleanup(t, () => closeReader(reader))
  const connected = nextEvent(reader, 'nsqd_connected', 30000)
  reader.connect()
  await connected

  // nsqjs closes a Writer's connection on any error but E_FIN/REQ/TOUCH_FAILED (upstream's rule), so, as an
  // application would, the test connects a new Writer after a refused publish.
  let writer = null
  const connectWriter = async () => {
    if (writer) writer.close()
    writer = new nsq.Writer('127.0.0.1', follower.tcpPort)
    writer.on('error', () => {})
    const ready = nextEvent(writer, 'ready')
    writer.connect()
    await ready
  }
  await connectWriter()
  onCleanup(t, () => writer.close())

  const acked = []
  let failures = 0
  let stop = false
  const publishing = (async () => {
    for (let i = 0; !stop; i++) {
      const body = `m-${i}`
      try {
        await publish(writer, topic, body)
        acked.push(body)
      } catch {
        failures++ // not acknowledged (E_CLUSTER_UNAVAILABLE while no leader is known, say); a new body next
        await sleep(100)
        await connectWriter().catch(() => {})
      }
    }
  })()

  await eventually(() => acked.length >= 200, 'acknowledged publishes before the kill', 30000)
  await nodes[leaderIndex].proc.kill()
  const killedAt = acked.length
  const moved = await eventually(async () => {
    const p = await partition()
    return p && p.leader && p.leader !== first.leader ? p : null
  }, 'a new leader', 60000)
  await eventually(() => acked.length >= killedAt + 200, 'acknowledged publishes after the failover', 60000)
  stop = true
  await publishing

  await eventually(() => acked.every((b) => received.has(b)),
    () => `every acknowledged message at the reader (${acked.filter((b) => !received.has(b)).length} of ${acked.length} missing)`, 60000)
  assert.notEqual(moved.leader, first.leader)
  t.diagnostic(`leader ${first.leader} -> ${moved.leader}; ${acked.length} acknowledged, ${failures} publishes refused meanwhile`)
})
