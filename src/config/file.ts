import fs from 'node:fs/promises'
import { ConfigError } from '../errors.js'
import { makeRepoDir, repoPaths } from '../store/repo.js'
import { defaultConfig } from './schema.js'
import { validateConfig } from './validate.js'
import type { ShoalConfig } from './schema.js'

/**
 * Create a repo folder (mode 0700) with its identity and a config file,
 * unless it is a repo already. Returns true when it created it.
 */
export async function initRepo (root: string, config: ShoalConfig = defaultConfig()): Promise<boolean> {
  const { isNew } = await makeRepoDir(root)
  if (isNew) await writeConfig(repoPaths(root).config, config)
  return isNew
}

export async function readConfig (file: string): Promise<ShoalConfig> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (err: any) {
    throw new ConfigError(`cannot read ${file}: ${err.code ?? err.message}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err: any) {
    throw new ConfigError(`${file} is not valid JSON: ${err.message}`)
  }
  return validateConfig(json, file)
}

async function writeConfig (file: string, config: ShoalConfig): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`
  await fs.writeFile(tmp, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 })
  await fs.rename(tmp, file)
}
