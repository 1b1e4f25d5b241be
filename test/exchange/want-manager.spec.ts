import assert from 'node:assert/strict'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { WantManager } from '../../src/exchange/want-manager.js'
import type { WantSubscriber } from '../../src/exchange/want-manager.js'

async function cidOf (text: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(text)))
}

class Recorder implements WantSubscriber {
  readonly heard: string[] = []
  claimedElsewhere (cid: CID): void { this.heard.push(`claimed ${cid.toString().slice(-4)}`) }
  releasedElsewhere (cid: CID): void { this.heard.push(`released ${cid.toString().slice(-4)}`) }
  storedElsewhere (cid: CID): void { this.heard.push(`stored ${cid.toString().slice(-4)}`) }
}

describe('exchange: the node-wide want manager', () => {
  it('lets one download claim a block; the others wait for it and hear when it is stored', async () => {
    const cid = await cidOf('block')
    const tag = cid.toString().slice(-4)
    const wants = new WantManager()
    const a = new Recorder()
    const b = new Recorder()
    assert.equal(wants.want(cid, a), false, 'nobody fetches it yet')
    assert.equal(wants.want(cid, b), false)
    assert.equal(wants.claim(cid, a), true)
    assert.deepEqual(b.heard, [`claimed ${tag}`], 'b is told to wait')
    assert.equal(wants.claim(cid, b), false, 'b may not ask for it too')
    assert.equal(wants.claim(cid, a), true, 'a claiming again is fine')
    const c = new Recorder()
    assert.equal(wants.want(cid, c), true, 'a third download learns it is being fetched')
    wants.stored(cid, a)
    assert.deepEqual(b.heard, [`claimed ${tag}`, `stored ${tag}`])
    assert.deepEqual(c.heard, [`stored ${tag}`])
    assert.deepEqual(a.heard, [], 'the one that stored it hears nothing')
    assert.equal(wants.size, 0, 'a stored block is forgotten')
  })

  it('hands a block on when its claimant gives it up or ends', async () => {
    const one = await cidOf('one')
    const two = await cidOf('two')
    const wants = new WantManager()
    const a = new Recorder()
    const b = new Recorder()
    for (const cid of [one, two]) {
      wants.want(cid, a)
      wants.want(cid, b)
      wants.claim(cid, a)
    }
    b.heard.length = 0
    wants.unclaim(one, b)
    assert.deepEqual(b.heard, [], 'only the claimant can give a claim up')
    wants.unclaim(one, a)
    assert.deepEqual(b.heard, [`released ${one.toString().slice(-4)}`])
    assert.equal(wants.claim(one, b), true, 'b takes it over')
    wants.leave(a)
    assert.deepEqual(b.heard, [`released ${one.toString().slice(-4)}`, `released ${two.toString().slice(-4)}`])
    assert.equal(wants.wantedBy(two), 1, 'a no longer wants anything')
    wants.leave(b)
    assert.equal(wants.size, 0, 'nothing is kept once nobody wants it')
  })
})
