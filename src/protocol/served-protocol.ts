import type { StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import type { Registrar } from '@libp2p/interface-internal'

/**
 * A protocol handler that is registered with libp2p only while the network
 * service is started *and* a server is attached to answer: a peer that
 * opens a stream before the server is ready, or after it stopped, is told
 * the protocol is not supported (multistream-select's answer) instead of
 * having a stream accepted and aborted. Changes apply in order.
 */
export class ServedProtocol {
  private readonly registrar: Registrar
  private readonly protocol: string
  private readonly handler: StreamHandler
  private readonly options: StreamHandlerOptions
  private started = false
  private serving = false
  private registered = false
  private chain: Promise<void> = Promise.resolve()

  constructor (registrar: Registrar, protocol: string, handler: StreamHandler, options: StreamHandlerOptions) {
    this.registrar = registrar
    this.protocol = protocol
    this.handler = handler
    this.options = options
  }

  async start (): Promise<void> {
    this.started = true
    await this.apply()
  }

  async stop (): Promise<void> {
    this.started = false
    await this.apply()
  }

  /** A server is attached (true) or gone (false). */
  async serve (serving: boolean): Promise<void> {
    this.serving = serving
    await this.apply()
  }

  private async apply (): Promise<void> {
    this.chain = this.chain.catch(() => {}).then(async () => {
      const wanted = this.started && this.serving
      if (wanted && !this.registered) {
        await this.registrar.handle(this.protocol, this.handler, this.options)
        this.registered = true
      } else if (!wanted && this.registered) {
        this.registered = false
        await this.registrar.unhandle(this.protocol)
      }
    })
    await this.chain
  }
}
