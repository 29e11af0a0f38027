// upwatch/express: the example service (examples/node) answering over real HTTP, and the
// router's auth hook, query parsing and error answers.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import express from 'express'
import { Monitor } from 'upwatch'
import { upwatchRouter, PROMETHEUS_CONTENT_TYPE } from 'upwatch/express'
import { tempDir, until } from './helpers.mjs'

const example = join(dirname(dirname(dirname(fileURLToPath(import.meta.url)))), 'examples', 'node')

async function startExample(t) {
  const dir = tempDir(t)
  const child = spawn(process.execPath, ['server.mjs'], {
    cwd: example,
    env: { ...process.env, PORT: '0', UPWATCH_DB: join(dir, 'example.db'), UPWATCH_TOKEN: 'sekret' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })))
  t.after(() => child.kill('SIGKILL'))
  const port = await until(() => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1], 20000, 'the example to listen').catch((e) => {
    throw new Error(`${e.message}: ${out} ${err}`)
  })
  return { base: `http://127.0.0.1:${port}`, child, exited, output: () => out }
}

test('the Express example answers over real HTTP', async (t) => {
  const ex = await startExample(t)
  const auth = { authorization: 'Bearer sekret' }
  const get = (path, headers = auth) => fetch(ex.base + path, { headers })

  assert.equal((await get('/upwatch/status', {})).status, 403)
  assert.equal((await get('/upwatch/status', { authorization: 'Bearer wrong' })).status, 403)
  const status = await (await get('/upwatch/status')).json()
  assert.deepEqual(status.checks.map((c) => c.check).sort(), ['checkout', 'orders-db', 'self'])

  // The service's own traffic is recorded on the push check.
  assert.equal((await fetch(ex.base + '/checkout?fail=1', { method: 'POST' })).status, 502)
  assert.equal((await fetch(ex.base + '/checkout', { method: 'POST' })).status, 200)
  let last
  const history = await until(async () => {
    const page = await (await get('/upwatch/history?check=checkout&limit=10')).json()
    last = page
    return page.items.length >= 2 ? page : null
  }, 10000, 'two checkout results in history').catch((e) => {
    throw new Error(`${e.message}: ${JSON.stringify(last)} ${JSON.stringify(status.history)} ${ex.output()}`)
  })
  assert.deepEqual(history.items.slice(0, 2).map((r) => r.status), ['up', 'down'])
  assert.ok('next_cursor' in history)
  const changes = await (await get('/upwatch/changes?check=checkout')).json()
  assert.ok(changes.items.length >= 1)

  // Readiness follows the critical checkout check; the JS check of the database fails and recovers.
  assert.equal((await get('/upwatch/ready')).status, 200)
  assert.equal((await fetch(ex.base + '/checkout?fail=1', { method: 'POST' })).status, 502)
  const notReady = await until(async () => {
    const r = await get('/upwatch/ready')
    return r.status === 503 ? r : null
  }, 5000, 'ready to answer 503')
  assert.deepEqual(await notReady.json(), { ready: false, services: { shop: 'down' } })
  await fetch(ex.base + '/checkout', { method: 'POST' })
  await until(async () => (await get('/upwatch/ready')).status === 200, 5000, 'ready to answer 200 again')
  // The example's JS notifier got the alert; the incident is listed once resolved.
  await until(() => /upwatch alert: \[critical\] down checkout/.test(ex.output()), 5000, 'the alert in the log')
  const incidents = await until(async () => {
    const page = await (await get('/upwatch/incidents?check=checkout')).json()
    return page.items?.some((i) => !i.open) ? page : null
  }, 10000, 'a resolved checkout incident')
  assert.equal(incidents.items[0].check, 'checkout')
  assert.ok('next_cursor' in incidents)
  const alerts = await (await get('/upwatch/alerts')).json()
  assert.ok(alerts.status.fired >= 1)
  assert.deepEqual(alerts.alerting.notifiers.map((n) => n.name), ['log'])
  assert.deepEqual(alerts.pending, [])
  assert.equal((await get('/upwatch/incidents?limit=0')).status, 400)
  const down = await (await fetch(ex.base + '/database/down', { method: 'POST' })).json()
  assert.equal(down.status, 'down')
  assert.match(down.error.message, /orders database unreachable/)
  const up = await (await fetch(ex.base + '/database/up', { method: 'POST' })).json()
  assert.equal(up.status, 'up')

  const uptime = await (await get('/upwatch/uptime?check=checkout,orders-db&window=1h')).json()
  assert.equal(uptime.window, '1h')
  assert.deepEqual(uptime.checks.map((u) => u.check).sort(), ['checkout', 'orders-db'])
  const host = await (await get('/upwatch/host')).json()
  assert.ok(host.memory.total > 0)
  const metrics = await get('/upwatch/metrics')
  assert.equal(metrics.headers.get('content-type'), PROMETHEUS_CONTENT_TYPE)
  assert.match(await metrics.text(), /orders-db/)

  const bad = await get('/upwatch/history?limit=abc')
  assert.equal(bad.status, 400)
  assert.deepEqual((await bad.json()).error.field, 'limit')
  const tooMany = await get('/upwatch/history?limit=5000')
  assert.equal(tooMany.status, 400)
  assert.deepEqual((await tooMany.json()).error, { code: 'invalid_argument', field: 'limit', message: (await (await get('/upwatch/history?limit=5000')).json()).error.message })
  assert.equal((await get('/upwatch/uptime?window=forever')).status, 400)
  assert.equal((await get('/upwatch/history?status=sideways')).status, 400)

  ex.child.kill('SIGTERM')
  const exit = await ex.exited
  assert.equal(exit.code, 0, 'the example closes the monitor and exits on SIGTERM')
  assert.match(ex.output(), /orders-db .* -> down/)
})

