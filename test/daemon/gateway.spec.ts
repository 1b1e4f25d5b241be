import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { CarBlockIterator } from '@ipld/car'
import { withHTTP } from '@helia/http'
import { createVerifiedFetchWithHelia } from '@helia/verified-fetch'
import { MemoryBlockstore } from 'blockstore-core'
import { MemoryDatastore } from 'datastore-core'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { verifyBlock } from '../../src/content/verify.js'
import { Gateway } from '../../src/daemon/gateway.js'
import { TestSwarm, routingTableHas } from '../helpers/nodes.js'
import type { ShoalNode } from '../../src/node/shoal-node.js'

const MiB = 1024 * 1024

/** Every block of a CAR, each checked against its CID, and its roots. */
async function readCar (bytes: Uint8Array): Promise<{ roots: string[], blocks: Map<string, Uint8Array> }> {
  const iterator = await CarBlockIterator.fromBytes(bytes)
  const blocks = new Map<string, Uint8Array>()
  for await (const block of iterator) {
    verifyBlock(block.cid, block.bytes)
    blocks.set(block.cid.toString(), block.bytes)
  }
  return { roots: (await iterator.getRoots()).map(String), blocks }
}

describe('daemon: the trustless HTTP gateway', function () {
  this.timeout(120_000)
  const swarm = new TestSwarm()
  let holder: ShoalNode
  let reader: ShoalNode
  let gateway: Gateway
  let url: string
  let root: CID
  let tree: string
  let video: Buffer
  let otherCid: CID

  before(async () => {
    holder = await swarm.start()
    reader = await swarm.start({}, { bootstrapTo: [holder] })
    await routingTableHas(reader, 1)
    tree = path.join(await swarm.writeRandomFile('seed', 1).then(f => path.dirname(f)), 'tree')
    await fs.mkdir(path.join(tree, 'notes'), { recursive: true })
    video = randomBytes(3 * MiB + 4321)
    await fs.writeFile(path.join(tree, 'clip.mp4'), video)
    await fs.writeFile(path.join(tree, 'other.bin'), randomBytes(2 * MiB))
    await fs.writeFile(path.join(tree, 'notes', 'read me.txt'), 'plain words\n')
    const added = await holder.add(tree, { recursive: true })
    root = added.cid
    await holder.discovery.provide(root)
    otherCid = (await holder.list(root)).find(e => e.name === 'other.bin')!.cid
    gateway = new Gateway({ node: reader, host: '127.0.0.1', port: 0, fetch: true, findTimeout: 5_000 })
    await gateway.start()
    url = gateway.url!
  })

  after(async () => {
    await gateway?.stop()
    await swarm.stopAll()
  })

  it('serves a file from a directory deserialized, fetching only the blocks on its path and in it', async () => {
    const res = await fetch(`${url}/ipfs/${root}/notes/read%20me.txt`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8')
    assert.equal(await res.text(), 'plain words\n')
    assert.equal(await reader.repo.blocks.has(otherCid), false, 'a sibling file was not fetched')
  })

  it('plays a video: type, length, ETag, byte ranges (206, 416), HEAD and If-None-Match', async () => {
    const full = await fetch(`${url}/ipfs/${root}/clip.mp4`)
    assert.equal(full.status, 200)
    assert.equal(full.headers.get('content-type'), 'video/mp4')
    assert.equal(full.headers.get('accept-ranges'), 'bytes')
    assert.equal(Number(full.headers.get('content-length')), video.length)
    assert.deepEqual(Buffer.from(await full.arrayBuffer()), video)
    const etag = full.headers.get('etag')!
    assert.match(etag, /^"bafk|^"bafy/)

    const part = await fetch(`${url}/ipfs/${root}/clip.mp4`, { headers: { range: `bytes=${MiB - 10}-${MiB + 9}` } })
    assert.equal(part.status, 206)
    assert.equal(part.headers.get('content-range'), `bytes ${MiB - 10}-${MiB + 9}/${video.length}`)
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), video.subarray(MiB - 10, MiB + 10))
    const tail = await fetch(`${url}/ipfs/${root}/clip.mp4`, { headers: { range: 'bytes=-100' } })
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), video.subarray(video.length - 100))
    const past = await fetch(`${url}/ipfs/${root}/clip.mp4`, { headers: { range: `bytes=${video.length}-` } })
    assert.equal(past.status, 416)
    assert.equal(past.headers.get('content-range'), `bytes */${video.length}`)

    const head = await fetch(`${url}/ipfs/${root}/clip.mp4`, { method: 'HEAD' })
    assert.equal(head.status, 200)
    assert.equal(Number(head.headers.get('content-length')), video.length)
    assert.equal((await head.arrayBuffer()).byteLength, 0)
    const cached = await fetch(`${url}/ipfs/${root}/clip.mp4`, { headers: { 'if-none-match': etag } })
    assert.equal(cached.status, 304)
  })

  it('byte ranges with curl', async () => {
    const { stdout } = await promisify(execFile)('curl', ['-s', '-f', '-r', '100-199', `${url}/ipfs/${root}/clip.mp4`], { encoding: 'buffer' })
    assert.deepEqual(stdout, video.subarray(100, 200))
  })

  it('answers a block as application/vnd.ipld.raw (by ?format and by Accept) that hashes to its CID', async () => {
    const byQuery = await fetch(`${url}/ipfs/${root}?format=raw`)
    assert.equal(byQuery.status, 200)
    assert.equal(byQuery.headers.get('content-type'), 'application/vnd.ipld.raw')
    verifyBlock(root, new Uint8Array(await byQuery.arrayBuffer()))
    const byAccept = await fetch(`${url}/ipfs/${root}/notes`, { headers: { accept: 'application/vnd.ipld.raw' } })
    assert.equal(byAccept.status, 200)
    const notes = (await holder.resolve(root, { path: ['notes'] })).cid
    verifyBlock(notes, new Uint8Array(await byAccept.arrayBuffer()))
  })

  it('answers CARs: dag-scope all, block and entity, entity-bytes, every block verifiable and the path included', async () => {
    const all = await readCar(new Uint8Array(await (await fetch(`${url}/ipfs/${root}/clip.mp4?format=car`)).arrayBuffer()))
    assert.deepEqual(all.roots, [root.toString()])
    assert.ok(all.blocks.has(root.toString()), 'the path starts at the root')
    const clip = (await holder.resolve(root, { path: ['clip.mp4'] })).cid
    assert.ok(all.blocks.has(clip.toString()))
    assert.equal(all.blocks.size, 1 + 1 + 4, 'root directory, the file node, four 1 MiB-or-less leaves')

    const block = await readCar(new Uint8Array(await (await fetch(`${url}/ipfs/${root}/notes/read%20me.txt?dag-scope=block`, { headers: { accept: 'application/vnd.ipld.car' } })).arrayBuffer()))
    assert.equal(block.blocks.size, 3, 'root, notes, the file')

    const ranged = await fetch(`${url}/ipfs/${root}/clip.mp4?format=car&dag-scope=entity&entity-bytes=${2 * MiB}:${2 * MiB + 10}`)
    assert.equal(ranged.status, 200)
    assert.match(ranged.headers.get('content-type') ?? '', /^application\/vnd\.ipld\.car; version=1/)
    const range = await readCar(new Uint8Array(await ranged.arrayBuffer()))
    assert.equal(range.blocks.size, 3, 'root, the file node, the one leaf holding those bytes')
  })

  it('says what is wrong: 400 for a bad CID, path or format, 404 for a missing name, 405 for a write, 504 for content nobody has', async () => {
    assert.equal((await fetch(`${url}/ipfs/not-a-cid`)).status, 400)
    assert.equal((await fetch(`${url}/ipfs/${root}/../x`)).status, 400, 'the URL folds ".." away: /ipfs/x, not a CID')
    // sent as written (fetch would fold it): a ".." in the path is refused, not followed
    const { stdout: dotdot } = await promisify(execFile)('curl', ['-s', '--path-as-is', '-o', '/dev/null', '-w', '%{http_code}', `${url}/ipfs/${root}/%2e%2e/x`])
    assert.equal(dotdot, '400')
    assert.equal((await fetch(`${url}/ipfs/${root}?format=tar`)).status, 400)
    assert.equal((await fetch(`${url}/ipns/example.com`)).status, 400)
    const missing = await fetch(`${url}/ipfs/${root}/no-such-file`)
    assert.equal(missing.status, 404)
    assert.equal((await fetch(`${url}/ipfs/${root}`, { method: 'POST' })).status, 405)
    const nobody = CID.createV1(raw.code, await sha256.digest(randomBytes(16)))
    const started = Date.now()
    const gone = await fetch(`${url}/ipfs/${nobody}?format=raw`)
    assert.equal(gone.status, 504)
    assert.ok(Date.now() - started < 20_000, `answered in ${Date.now() - started} ms`)
  })

  it('serves every answer sandboxed (CSP sandbox: an opaque origin, no script) and nosniff: files, directories, blocks, CARs, errors', async () => {
    const answers = [
      await fetch(`${url}/ipfs/${root}/notes/read%20me.txt`),
      await fetch(`${url}/ipfs/${root}`),
      await fetch(`${url}/ipfs/${root}/notes/read%20me.txt`, { method: 'HEAD' }),
      await fetch(`${url}/ipfs/${root}?format=raw`),
      await fetch(`${url}/ipfs/${root}?format=car&dag-scope=block`),
      await fetch(`${url}/ipfs/not-a-cid`),
      await fetch(`${url}/ipfs/${root}/no-such-file`),
      await fetch(`${url}/ipfs/${root}`, { method: 'POST' })
    ]
    assert.deepEqual(answers.map(a => a.status), [200, 200, 200, 200, 200, 400, 404, 405])
    for (const a of answers) {
      assert.equal(a.headers.get('content-security-policy'), 'sandbox', a.url)
      assert.equal(a.headers.get('x-content-type-options'), 'nosniff', a.url)
      await a.body?.cancel()
    }
    assert.match(answers[1].headers.get('content-type') ?? '', /^text\/html/)
  })

  it('with fetching off, serves only what is held here', async () => {
    const local = new Gateway({ node: swarm.nodes[2] ?? await swarm.start({}, { bootstrapTo: [holder] }), host: '127.0.0.1', port: 0, fetch: false })
    await local.start()
    try {
      assert.equal((await fetch(`${local.url!}/ipfs/${root}?format=raw`)).status, 404)
    } finally {
      await local.stop()
    }
  })

  it('@helia/verified-fetch, with the gateway as its only trustless gateway, fetches a file and a directory entry', async () => {
    const helia = withHTTP(createHeliaLight({ blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore() } as any) as any, {
      recursiveGateways: [url],
      delegatedRouters: [],
      allowInsecure: true,
      allowLocal: true
    } as any)
    // Helia asks its non-fallback routers first and, with none at all, never gets to the
    // fallback (the gateway): one router that knows nothing lets it move on
    ;(helia as any).addRouter({ name: 'none', findProviders: async function * () {} })
    await (helia as any).start()
    const verifiedFetch = await createVerifiedFetchWithHelia(helia as any)
    try {
      const entry = await verifiedFetch(`ipfs://${root}/notes/read%20me.txt`, { signal: AbortSignal.timeout(30_000) })
      assert.equal(entry.status, 200)
      assert.equal(await entry.text(), 'plain words\n')
      const clip = (await holder.resolve(root, { path: ['clip.mp4'] })).cid
      const file = await verifiedFetch(`ipfs://${clip}`, { signal: AbortSignal.timeout(30_000) })
      assert.equal(file.status, 200)
      assert.deepEqual(Buffer.from(await file.arrayBuffer()), video)
    } finally {
      await verifiedFetch.stop()
      await (helia as any).stop()
    }
  })
})
