import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { DaemonProcess, SHOAL_BIN, sha256File, shoal, shoalOk, shoalStreaming, useDaemons } from '../helpers/cli.js'

/** Run `shoal ARGS` with its stdout closed by the reader before anything is written (`| head` that already quit). */
async function withClosedStdout (args: string[]): Promise<{ code: number | null, stderr: string }> {
  const child = spawn(process.execPath, [SHOAL_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout.destroy()
  let stderr = ''
  child.stderr.on('data', d => { stderr += d })
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  return { code, stderr }
}

describe('cli: the small things a user meets', function () {
  this.timeout(120_000)
  const scope = useDaemons()
  let repo: string
  let a: DaemonProcess

  before(async () => {
    repo = scope.repo('a')
    a = await scope.start('a')
  })

  it('a reader that closes stdout (| head -1) ends stat and replicas quietly', async () => {
    for (const command of ['stat', 'replicas', 'ls', 'peers']) {
      const r = await withClosedStdout([command, '--repo', repo])
      assert.equal(r.code, 0, `${command}: ${r.stderr}`)
      assert.doesNotMatch(r.stderr, /EPIPE|\n\s+at /, `${command}: no stack trace`)
    }
  })

  it('with --json every error is one JSON object on stdout, with its name and exit code', async () => {
    const bad = await shoal(['get', 'bafy-not-a-cid', '--json', '--repo', repo])
    assert.equal(bad.code, 2)
    assert.deepEqual(JSON.parse(bad.stdout), { error: { name: 'InvalidCIDError', message: 'not a valid CID: "bafy-not-a-cid"', exitCode: 2 } })
    const none = await shoal(['ls', '--json', '--repo', scope.repo('nobody')])
    assert.equal(JSON.parse(none.stdout).error.exitCode, 3)
    const usage = await shoal(['get', '--json'])
    assert.equal(JSON.parse(usage.stdout).error.name, 'UsageError')
  })

  it('a get of a CID nobody holds says it is searching, and for how long: the time it gives is the time it searched', async () => {
    const unknown = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
    const r = await shoal(['get', unknown, '-o', path.join(scope.dir, 'never'), '--timeout', '3', '--repo', repo])
    assert.equal(r.code, 4)
    const lines = r.stderr.trim().split('\n')
    const announced = /^searching for peers that hold bafkrei\S+ \(giving up after (.+) with none found\)$/.exec(lines[0])
    const searched = /^shoal: no reachable peer has bafkrei\S+ \(searched for (.+)\)$/.exec(lines[1])
    assert.ok(announced != null && searched != null, r.stderr)
    assert.equal(announced[1], '3 s')
    assert.equal(searched[1], announced[1], 'the same figure in both lines')
    const json = await shoal(['get', unknown, '-o', path.join(scope.dir, 'never'), '--timeout', '3', '--json', '--repo', repo])
    const events = json.stdout.trim().split('\n').map(l => JSON.parse(l))
    assert.equal(events[0].phase, 'searching')
    assert.equal(events.at(-1).error.name, 'NoProvidersError')
  })

  it('a quick get says how long it took in ms, not "0s"', async () => {
    const holder = await scope.start('holder', ['--bootstrap', a.addresses[0]])
    const file = path.join(scope.dir, 'small')
    await fs.writeFile(file, randomBytes(64 * 1024))
    const { cid } = JSON.parse((await shoalOk(['add', file, '--json', '--repo', holder.repo])).stdout)
    const r = await shoalOk(['get', cid, '-o', path.join(scope.dir, 'small-copy'), '--repo', repo])
    const took = /^fetched 64\.0 KiB from 1 peer in (.+) \(.+\/s\)$/m.exec(r.stderr)
    assert.ok(took != null, r.stderr)
    // a get over loopback from a running peer takes well under ten seconds: milliseconds or tenths
    assert.match(took[1], /^(\d{1,3} ms|\d(\.\d)? s)$/)
  })

  it('a get whose daemon is killed says the daemon went away, what it kept and how to resume; exit 6; the same command resumes', async () => {
    const seeder = await scope.start('seeder', ['--bootstrap', a.addresses[0]])
    const getter = await scope.start('getter', ['--bootstrap', seeder.addresses[0], '--max-download-rate', '2MiB'])
    const file = path.join(scope.dir, 'large')
    await fs.writeFile(file, randomBytes(8 * 1024 * 1024))
    const { cid } = JSON.parse((await shoalOk(['add', file, '--json', '--repo', seeder.repo])).stdout)
    const output = path.join(scope.dir, 'large-copy')
    let killed: Promise<unknown> | undefined
    const r = await shoalStreaming(['get', cid, '-o', output, '--json', '--repo', getter.repo], line => {
      // killed once a block is on disk
      if (killed == null && line.includes('"progress"') && JSON.parse(line).bytesDone > 0) killed = getter.kill('SIGKILL')
    })
    assert.ok(killed != null, `the get made progress before the daemon was killed: ${r.stdout}`)
    await killed
    assert.equal(r.code, 6, r.stderr)
    const { error } = JSON.parse(r.stdout.trim().split('\n').at(-1)!)
    assert.equal(error.name, 'DaemonGoneError')
    assert.equal(error.exitCode, 6)
    const part = `${output}.part`
    assert.match(error.message, /^the daemon went away \(connection closed\) during the get: [\d.]+ (KiB|MiB) of 8\.0 MiB kept in (\S+); start the daemon again \(shoal daemon --repo \S+\) and run the same command to resume from it$/)
    assert.ok(error.message.includes(` kept in ${part};`), error.message)
    assert.equal(r.stderr, `shoal: ${error.message as string}\n`, 'one line on stderr')
    await fs.access(part)
    await assert.rejects(fs.access(output), 'nothing under the final name')

    // as it says: the daemon started again, the same command resumes from the .part
    scope.track(await DaemonProcess.start(getter.repo, ['--bootstrap', seeder.addresses[0]]))
    const again = await shoalOk(['get', cid, '-o', output, '--json', '--repo', getter.repo])
    const summary = JSON.parse(again.stdout.trim().split('\n').at(-1)!)
    assert.ok(summary.blocksAlreadyHeld > 0, `resumed: ${again.stdout}`)
    assert.equal(await sha256File(output), await sha256File(file))
  })

  it('a cat whose daemon is killed says the daemon went away and that the output is incomplete; exit 6', async () => {
    const seeder = await scope.start('cat-seeder', ['--bootstrap', a.addresses[0]])
    const reader = await scope.start('cat-reader', ['--bootstrap', seeder.addresses[0], '--max-download-rate', '2MiB'])
    const file = path.join(scope.dir, 'streamed')
    await fs.writeFile(file, randomBytes(8 * 1024 * 1024))
    const { cid } = JSON.parse((await shoalOk(['add', file, '--json', '--repo', seeder.repo])).stdout)
    const cat = spawn(process.execPath, [SHOAL_BIN, 'cat', cid, '--repo', reader.repo], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    let bytes = 0
    cat.stderr.on('data', d => { stderr += d })
    // killed once bytes are coming
    cat.stdout.on('data', d => { if (bytes === 0) void reader.kill('SIGKILL'); bytes += d.length })
    const code = await new Promise<number | null>(resolve => cat.on('close', resolve))
    assert.ok(bytes > 0 && bytes < 8 * 1024 * 1024, `part of it was written: ${bytes}`)
    assert.equal(code, 6, stderr)
    assert.equal(stderr, 'shoal: the daemon went away (connection closed) before it finished (output is incomplete)\n')
  })

  it('says what it means: a missing CID, a mistyped option, a size that is not one', async () => {
    const missing = await shoal(['get', '--repo', repo])
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /missing <cid>: usage: shoal get <cid>/)
    const typo = await shoal(['get', 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', '--forse', '--repo', repo])
    assert.equal(typo.code, 2)
    assert.match(typo.stderr, /unknown option --forse \(did you mean --force\?\)/)
    const command = await shoal(['fetch', 'x'])
    assert.match(command.stderr, /unknown command fetch \(did you mean get\?\)/)
    const size = await shoal(['daemon', '--repo', scope.repo('b'), '--max-storage', 'lots'])
    assert.equal(size.code, 2)
    assert.match(size.stderr, /--max-storage: not a size: "lots" \(try 20GB/)
    await assert.rejects(fs.access(scope.repo('b')), 'a refused start leaves no repo')
  })

  it('add -r names the symbolic links it skipped; --follow-symlinks adds what they point to', async () => {
    const tree = path.join(scope.dir, 'tree')
    await fs.mkdir(tree)
    await fs.writeFile(path.join(tree, 'real.txt'), 'real')
    await fs.writeFile(path.join(scope.dir, 'outside.txt'), 'outside')
    await fs.symlink(path.join(scope.dir, 'outside.txt'), path.join(tree, 'link.txt'))
    const plain = await shoalOk(['add', '-r', tree, '--repo', repo])
    assert.match(plain.stderr, /skipped 1 entry \(--follow-symlinks adds what links point to\): tree\/link\.txt \(symbolic link\)/)
    const followed = JSON.parse((await shoalOk(['add', '-r', tree, '--follow-symlinks', '--json', '--repo', repo])).stdout)
    assert.deepEqual(followed.skipped, [])
    const out = path.join(scope.dir, 'tree-back')
    await shoalOk(['get', followed.cid, '-o', out, '--repo', repo])
    assert.equal(await fs.readFile(path.join(out, 'link.txt'), 'utf8'), 'outside')
    // a link back up the tree is a loop: refused, nothing added
    await fs.symlink(tree, path.join(tree, 'loop'))
    const loop = await shoal(['add', '-r', tree, '--follow-symlinks', '--repo', repo])
    assert.equal(loop.code, 2)
    assert.match(loop.stderr, /tree\/loop leads back into a folder being added/)
  })

  it('shoal id works without a daemon (from the repo), and init prints the peer id', async () => {
    const fresh = scope.repo('fresh')
    const init = await shoalOk(['init', '--repo', fresh, '--listen', '/ip4/127.0.0.9/tcp/4499'])
    const peerId = /peer id (\S+)/.exec(init.stdout)![1]
    const offline = JSON.parse((await shoalOk(['id', '--json', '--repo', fresh])).stdout)
    assert.deepEqual(offline, { peerId, addresses: [`/ip4/127.0.0.9/tcp/4499/p2p/${peerId}`], running: false })
    const running = JSON.parse((await shoalOk(['id', '--json', '--repo', repo])).stdout)
    assert.equal(running.running, true)
    assert.equal(running.peerId, (await shoalOk(['id', '--repo', repo])).stdout.split('\n')[0])
  })

  it('init refuses a key file that is missing or not a key, in one line (exit 2), and makes nothing', async () => {
    const fresh = scope.repo('keyless')
    const missing = path.join(scope.dir, 'no-such-group.key')
    const group = await shoal(['init', '--repo', fresh, '--group-key', missing])
    assert.equal(group.code, 2)
    assert.equal(group.stderr, `shoal: --group-key: ${missing} does not exist (make one with: shoal group-key > ${missing}, and give every peer a copy)\n`)
    const swarm = await shoal(['init', '--repo', fresh, '--swarm-key', missing, '--json'])
    assert.equal(swarm.code, 2)
    assert.deepEqual(JSON.parse(swarm.stdout).error, { name: 'ConfigError', message: `--swarm-key: ${missing} does not exist (make one with: shoal swarm-key > ${missing}, and give every peer a copy)`, exitCode: 2 })
    const junk = path.join(scope.dir, 'junk.key')
    await fs.writeFile(junk, 'not a key\n')
    const bad = await shoal(['init', '--repo', fresh, '--group-key', junk])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /^shoal: \S+junk\.key is not a Shoal replication group key \(make one with: shoal group-key > group\.key\)\n$/)
    await assert.rejects(fs.access(fresh), 'no repo was made')
    // with the key made as it says, init makes the repo and writes the key's path to its config
    await fs.writeFile(missing, (await shoalOk(['group-key'])).stdout)
    await shoalOk(['init', '--repo', fresh, '--group-key', missing])
    assert.equal(JSON.parse(await fs.readFile(path.join(fresh, 'config.json'), 'utf8')).replication.groupKeyFile, missing)
  })

  it('daemon --json logs JSON lines', async () => {
    const d = await scope.start('json-daemon', ['--json'])
    assert.ok(d.log.trim().split('\n').every(l => typeof JSON.parse(l).msg === 'string'))
  })
})
