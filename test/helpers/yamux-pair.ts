import { yamux } from '@chainsafe/libp2p-yamux'
import { multiaddrConnectionPair } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'

/**
 * Two ends of one stream muxed by real yamux over an in-memory connection
 * (`streamPair()` muxes with a mock that ignores pause and resume, so it
 * cannot show backpressure from a slow reader). `close` ends both muxers.
 */
export async function yamuxPair (): Promise<{ outbound: Stream, inbound: Stream, close(): void }> {
  const [a, b] = multiaddrConnectionPair()
  const local = yamux({ enableKeepAlive: false })().createStreamMuxer(a)
  const remote = yamux({ enableKeepAlive: false })().createStreamMuxer(b)
  const inbound = new Promise<Stream>(resolve => {
    remote.addEventListener('stream', evt => { resolve(evt.detail) }, { once: true })
  })
  const outbound = await local.createStream()
  return {
    outbound,
    inbound: await inbound,
    close: () => {
      local.abort(new Error('test over'))
      remote.abort(new Error('test over'))
    }
  }
}
