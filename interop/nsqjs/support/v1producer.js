'use strict'
// A minimal nsqd-side V1 client (what nsqd sends to nsqlookupd), to exercise the lookupd alone.
const net = require('node:net')

class V1Producer {
  static connect(port) {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new V1Producer(socket)))
      socket.once('error', reject)
    })
  }

  constructor(socket) {
    this.socket = socket
    this.buffer = Buffer.alloc(0)
    this.waiters = []
    socket.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk])
      this._drain()
    })
    socket.write('  V1')
  }

  _drain() {
    while (this.waiters.length && this.buffer.length >= 4) {
      const size = this.buffer.readInt32BE(0)
      if (this.buffer.length < 4 + size) return
      const data = this.buffer.subarray(4, 4 + size).toString()
      this.buffer = this.buffer.subarray(4 + size)
      this.waiters.shift()(data)
    }
  }

  _response() {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no response from nsqlookupd')), 10000)
      this.waiters.push((data) => {
        clearTimeout(timer)
        resolve(data)
      })
      this._drain()
    })
  }

  identify(info) {
    const body = Buffer.from(JSON.stringify(info))
    const size = Buffer.alloc(4)
    size.writeInt32BE(body.length)
    this.socket.write(Buffer.concat([Buffer.from('IDENTIFY\n'), size, body]))
    return this._response()
  }

  command(line) {
    this.socket.write(`${line}\n`)
    return this._response()
  }

  close() {
    this.socket.destroy()
  }
}

module.exports = {V1Producer}
