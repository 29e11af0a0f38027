// Events: listeners through an unref'd threadsafe function, async iteration, and a script
// that listens and then finishes still exits by itself.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { dirname } from 'node:path'
import { Monitor } from 'upwatch'
import { runNode, until } from './helpers.mjs'

const pkg = dirname(dirname(fileURLToPath(import.meta.url)))

test('on/off with camelCase and snake_case names, listenerCount', async (t) => {
  const m = new Monitor({ hostInterval: 'off', checks: [{ name: 'beat', kind: 'push', interval: '1h', service: 'jobs' }] })
  t.after(() => m.close())
  const failed = []
  const changed = []
  const onFailed = (e) => failed.push(e)
  assert.equal(m.on('checkFailed', onFailed), m, 'on() returns the monitor')
  m.on('check_status_changed', (e) => changed.push(e))
  assert.equal(m.listenerCount('checkFailed'), 1)
  assert.equal(m.listenerCount(), 2)
  await m.push('beat', { ok: false, message: 'boom' })
  await m.push('beat', { ok: true })
  await until(() => failed.length === 1 && changed.length === 2, 5000, 'events')
  assert.equal(failed[0].event, 'check_failed')
  assert.equal(failed[0].check, 'beat')
  assert.equal(failed[0].service, 'jobs')
  assert.equal(failed[0].status, 'down')
  assert.equal(failed[0].attempt, 1)
  assert.deepEqual(changed.map((e) => [e.previous, e.status]), [[null, 'down'], ['down', 'up']])

  m.off('checkFailed', () => {}) // a different function: nothing removed
  assert.equal(m.listenerCount('checkFailed'), 1)
  m.off('check_failed', onFailed)
  assert.equal(m.listenerCount('checkFailed'), 0)
  await m.push('beat', { ok: false })
  await until(() => changed.length === 3, 5000, 'the third change')
  await new Promise((r) => setTimeout(r, 100))
  assert.equal(failed.length, 1, 'no delivery after off()')
})

test('for await over events(), ended by break and by close()', async (t) => {
  const m = new Monitor({ hostInterval: 'off', checks: [{ name: 'beat', kind: 'push', interval: '1h' }] })
  const stream = m.events(['checkSucceeded', 'checkFailed'])
  const seen = []
  const reading = (async () => {
    for await (const e of stream) {
      seen.push(`${e.event}:${e.check}`)
      if (seen.length === 3) break
    }
  })()
  await m.push('beat')
  await m.push('beat', { ok: false })
  await m.push('beat')
  await reading
  assert.deepEqual(seen, ['check_succeeded:beat', 'check_failed:beat', 'check_succeeded:beat'])
  assert.deepEqual(await stream.next(), { done: true }, 'ended by break (return())')

  const all = m.events()
  assert.equal(await all.nextWithin(30), null, 'nothing within 30ms')
  await m.pause('beat')
  const paused = await all.nextWithin(5000)
  assert.equal(paused.event, 'check_paused')
  assert.equal(paused.paused, true)
  const pending = all.next()
  await m.close()
  assert.deepEqual(await pending, { done: true }, 'a pending read ends when the monitor closes')
  assert.equal(all.missed, 0)
})

test('a script that registers a listener and finishes exits by itself', async () => {
  const script = `
    const { Monitor } = require('upwatch')
    const m = new Monitor({ hostInterval: '1s', checks: [{ name: 'beat', kind: 'push', interval: '1h' }] })
    m.on('checkFailed', (e) => console.log('failed', e.check))
    m.on('hostSampled', () => {})
    m.start()
    m.push('beat', { ok: false }).then(() => console.log('pushed'))
  `
  const r = await runNode(['-e', script], { cwd: pkg, timeoutMs: 15000 })
  assert.equal(r.timedOut, false, `the process did not exit by itself: ${r.stdout} ${r.stderr}`)
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /pushed/)
})

test('a listener that throws is an uncaught exception in JS, like an EventEmitter listener', async () => {
  const script = `
    const { Monitor } = require('upwatch')
    const m = new Monitor({ hostInterval: 'off', checks: [{ name: 'beat', kind: 'push', interval: '1h' }] })
    process.on('uncaughtException', (e) => { console.log('caught', e.message); m.close().then(() => process.exit(0)) })
    m.on('checkSucceeded', () => { throw new Error('listener bug') })
    m.push('beat')
    setTimeout(() => {}, 5000)
  `
  const r = await runNode(['-e', script], { cwd: pkg, timeoutMs: 15000 })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /caught listener bug/)
})
