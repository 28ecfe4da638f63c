'use strict'
// Shared by the interop tests: finds our built executables, starts them on free 127.0.0.1
// ports, waits for /ping, and guarantees every started process is killed (per test and at exit).
const {spawn} = require('node:child_process')
const events = require('node:events')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..')
const MAX_OUTPUT = 1 << 20
const live = new Set()

process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

/** Path of artifacts/bin/<name>/<config>/<name>, release preferred; null if not built. */
function executable(name) {
  for (const config of ['release', 'debug']) {
    const candidate = path.join(REPO_ROOT, 'artifacts', 'bin', name, config, name)
    if (fs.existsSync(candidate)) return candidate
  }
  return null
}

/**
 * A skip reason for node:test when an executable is missing, else false. Under CI (CI=true) nothing
 * is skipped: a missing executable must fail the run, not hide it.
 */
function skipUnlessBuilt(...names) {
  const missing = names.filter((n) => !executable(n))
  if (!missing.length || (process.env.CI && process.env.CI !== 'false')) return false
  return `not built: ${missing.join(', ')} (dotnet build NsqSharp.sln -c Release)`
}

const handedOut = new Set()
// Ports below the kernel's ephemeral range (32768+), so no outgoing connection can take one between
// the check and the server binding it; a random start avoids other test processes' picks.
const FIRST_PORT = 20000
const LAST_PORT = 32000
let nextPort = FIRST_PORT + Math.floor(Math.random() * (LAST_PORT - FIRST_PORT))

function isFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** A free TCP port on 127.0.0.1 (not handed out before in this process). */
async function freePort() {
  for (let tries = 0; tries < LAST_PORT - FIRST_PORT; tries++) {
    const port = nextPort
    nextPort = nextPort + 1 >= LAST_PORT ? FIRST_PORT : nextPort + 1
    if (!handedOut.has(port) && (await isFree(port))) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error(`no free port in ${FIRST_PORT}-${LAST_PORT}`)
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const cleanups = new WeakMap()
/**
 * Registers fn to run when test t ends, last registered first: clients close before the servers
 * they talk to are killed (node:test runs t.after hooks first-in first-out).
 */
function onCleanup(t, fn) {
  let stack = cleanups.get(t)
  if (!stack) {
    stack = []
    cleanups.set(t, stack)
    t.after(async () => {
      while (stack.length) {
        try {
          await stack.pop()()
        } catch {
          // keep tearing down the rest
        }
      }
    })
  }
  stack.push(fn)
}

/** Polls fn until it returns truthy or the deadline passes; `what` may be a function for a late description. */
async function eventually(fn, what, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs
  let lastError
  for (;;) {
    try {
      const value = await fn()
      if (value) return value
    } catch (e) {
      lastError = e
    }
    if (Date.now() > deadline) {
      const description = typeof what === 'function' ? what() : what
      throw new Error(`timed out waiting for ${description}${lastError ? `: ${lastError.message}` : ''}`)
    }
    await sleep(50)
  }
}

/** Resolves with the event's first argument, or rejects after timeoutMs. */
async function nextEvent(emitter, name, timeoutMs = 10000) {
  const [value] = await events.once(emitter, name, {signal: AbortSignal.timeout(timeoutMs)})
  return value
}

/** Path of an executable on PATH, or null. */
function onPath(name) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const candidate = path.join(dir, name)
    if (dir && fs.existsSync(candidate)) return candidate
  }
  return null
}

/** A skip reason when etcd (Debian's etcd-server) is missing, else false; never skipped under CI. */
function skipUnlessEtcd() {
  if (onPath('etcd') || (process.env.CI && process.env.CI !== 'false')) return false
  return 'etcd is not installed (apt-get install etcd-server)'
}

class Proc {
  constructor(name, args, file = executable(name)) {
    this.name = name
    this.output = ''
    this.child = spawn(file, args, {stdio: ['ignore', 'pipe', 'pipe']})
    live.add(this.child)
    const append = (chunk) => {
      if (this.output.length < MAX_OUTPUT) this.output += chunk.toString()
    }
    this.child.stdout.on('data', append)
    this.child.stderr.on('data', append)
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this.child)
        resolve({code, signal})
      })
    })
  }

  get running() {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  async waitForHttp(url, timeoutMs = 30000) {
    await eventually(async () => {
      if (!this.running) throw new Error(`${this.name} exited:\n${this.output}`)
      const response = await fetch(url, {signal: AbortSignal.timeout(2000)})
      return response.ok
    }, `${this.name} at ${url}\n${this.output}`, timeoutMs)
  }

  async kill() {
    if (!this.running) return
    this.child.kill('SIGKILL')
    await this.exited
  }

  /** SIGTERM, then SIGKILL if it has not exited within timeoutMs. */
  async terminate(timeoutMs = 10000) {
    if (!this.running) return this.exited
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs)
    const result = await this.exited
    clearTimeout(timer)
    return result
  }
}

