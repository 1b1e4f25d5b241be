import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { routes } from '../../src/daemon/api-routes.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')

describe('daemon: the control API reference', () => {
  it('docs/api.md documents every route, and no route that does not exist', async () => {
    const doc = await fs.readFile(path.join(ROOT, 'docs/api.md'), 'utf8')
    const documented = [...doc.matchAll(/^### `([A-Z]+ \/v1\/[a-z/]+)`/gm)].map(m => m[1]).sort()
    assert.deepEqual(documented, Object.keys(routes).sort())
  })
})
