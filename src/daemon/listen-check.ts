import net from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { ConfigError } from '../errors.js'

/** What an OS error when binding a port means, for people. */
const REASONS: Record<string, string> = {
  EADDRINUSE: 'the address is in use (another daemon? choose another port with --listen)',
  EADDRNOTAVAIL: 'that IP address is not one of this machine\'s',
  EACCES: 'permission denied (ports below 1024 need privileges)'
}

/**
 * libp2p reports a listen failure as "Some configured addresses failed to
 * be listened on", without saying which or why. Try each TCP listen address
 * ourselves and name the one that fails and the reason; any other error is
 * returned unchanged.
 */
export async function explainListenFailure (err: any, listen: string[]): Promise<unknown> {
  if (!/listen/i.test(String(err?.message)) && err?.name !== 'UnsupportedListenAddressesError') return err
  for (const address of listen) {
    const parts = multiaddr(address).getComponents()
    const host = parts.find(c => c.name === 'ip4' || c.name === 'ip6')?.value
    const port = Number(parts.find(c => c.name === 'tcp')?.value)
    if (host == null || !Number.isInteger(port) || port === 0) continue
    const code = await tryBind(host, port)
    if (code != null) {
      return new ConfigError(`cannot listen on ${address}: ${REASONS[code] ?? code}`)
    }
  }
  return err
}

async function tryBind (host: string, port: number): Promise<string | undefined> {
  return await new Promise(resolve => {
    const server = net.createServer()
    server.once('error', (e: any) => { resolve(e.code ?? e.message) })
    server.listen(port, host, () => { server.close(() => { resolve(undefined) }) })
  })
}