test('the router: auth is required, repeatable and comma-list filters, async auth, 503 when closed', async (t) => {
  const m = new Monitor({ hostInterval: 'off', services: [{ name: 'a' }, { name: 'b' }], checks: [
    { name: 'x', kind: 'push', interval: '1h', service: 'a' },
    { name: 'y', kind: 'push', interval: '1h', service: 'b' },
    { name: 'z', kind: 'push', interval: '1h', service: 'b' },
  ] })
  assert.throws(() => upwatchRouter(m, {}), TypeError)
  const app = express()
  app.use('/open', upwatchRouter(m, { auth: false }))
  app.use('/async', upwatchRouter(m, { auth: async (req) => req.query.key === 'k', readyServices: ['a'] }))
  const server = await new Promise((r) => { const s = app.listen(0, '127.0.0.1', () => r(s)) })
  t.after(() => new Promise((r) => server.close(r)))
  const base = `http://127.0.0.1:${server.address().port}`
  await m.push('x', { ok: false })
  await m.push('y')
  await m.push('z', { ok: false })

  assert.equal((await fetch(base + '/async/status')).status, 403)
  assert.equal((await fetch(base + '/async/status?key=k')).status, 200)
  const ready = await fetch(base + '/async/ready?key=k')
  assert.equal(ready.status, 503)
  assert.deepEqual(await ready.json(), { ready: false, services: { a: 'down' } })
  const all = await (await fetch(base + '/open/ready')).json()
  assert.deepEqual(all, { ready: false, services: { a: 'down', b: 'degraded' } })

  await m.close()
  const closed = await fetch(base + '/open/status')
  assert.equal(closed.status, 503)
  assert.equal((await closed.json()).error.code, 'closed')
})

