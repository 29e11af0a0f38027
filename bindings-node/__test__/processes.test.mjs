// Several processes on one SQLite file (Node cluster workers, pm2 instances): only one runs
// checks; the others forward to it, and take over when it goes away.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { tempDir, until } from './helpers.mjs'

const here = dirname(fileURLToPath(import.meta.url))

function worker(db, name) {
  const child = spawn(process.execPath, [join(here, 'fixtures', 'worker.cjs'), db, name], { cwd: dirname(here), stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = []
  let buf = ''
  child.stdout.on('data', (d) => {
    buf += d
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, i)))
      buf = buf.slice(i + 1)
    }
  })
  const ask = async (cmd, key) => {
    const from = lines.length
    child.stdin.write(cmd + '\n')
    return until(() => lines.slice(from).find((l) => key in l || 'error' in l), 10000, `${name} ${cmd}`)
  }
  const exited = new Promise((r) => child.on('exit', r))
  return { child, lines, ask, exited, kill: () => child.kill('SIGKILL') }
}

test('two processes on one database: one runs checks, the other forwards and takes over', async (t) => {
  const db = join(tempDir(t), 'shared.db')
  const a = worker(db, 'a')
  t.after(() => a.kill())
  await until(() => a.lines.some((l) => l.started), 10000, 'a started')
  const b = worker(db, 'b')
  t.after(() => b.kill())
  await until(() => b.lines.some((l) => l.started), 10000, 'b started')

  const states = await until(async () => {
    const sa = await a.ask('state', 'runs')
    const sb = await b.ask('state', 'runs')
    return sa.shared && sb.shared ? [sa, sb] : null
  }, 15000, 'both processes to see the shared database')
  assert.equal(states.filter((s) => s.runs).length, 1, JSON.stringify(states))
  const [leader, follower] = states[0].runs ? [a, b] : [b, a]

  // The follower's push is forwarded to the leader, which evaluates it.
  const pushed = await follower.ask('push', 'pushed')
  assert.equal(pushed.pushed, 'down', JSON.stringify(pushed))
  const seen = await leader.ask('status', 'status')
  assert.equal(seen.status.status, 'down')
  assert.equal(seen.status.last_result.observed.message, `from ${follower === a ? 'a' : 'b'}`)

  // The leader goes away: the follower takes the lease.
  await leader.ask('quit', 'closed')
  await leader.exited
  await until(async () => (await follower.ask('state', 'runs')).runs, 15000, 'the follower to take over')
  await follower.ask('quit', 'closed')
})
