import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { DAEMON_NODE_FLAGS } from '../../src/daemon/constants.js'
import { loopbackHost, shoalOk, useDaemons } from '../helpers/cli.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
/** systemd's PATH for services: the system's Node (20 on these machines) comes first. */
const SYSTEMD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** The ExecStart line of the systemd unit in docs/deploy.md, as argv, with the install and repo paths replaced. */
async function execStart (repo: string): Promise<string[]> {
  const doc = await fs.readFile(path.join(ROOT, 'docs/deploy.md'), 'utf8')
  const line = /^ExecStart=(.+)$/m.exec(doc)
  assert.ok(line != null, 'docs/deploy.md has a systemd unit with an ExecStart line')
  return line[1].trim().split(/\s+/).map(arg => arg.replace('/opt/shoal', ROOT).replace('/var/lib/shoal', repo))
}

/** The pids of the children of `pid`. */
async function childrenOf (pid: number): Promise<number[]> {
  const tasks = await fs.readdir(`/proc/${pid}/task`)
  const lists = await Promise.all(tasks.map(async t => await fs.readFile(`/proc/${pid}/task/${t}/children`, 'utf8').catch(() => '')))
  return lists.join(' ').trim().split(/\s+/).filter(s => s !== '').map(Number)
}

describe('cli: the shoal command under systemd', function () {
  this.timeout(180_000)
  const scope = useDaemons()

  it('package.json\'s engines names the oldest Node the launcher runs on a PATH, and the pinned Node is newer', async () => {
    const launcher = await fs.readFile(path.join(ROOT, 'bin/shoal'), 'utf8')
    const oldest = /process\.versions\.node\.split\("\."\)\[0\]\) >= (\d+) \?/.exec(launcher)
    assert.ok(oldest != null, 'bin/shoal checks the major version of the node on the PATH')
    const pkg = JSON.parse(await fs.readFile(path.join(ROOT, 'package.json'), 'utf8'))
    assert.equal(pkg.engines.node, `>=${oldest[1]}`)
    const pinned = JSON.parse(await fs.readFile(path.join(ROOT, 'node_modules/node/package.json'), 'utf8')).version
    assert.ok(Number(pinned.split('.')[0]) >= Number(oldest[1]), pinned)
  })

  it('runs the unit\'s exact command line as one process; a SIGTERM to its process group hands the replicas over once', async () => {
    const key = path.join(scope.dir, 'group.key')
    await fs.writeFile(key, (await shoalOk(['group-key'])).stdout)
    const group = ['--group-key', key, '--check-interval', '0.3', '--grace-period', '60']
    const x = await scope.start('x', group)
    const y = await scope.start('y', [...group, '--bootstrap', x.addresses[0]])

    // the service's repo, set up as deploy.md says (shoal init), then started by the unit's command line
    const repo = scope.repo('service')
    await shoalOk(['init', '--repo', repo, '--listen', `/ip4/${loopbackHost()}/tcp/0`, '--bootstrap', x.addresses[0], ...group])
    const [cmd, ...args] = await execStart(repo)
    const service = spawn(cmd, args, { detached: true, env: { PATH: SYSTEMD_PATH, HOME: scope.dir }, stdio: ['ignore', 'ignore', 'pipe'] })
    let log = ''
    const ready = new Promise<void>((resolve, reject) => {
      service.stderr.on('data', d => {
        log += d.toString()
        if (/ info +ready\n/.test(log)) resolve()
      })
      service.once('exit', code => { reject(new Error(`the service exited with ${code}:\n${log}`)) })
    })
    const exited = new Promise<number | null>(resolve => service.once('exit', code => { resolve(code) }))
    try {
      await ready
      assert.deepEqual(await childrenOf(service.pid!), [], 'no second process: the launcher became the daemon')
      assert.match(await fs.readlink(`/proc/${service.pid}/exe`), /node$/)
      // with the Node flags every daemon runs with (the same as the churn harness and the tests start theirs with)
      const argv = (await fs.readFile(`/proc/${service.pid}/cmdline`, 'utf8')).split('\0')
      for (const flag of DAEMON_NODE_FLAGS) assert.ok(argv.includes(flag), `${flag} in ${argv.join(' ')}`)

      // the service holds one of three copies (once it knows both other peers); a fourth peer is there to take its place
      await new Promise<void>(resolve => {
        const check = (): void => { if (log.includes(`peer connected peer=${y.peerId}`)) resolve() }
        service.stderr.on('data', check)
        check()
      })
      const file = path.join(scope.dir, 'kept')
      await fs.writeFile(file, randomBytes(1024 * 1024))
      const added = JSON.parse((await shoalOk(['add', file, '--replicas', '3', '--json', '--repo', repo])).stdout)
      assert.equal(added.replication.holders.length, 3)
      for (const d of [x, y]) await d.logged(new RegExp(`copy complete root=${added.cid}`))
      await scope.start('z', [...group, '--bootstrap', x.addresses[0]])

      // systemctl stop: SIGTERM to every process of the service
      process.kill(-service.pid!, 'SIGTERM')
      assert.equal(await exited, 0, log)
      assert.equal(log.match(/received SIGTERM/g)?.length, 1, `one SIGTERM seen:\n${log}`)
      assert.doesNotMatch(log, /without waiting for the hand-over/)
      assert.match(log, /handed over 1 replica/)
    } finally {
      if (service.exitCode == null) process.kill(-service.pid!, 'SIGKILL')
    }
  })
})