test('the router: incidents, alerts (no secrets) and ready from the core', async (t) => {
  const m = new Monitor({ hostInterval: 'off', services: [{ name: 'a' }], checks: [
    { name: 'x', kind: 'push', interval: '1h', service: 'a' },
  ] })
  t.after(() => m.close())
  m.addNotifier({ name: 'hook', kind: 'webhook', url: 'http://127.0.0.1:9/hook-path-secret', secret: 'the-secret' })
  m.addAlert({ name: 'x', checks: ['x'], for: '1h', notify: ['hook'] })
  const app = express()
  app.use('/u', upwatchRouter(m, { auth: false, readyServices: ['a', 'ghost'] }))
  const server = await new Promise((r) => { const s = app.listen(0, '127.0.0.1', () => r(s)) })
  t.after(() => new Promise((r) => server.close(r)))
  const base = `http://127.0.0.1:${server.address().port}/u`
  await m.push('x', { ok: false })
  await m.push('x', { ok: true })

  const page = await until(async () => {
    const p = await (await fetch(`${base}/incidents?check=x&status=up,down&since=1h`)).json()
    return p.items?.length ? p : null
  }, 10000, 'an incident of x')
  assert.equal(page.items[0].check, 'x')
  assert.equal(page.items[0].open, false)
  assert.deepEqual(page, await m.incidents({ check: 'x', since: '1h' }))
  assert.deepEqual((await (await fetch(`${base}/incidents?check=nobody`)).json()), { items: [], next_cursor: null })
  const bad = await fetch(`${base}/incidents?limit=abc`)
  assert.equal(bad.status, 400)
  assert.equal((await bad.json()).error.field, 'limit')
  assert.equal((await fetch(`${base}/incidents?since=whenever`)).status, 400)

  const alerts = await fetch(`${base}/alerts`)
  assert.equal(alerts.status, 200)
  const text = await alerts.text()
  assert.ok(!text.includes('the-secret') && !text.includes('hook-path-secret'), text)
  const body = JSON.parse(text)
  assert.deepEqual(Object.keys(body).sort(), ['alerting', 'pending', 'status'])
  assert.deepEqual(body.status, m.status().alerts)
  assert.deepEqual(body.alerting.rules.map((r) => r.name), ['x'])
  assert.deepEqual(body.pending, [])

  // Ready is the core's answer: an undeclared service is unknown and does not make it unready.
  const ready = await fetch(`${base}/ready`)
  assert.equal(ready.status, 200)
  assert.deepEqual(await ready.json(), { ready: true, services: { a: 'up', ghost: 'unknown' } })
  assert.deepEqual(m.readiness(['a', 'ghost']), { ready: true, services: { a: 'up', ghost: 'unknown' } })
})

test('the router filters history by repeated and comma-separated parameters', async (t) => {
  const dir = tempDir(t)
  const m = new Monitor({ db: join(dir, 'r.db'), hostInterval: 'off', checks: [
    { name: 'x', kind: 'push', interval: '1h' },
    { name: 'y', kind: 'push', interval: '1h' },
    { name: 'z', kind: 'push', interval: '1h' },
  ] })
  t.after(() => m.close())
  for (const c of ['x', 'y', 'z']) await m.push(c, { ok: c !== 'y' })
  const app = express()
  app.use('/u', upwatchRouter(m, { auth: false }))
  const server = await new Promise((r) => { const s = app.listen(0, '127.0.0.1', () => r(s)) })
  t.after(() => new Promise((r) => server.close(r)))
  const base = `http://127.0.0.1:${server.address().port}/u`
  const checks = async (q) => {
    const page = await until(async () => {
      const p = await (await fetch(`${base}/history?${q}`)).json()
      return p.items ? p : null
    })
    return page.items.map((r) => r.check).sort()
  }
  await until(async () => (await checks('')).length === 3, 10000, 'three results written')
  assert.deepEqual(await checks('check=x&check=z'), ['x', 'z'])
  assert.deepEqual(await checks('check=x,y'), ['x', 'y'])
  assert.deepEqual(await checks('status=down'), ['y'])
  assert.deepEqual(await checks('status=up,down&check=y'), ['y'])
})
