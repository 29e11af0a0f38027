// Every API call of the Monitor, against real loopback servers and real SQLite files.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { Monitor, EventStream } from 'upwatch'
import { httpTarget, tempDir, rejectsWith, until } from './helpers.mjs'

const require = createRequire(import.meta.url)

test('require() and import give the same classes', () => {
  const cjs = require('upwatch')
  assert.equal(cjs.Monitor, Monitor)
  assert.equal(cjs.EventStream, EventStream)
  assert.equal(typeof require('upwatch/express').upwatchRouter, 'function')
})

test('register, runNow against loopback servers, status, prometheus', async (t) => {
  const target = await httpTarget()
  t.after(() => target.close())
  const m = new Monitor({ hostInterval: 'off', maxConcurrency: 8, maxPerHost: 4, threads: 2 })
  t.after(() => m.close())
  await m.register({ name: 'health', kind: 'http', url: target.url('/health'), interval: '1h', service: 'api',
    expect: { status: [200], json: { '$.status': 'ok' } } })
  await m.registerMany([
    { name: 'broken', kind: 'http', url: target.url('/status/500'), interval: '1h', service: 'api' },
    { name: 'slow', kind: 'http', url: target.url('/slow/2000'), interval: '1h', timeout: '200ms' },
  ])
  const results = await m.runNow()
  const by = Object.fromEntries(results.map((r) => [r.check, r]))
  assert.deepEqual(Object.keys(by).sort(), ['broken', 'health', 'slow'])
  assert.equal(by.health.status, 'up')
  assert.equal(by.health.observed.status_code, 200)
  assert.equal(typeof by.health.duration_ms, 'number')
  assert.equal(by.broken.status, 'down')
  assert.equal(by.slow.status, 'down')
  assert.equal(by.slow.error.kind, 'timeout')
  assert.ok(target.hits() >= 3)

  const one = await m.runNow('health')
  assert.equal(one.length, 1)
  const two = await m.runNow(['health', 'broken'])
  assert.deepEqual(two.map((r) => r.check).sort(), ['broken', 'health'])

  const s = m.status()
  assert.equal(s.checks.length, 3)
  const api = s.services.find((x) => x.service === 'api')
  assert.equal(api.status, 'degraded', 'one check up, one down')
  assert.equal(s.checks.find((c) => c.check === 'health').last_result.status, 'up')
  const text = m.prometheus()
  assert.match(text, /health/)
  assert.match(text, /# (HELP|TYPE)/)
})

test('update, pause, resume, delete', async (t) => {
  const target = await httpTarget()
  t.after(() => target.close())
  const m = new Monitor({ hostInterval: 'off' })
  t.after(() => m.close())
  await m.register({ name: 'api', kind: 'http', url: target.url('/status/503'), interval: '1h' })
  assert.equal((await m.runNow('api'))[0].status, 'down')
  await m.update({ name: 'api', kind: 'http', url: target.url('/health'), interval: '1h' })
  assert.equal((await m.runNow('api'))[0].status, 'up')
  await m.pause('api')
  assert.equal(m.status().checks[0].paused, true)
  await m.resume('api')
  assert.equal(m.status().checks[0].paused, false)
  await m.delete('api')
  assert.equal(m.status().checks.length, 0)
  await rejectsWith(assert, m.delete('api'), 'UPWATCH_UNKNOWN_CHECK')
})

test('push and record results from the service itself', async (t) => {
  const m = new Monitor({ hostInterval: 'off', checks: [{ name: 'payments', kind: 'push', interval: '1h' }] })
  t.after(() => m.close())
  const up = await m.push('payments')
  assert.equal(up.status, 'up')
  const down = await m.push('payments', { ok: false, message: 'disk full' })
  assert.equal(down.status, 'down')
  assert.match(down.error.message, /disk full/)
  const rec = await m.record('payments', { ok: false, durationMs: 812, message: 'HTTP 502' })
  assert.equal(rec.status, 'down')
  assert.equal(rec.duration_ms, 812)
  const ok = await m.record('payments', { ok: true, durationMs: 3.5 })
  assert.equal(ok.status, 'up')
  await rejectsWith(assert, m.record('payments', { ok: true, durationMs: -1 }), 'UPWATCH_INVALID_ARGUMENT', { path: 'duration_ms' })
  await rejectsWith(assert, () => m.record('payments', { ok: true }), 'UPWATCH_INVALID_ARGUMENT', { path: 'durationMs' })
  await rejectsWith(assert, () => m.push('payments', { ok: 'yes' }), 'UPWATCH_INVALID_ARGUMENT', { path: 'ok' })
})

test('history, statusChanges, latest and uptime read the SQLite file', async (t) => {
  const dir = tempDir(t)
  const db = join(dir, 'h.db')
  const m = new Monitor({ db, hostInterval: 'off', checks: [
    { name: 'beat', kind: 'push', interval: '1h', service: 'jobs', tags: ['nightly'] },
    { name: 'other', kind: 'push', interval: '1h' },
  ] })
  await m.push('beat', { ok: false, message: 'x' })
  await m.push('beat')
  await m.push('other')
  await m.close()
  assert.equal(m.closed, true)
  assert.ok(existsSync(db))

  const n = new Monitor({ db, hostInterval: 'off' })
  t.after(() => n.close())
  const page = await n.history({ check: 'beat', since: '1h' })
  assert.deepEqual(page.items.map((r) => r.status), ['up', 'down'])
  assert.equal(page.next_cursor, null)
  const downs = await n.history({ status: 'down' })
  assert.equal(downs.items.length, 1)
  const tagged = await n.history({ tag: 'nightly', service: ['jobs'] })
  assert.equal(tagged.items.length, 2)
  const first = await n.history({ limit: 1 })
  assert.equal(first.items.length, 1)
  assert.ok(first.next_cursor)
  const rest = await n.history({ limit: 10, cursor: first.next_cursor })
  assert.equal(rest.items.length, 2)
  const changes = await n.statusChanges({ check: 'beat' })
  assert.deepEqual(changes.items.map((c) => [c.previous, c.status]), [['down', 'up'], [null, 'down']])
  const latest = await n.latest()
  assert.deepEqual(latest.map((r) => r.check).sort(), ['beat', 'other'])
  const [u] = await n.uptime('beat', '24h')
  assert.equal(u.count, 2)
  assert.equal(u.uptime_pct, 50)
  const all = await n.uptime()
  assert.equal(all.length, 2)
  const both = await n.uptime(['beat', 'other'], '1d')
  assert.equal(both.length, 2)
  const q = await n.uptime({ service: 'jobs' }, '1d')
  assert.deepEqual(q.map((x) => x.check), ['beat'])
  await rejectsWith(assert, n.history({ limit: 0 }), 'UPWATCH_INVALID_ARGUMENT', { path: 'limit' })
  await rejectsWith(assert, n.history({ since: 'yesterday' }), 'UPWATCH_INVALID_ARGUMENT', { path: 'since' })
  await rejectsWith(assert, n.uptime('beat', 'forever'), 'UPWATCH_INVALID_ARGUMENT', { path: 'window' })
  await rejectsWith(assert, () => n.history(42), 'UPWATCH_INVALID_ARGUMENT', { path: 'query' })
})

test('host() samples the machine', async (t) => {
  const m = new Monitor({ hostInterval: 'off' })
  t.after(() => m.close())
  const h = await m.host()
  assert.ok(h.memory.total > 0)
  assert.ok(Array.isArray(h.disks))
  assert.equal(typeof h.at, 'string')
})

test('fromConfig reads a TOML file with a [monitor] table and a db beside it', async (t) => {
  const dir = tempDir(t)
  const path = join(dir, 'upwatch.toml')
  writeFileSync(path, '[monitor]\ndb = "history.db"\nhost_interval = "off"\n\n[[checks]]\nname = "beat"\nkind = "push"\ninterval = "1m"\n')
  const m = Monitor.fromConfig(path)
  assert.equal((await m.push('beat')).status, 'up')
  await m.close()
  assert.ok(existsSync(join(dir, 'history.db')))
  await rejectsWith(assert, () => Monitor.fromConfig(join(dir, 'missing.toml')), 'UPWATCH_SPEC')
})

test('start() schedules checks, and start/close are idempotent', async (t) => {
  const target = await httpTarget()
  t.after(() => target.close())
  const m = new Monitor({ hostInterval: 'off' })
  await m.register({ name: 'fast', kind: 'http', url: target.url('/health'), interval: '1s' })
  assert.equal(m.runsChecks(), true)
  assert.equal(m.isShared(), false)
  m.start()
  m.start()
  await until(() => m.status().checks[0].runs >= 2, 10000, 'two scheduled runs')
  await m.close()
  await m.close()
  await rejectsWith(assert, () => m.status(), 'UPWATCH_CLOSED')
  await rejectsWith(assert, m.push('fast'), 'UPWATCH_CLOSED')
})

test('callable checks written in JS: pass, message, reject, throw, retries, events', async (t) => {
  const m = new Monitor({ hostInterval: 'off' })
  t.after(() => m.close())
  let mode = 'pass'
  let calls = 0
  await m.register({ name: 'db', kind: 'callable', interval: '1h', retries: 1, service: 'store' }, async () => {
    calls++
    await new Promise((r) => setTimeout(r, 5))
    if (mode === 'reject') throw new Error('connection refused by db')
    if (mode === 'message') return 'answered in 5ms'
  })
  await m.register({ name: 'sync', kind: 'callable', interval: '1h' }, () => {
    if (mode === 'throw') throw new TypeError('sync failure')
    return 42
  })
  const failed = []
  m.on('checkFailed', (e) => failed.push(e))

  let [r] = await m.runNow('db')
  assert.equal(r.status, 'up')
  mode = 'message'
  ;[r] = await m.runNow('db')
  assert.equal(r.status, 'up')
  assert.equal(JSON.stringify(r).includes('answered in 5ms'), true, JSON.stringify(r))
  mode = 'reject'
  ;[r] = await m.runNow('db')
  assert.equal(r.status, 'down')
  assert.equal(r.error.kind, 'callable')
  assert.match(r.error.message, /connection refused by db/)
  // retries: 1 -> one failed attempt does not settle the check as down yet
  assert.equal(m.status().checks.find((c) => c.check === 'db').status, 'up')
  await m.runNow('db')
  assert.equal(m.status().checks.find((c) => c.check === 'db').status, 'down')
  assert.equal(calls, 4)

  mode = 'throw'
  const [s] = await m.runNow('sync')
  assert.equal(s.status, 'down')
  assert.match(s.error.message, /sync failure/)
  mode = 'pass'
  assert.equal((await m.runNow('sync'))[0].status, 'up')
  await until(() => failed.length >= 3, 5000, 'checkFailed events')
  assert.deepEqual([...new Set(failed.map((e) => e.check))].sort(), ['db', 'sync'])

  // update keeps the function unless a new one is given
  await m.update({ name: 'sync', kind: 'callable', interval: '2h' })
  assert.equal((await m.runNow('sync'))[0].status, 'up')
  await m.update({ name: 'sync', kind: 'callable', interval: '2h' }, async () => { throw new Error('replaced') })
  assert.match((await m.runNow('sync'))[0].error.message, /replaced/)
})

test('callable checks keep running while the JS thread is busy elsewhere, and never block it', async (t) => {
  const m = new Monitor({ hostInterval: 'off' })
  t.after(() => m.close())
  await m.register({ name: 'slow', kind: 'callable', interval: '1h', timeout: '300ms' }, () => new Promise(() => {}))
  const started = Date.now()
  let ticks = 0
  const timer = setInterval(() => ticks++, 10)
  const [r] = await m.runNow('slow')
  clearInterval(timer)
  assert.equal(r.status, 'down')
  assert.equal(r.error.kind, 'timeout')
  assert.ok(Date.now() - started >= 250)
  assert.ok(ticks >= 10, `the event loop ran ${ticks} timer ticks while the check waited`)
})

test('every error code the API can produce, with path and problems', async (t) => {
  const target = await httpTarget()
  t.after(() => target.close())
  const dir = tempDir(t)
  // UPWATCH_SPEC from the constructor, with every problem and its path
  const spec = await rejectsWith(assert, () => new Monitor({ lease: 'soon', hostIntervl: '5s', checks: [{ name: 'x', kind: 'http' }] }), 'UPWATCH_SPEC')
  assert.equal(spec.path, 'lease')
  const paths = spec.problems.map((p) => p.path)
  assert.ok(paths.includes('host_intervl'), paths)
  assert.ok(paths.some((p) => p.startsWith('checks[0]')), paths)
  assert.match(spec.problems.find((p) => p.path === 'host_intervl').message, /host_interval/)

  const m = new Monitor({ hostInterval: 'off' })
  t.after(() => m.close())
  await rejectsWith(assert, m.register({ name: 'bad', kind: 'http', url: 'not a url' }), 'UPWATCH_SPEC', { path: 'url' })
  const many = await rejectsWith(assert, m.registerMany([
    { name: 'a', kind: 'push', interval: '1m' },
    { name: 'b', kind: 'http', url: 'nope' },
  ]), 'UPWATCH_SPEC', { path: '[1].url' })
  assert.equal(many.problems[0].path, '[1].url')
  assert.equal(m.status().checks.length, 0, 'nothing registered when one spec is wrong')

  await rejectsWith(assert, m.pause('nope'), 'UPWATCH_UNKNOWN_CHECK')
  // The core replaces a check registered again under its name (several workers register the
  // same checks), so UPWATCH_DUPLICATE_CHECK does not come out of this API; its mapping (and
  // that of UPWATCH_FORWARDED, UPWATCH_HOST, UPWATCH_RUNTIME) is covered by the crate's unit
  // test over every ErrorCode.
  await m.registerMany([
    { name: 'twice', kind: 'push', interval: '1m' },
    { name: 'twice', kind: 'push', interval: '2m' },
  ])
  assert.equal(m.status().checks.filter((c) => c.check === 'twice').length, 1)
  await m.register({ name: 'web', kind: 'http', url: target.url('/health'), interval: '1h' })
  await rejectsWith(assert, m.push('web'), 'UPWATCH_NOT_A_PUSH_CHECK')
  await rejectsWith(assert, m.register({ name: 'fn', kind: 'callable', interval: '1m' }), 'UPWATCH_MISSING_CALLABLE')
  await rejectsWith(assert, () => new Monitor({ db: join(dir, 'no', 'such', 'dir', 'x.db') }), 'UPWATCH_STORE')
  await rejectsWith(assert, m.history({ limit: 100000 }), 'UPWATCH_INVALID_ARGUMENT', { path: 'limit' })
  await rejectsWith(assert, () => m.on('checkFialed', () => {}), 'UPWATCH_INVALID_ARGUMENT', { path: 'event' })
  await rejectsWith(assert, () => m.runNow(7), 'UPWATCH_INVALID_ARGUMENT', { path: 'names' })
  await rejectsWith(assert, () => m.close(-1), 'UPWATCH_INVALID_ARGUMENT', { path: 'graceMs' })

  // A Rust panic becomes an error, never a crash; the monitor lives on.
  const native = require('upwatch')
  await rejectsWith(assert, () => native.__panicForTests('sync'), 'UPWATCH_PANIC')
  await rejectsWith(assert, native.__panicForTests('async'), 'UPWATCH_PANIC')
  assert.equal((await m.runNow('web'))[0].status, 'up')

  const closing = new Monitor({ hostInterval: 'off' })
  await closing.close()
  await rejectsWith(assert, () => closing.prometheus(), 'UPWATCH_CLOSED')
  await rejectsWith(assert, closing.register({ name: 'x', kind: 'push', interval: '1m' }), 'UPWATCH_CLOSED')
})
