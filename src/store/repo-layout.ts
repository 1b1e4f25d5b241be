import os from 'node:os'
import path from 'node:path'

// Where things are in a repo: kept apart from repo.ts, which loads the
// stores, so that the CLI can find a daemon's socket without loading them.

/** The repo used when neither `--repo` nor `SHOAL_REPO` is given. */
export function defaultRepoPath (): string {
  return process.env.SHOAL_REPO ?? path.join(os.homedir(), '.shoal')
}

/** File and folder names inside a repo. */
export const REPO_LAYOUT = {
  config: 'config.json',
  identity: 'identity.key',
  blocks: 'blocks',
  packs: 'packs',
  datastore: 'datastore',
  lock: 'repo.lock',
  apiSocket: 'api.sock',
  apiToken: 'api.token',
  reserve: 'reserve',
  /** The web page's session secret, and the port it last listened on (it keeps it across restarts). */
  webSecret: 'webui.secret',
  webPort: 'webui.port',
  /** What the web page fetched (by CID) and what was uploaded through it: the user's files, added in place. */
  downloads: 'downloads',
  uploads: 'uploads'
} as const

export function repoPaths (root: string): { [K in keyof typeof REPO_LAYOUT]: string } {
  const abs = path.resolve(root)
  return {
    config: path.join(abs, REPO_LAYOUT.config),
    identity: path.join(abs, REPO_LAYOUT.identity),
    blocks: path.join(abs, REPO_LAYOUT.blocks),
    packs: path.join(abs, REPO_LAYOUT.packs),
    datastore: path.join(abs, REPO_LAYOUT.datastore),
    lock: path.join(abs, REPO_LAYOUT.lock),
    apiSocket: path.join(abs, REPO_LAYOUT.apiSocket),
    apiToken: path.join(abs, REPO_LAYOUT.apiToken),
    reserve: path.join(abs, REPO_LAYOUT.reserve),
    webSecret: path.join(abs, REPO_LAYOUT.webSecret),
    webPort: path.join(abs, REPO_LAYOUT.webPort),
    downloads: path.join(abs, REPO_LAYOUT.downloads),
    uploads: path.join(abs, REPO_LAYOUT.uploads)
  }
}
