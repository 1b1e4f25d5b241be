import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { defaultConfig } from '../../src/config/schema.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')

/** README's Configuration section: from its heading to the next one of its level. */
async function configSection (): Promise<string> {
  const readme = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8')
  const section = /^## Configuration\n([\s\S]*?)^## /m.exec(readme)
  assert.ok(section != null, 'README.md has a Configuration section')
  return section[1]
}

/** Every setting's name, as its path in the config (`limits.maxConnections`). */
function keysOf (value: object, prefix = ''): string[] {
  return Object.entries(value).flatMap(([k, v]) => v != null && typeof v === 'object' && !Array.isArray(v) ? keysOf(v, `${prefix}${k}.`) : [`${prefix}${k}`])
}

/**
 * The keys the section's table names: a row names one or more, `a` / `b`; a
 * name after the first without a dot is in the first one's object
 * (`limits.maxMessageSize` / `maxSwarmMessageSize`).
 */
function documentedKeys (section: string): string[] {
  return [...section.matchAll(/^\| ((?:`[^`]+`(?: \/ )?)+) \|/gm)].flatMap(row => {
    const names = [...row[1].matchAll(/`([^`]+)`/g)].map(m => m[1])
    const prefix = names[0].includes('.') ? names[0].slice(0, names[0].lastIndexOf('.') + 1) : ''
    return names.map((n, i) => i > 0 && !n.includes('.') ? prefix + n : n)
  })
}

describe('config: the README documents every setting', () => {
  it('the defaults it shows are the schema\'s, key for key', async () => {
    const json = /```json\n([\s\S]*?)\n```/.exec(await configSection())
    assert.ok(json != null, 'the section shows config.json')
    assert.deepEqual(JSON.parse(json[1]), defaultConfig())
  })

  it('its table explains every key of the schema, and no key the schema does not have', async () => {
    const documented = documentedKeys(await configSection())
    assert.deepEqual([...new Set(documented)].sort(), keysOf(defaultConfig()).sort())
    assert.equal(documented.length, new Set(documented).size, 'each key explained once')
  })
})
