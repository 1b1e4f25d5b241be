import assert from 'node:assert/strict'
import { BanList } from '../../src/exchange/ban-list.js'
import { PeerConduct } from '../../src/exchange/peer-conduct.js'

describe('exchange: PeerConduct', () => {
  it('bans a peer at the Nth violation within the window, and only that peer', () => {
    const bans = new BanList()
    const conduct = new PeerConduct(bans, { maxViolations: 3, window: 60_000, banTime: 1_000 })
    conduct.violation('a', 'junk')
    conduct.violation('a', 'junk')
    conduct.violation('b', 'junk')
    assert.equal(bans.isBanned('a'), false)
    assert.equal(conduct.count('a'), 2)
    conduct.violation('a', 'message too large')
    assert.equal(bans.isBanned('a'), true)
    assert.match(bans.list()[0].reason, /broke the wire protocol 3 times \(last: message too large\)/)
    assert.equal(bans.isBanned('b'), false)
  })

  it('forgets violations older than the window', () => {
    const bans = new BanList()
    const conduct = new PeerConduct(bans, { maxViolations: 2, window: 0, banTime: 1_000 })
    conduct.violation('a', 'junk')
    conduct.violation('a', 'junk')
    assert.equal(bans.isBanned('a'), false)
  })
})