/** Starts our nsqlookupd; killed when the test ends. restart() brings it back on the same ports. */
async function startLookupd(t, extraArgs = []) {
  const tcpPort = await freePort()
  const httpPort = await freePort()
  const lookupd = {
    proc: null,
    tcpPort,
    httpPort,
    tcpAddress: `127.0.0.1:${tcpPort}`,
    httpAddress: `127.0.0.1:${httpPort}`,
    httpBase: `http://127.0.0.1:${httpPort}`,
    async restart() {
      if (this.proc) await this.proc.kill()
      this.proc = new Proc('nsqlookupd', [
        `-tcp-address=127.0.0.1:${tcpPort}`,
        `-http-address=127.0.0.1:${httpPort}`,
        '-broadcast-address=127.0.0.1',
        ...extraArgs,
      ])
      await this.proc.waitForHttp(`http://127.0.0.1:${httpPort}/ping`)
    },
  }
  onCleanup(t, () => lookupd.proc && lookupd.proc.kill())
  await lookupd.restart()
  return lookupd
}

/** tcp_ports of the producers nsqlookupd lists for a topic ([] if unknown). */
async function lookupPorts(lookupd, topic) {
  const {status, json} = await getJson(lookupd.httpBase, '/lookup', {topic})
  if (status !== 200) return []
  return json.producers.map((p) => p.tcp_port).sort((a, b) => a - b)
}

/** Starts our nsqd with upstream's flags and its own data directory; killed and cleaned when the test ends. */
async function startNsqd(t, {lookupdTcpAddresses = [], extraArgs = []} = {}) {
  const tcpPort = await freePort()
  const httpPort = await freePort()
  const dataPath = fs.mkdtempSync(path.join(os.tmpdir(), 'nsqjs-nsqd-'))
  const args = [
    `--tcp-address=127.0.0.1:${tcpPort}`,
    `--http-address=127.0.0.1:${httpPort}`,
    '--broadcast-address=127.0.0.1',
    `--data-path=${dataPath}`,
    ...lookupdTcpAddresses.map((a) => `--lookupd-tcp-address=${a}`),
    ...extraArgs,
  ]
  const proc = new Proc('nsqd', args)
  onCleanup(t, async () => {
    await proc.kill()
    fs.rmSync(dataPath, {recursive: true, force: true})
  })
  await proc.waitForHttp(`http://127.0.0.1:${httpPort}/ping`)
  return {
    proc,
    tcpPort,
    httpPort,
    dataPath,
    tcpAddress: `127.0.0.1:${tcpPort}`,
    httpBase: `http://127.0.0.1:${httpPort}`,
  }
}

/** Starts a one-member etcd on free 127.0.0.1 ports with a temp data dir; killed and removed when the test ends. */
async function startEtcd(t) {
  const clientPort = await freePort()
  const peerPort = await freePort()
  const dataPath = fs.mkdtempSync(path.join(os.tmpdir(), 'nsqjs-etcd-'))
  const proc = new Proc('etcd', [
    '--name=test',
    `--data-dir=${dataPath}`,
    `--listen-client-urls=http://127.0.0.1:${clientPort}`,
    `--advertise-client-urls=http://127.0.0.1:${clientPort}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=test=http://127.0.0.1:${peerPort}`,
  ], onPath('etcd'))
  onCleanup(t, async () => {
    await proc.kill()
    fs.rmSync(dataPath, {recursive: true, force: true})
  })
  await proc.waitForHttp(`http://127.0.0.1:${clientPort}/health`)
  return {proc, clientUrl: `http://127.0.0.1:${clientPort}`}
}

/** POST with query parameters; throws on a non-2xx answer. */
async function post(base, pathname, params = {}, body = undefined) {
  const url = new URL(pathname, base)
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
  const response = await fetch(url, {method: 'POST', body, signal: AbortSignal.timeout(10000)})
  const text = await response.text()
  if (!response.ok) throw new Error(`POST ${url} -> ${response.status} ${text}`)
  return text
}

/** GET returning {status, json}; json is null for a non-JSON body. */
async function getJson(base, pathname, params = {}) {
  const url = new URL(pathname, base)
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
  const response = await fetch(url, {signal: AbortSignal.timeout(10000)})
  const text = await response.text()
  let json = null
  try {
    json = JSON.parse(text)
  } catch {
    json = null
  }
  return {status: response.status, json, text}
}

/** Closes an nsqjs Reader and waits (bounded) for its connections to close. */
async function closeReader(reader, timeoutMs = 5000) {
  if (!reader) return
  reader.close()
  await eventually(() => reader.connectionIds.length === 0, 'reader connections to close', timeoutMs).catch(() => {})
}

function uniqueName(prefix) {
  return `${prefix}_${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`
}

module.exports = {
  REPO_ROOT,
  executable,
  skipUnlessBuilt,
  skipUnlessEtcd,
  startEtcd,
  freePort,
  sleep,
  onCleanup,
  eventually,
  nextEvent,
  Proc,
  startLookupd,
  lookupPorts,
  startNsqd,
  post,
  getJson,
  closeReader,
  uniqueName,
}
