// Alerting from JS, against real things on loopback: an HTTP target the test takes down and
// brings back, a closed TCP port, a webhook receiver that verifies the signature, and a JS
// notifier function (one failed attempt, then delivery on retry).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { createHmac } from 'node:crypto'
import { Monitor } from 'upwatch'
import { join } from 'node:path'
import { until, rejectsWith, tempDir } from './helpers.mjs'

/** An HTTP target answering 200, or 503 while `healthy` is false. */
async function toggleTarget() {
  const state = { healthy: true }
  const server = http.createServer((req, res) => {
    res.writeHead(state.healthy ? 200 : 503, { 'content-type': 'text/plain' })
    res.end(state.healthy ? 'ok' : 'down')
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.url = `http://127.0.0.1:${server.address().port}/health`
  state.close = () => new Promise((resolve) => server.close(resolve))
  return state
}

/** A webhook receiver: keeps each POST's headers and raw body. */
async function receiver() {
  const received = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      received.push({ headers: req.headers, body })
      res.writeHead(204)
      res.end()
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}/hooks/upwatch-7f3a`,
    received,
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}

/** A loopback port nothing listens on (bound, noted, closed). */
async function closedPort() {
  const server = net.createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

test('a JS notifier gets the alert, a throw is a failed attempt retried; a webhook gets the signed JSON; incidents after recovery', async (t) => {
  const target = await toggleTarget()
  const hook = await receiver()
  t.after(() => Promise.all([target.close(), hook.close()]))
  const m = new Monitor({
    hostInterval: 'off',
    services: [{ name: 'shop' }],
    checks: [{ name: 'api', kind: 'http', url: target.url, interval: '1h', service: 'shop' }],
  })
  t.after(() => m.close())
  const failures = []
  const delivered = []
  m.on('alertDeliveryFailed', (e) => failures.push(e))
  m.on('alertDelivered', (e) => delivered.push(e))

  const calls = []
  let failNext = true
  m.addNotifier({ name: 'pager', kind: 'callable', backoff: '50ms', maxAttempts: 5 }, async (alert) => {
    calls.push(alert)
    await new Promise((r) => setTimeout(r, 5))
    if (failNext) {
      failNext = false
      throw new Error('pager offline')
    }
  })
  m.addNotifier({
    name: 'hook',
    kind: 'webhook',
    url: hook.url,
    secret: 's3cret-value',
    headers: { Authorization: 'Bearer header-secret' },
    backoff: '50ms',
  })
  m.addAlert({ name: 'api-down', checks: ['api'], for: '0s', notify: ['pager', 'hook'], sendResolved: true })
  m.start()
  assert.equal((await until(async () => (await m.runNow('api'))[0], 5000, 'a first run')).status, 'up')

  target.healthy = false
  assert.equal((await m.runNow('api'))[0].status, 'down')

  // First attempt throws, the retry (50 ms later) delivers the same alert.
  await until(() => calls.length >= 2, 10000, 'the notifier to be called twice')
  const [first, retry] = calls
  assert.equal(first.rule, 'api-down')
  assert.equal(first.check, 'api')
  assert.equal(first.kind, 'down')
  assert.equal(first.service, 'shop')
  assert.equal(first.status, 'down')
  assert.equal(retry.id, first.id)
  const failed = await until(() => failures.find((e) => e.notifier === 'pager'), 5000, 'alert_delivery_failed')
  assert.equal(failed.alert, first.id)
  assert.equal(failed.attempt, 1)
  assert.equal(failed.gave_up, false)
  assert.match(failed.error, /pager offline/)
  const ok = await until(() => delivered.find((e) => e.notifier === 'pager'), 5000, 'alert_delivered')
  assert.equal(ok.attempts, 2)

  // The webhook got the alert_fired event, signed over the raw body.
  const got = await until(() => hook.received[0], 5000, 'the webhook to receive the alert')
  const body = JSON.parse(got.body)
  assert.equal(body.event, 'alert_fired')
  assert.equal(body.check, 'api')
  assert.equal(body.kind, 'down')
  assert.equal(body.id, first.id)
  const expected = 'sha256=' + createHmac('sha256', 's3cret-value').update(got.body).digest('hex')
  assert.equal(got.headers['x-upwatch-signature'], expected)
  assert.equal(got.headers.authorization, 'Bearer header-secret')

  const counters = m.status().alerts
  assert.ok(counters.fired >= 1, JSON.stringify(counters))
  assert.ok(counters.delivered >= 2, JSON.stringify(counters))
  assert.ok(counters.attempts_failed >= 1, JSON.stringify(counters))
  assert.equal(counters.last_failure.notifier, 'pager')
  assert.equal(counters.sending, true)

  // The set-up in force, without the webhook's URL, secret or headers.
  const view = m.alerting()
  const text = JSON.stringify(view)
  for (const secret of ['s3cret-value', 'header-secret', 'upwatch-7f3a', String(new URL(hook.url).port)]) {
    assert.ok(!text.includes(secret), `alerting() shows ${secret}: ${text}`)
  }
  assert.deepEqual(view.notifiers.map((n) => [n.name, n.kind, n.function]), [['hook', 'webhook', false], ['pager', 'callable', true]])
  assert.deepEqual(view.rules.map((r) => [r.name, r.notify]), [['api-down', ['pager', 'hook']]])
  assert.deepEqual(m.pendingAlerts(), [])

  // Back up: one resolved incident with its duration, and its statistics.
  target.healthy = true
  assert.equal((await m.runNow('api'))[0].status, 'up')
  const page = await until(async () => {
    const p = await m.incidents({ check: 'api' })
    return p.items.length === 1 && !p.items[0].open ? p : null
  }, 10000, 'a resolved incident')
  const [incident] = page.items
  assert.equal(incident.check, 'api')
  assert.equal(incident.service, 'shop')
  assert.ok(incident.ended !== null)
  assert.ok(incident.duration_ms > 0, `duration ${incident.duration_ms}`)
  // Times are to the millisecond in JS, the duration is not.
  assert.ok(Math.abs(Date.parse(incident.ended) - Date.parse(incident.started) - incident.duration_ms) <= 1)
  assert.ok(incident.changes.length >= 2)
  assert.equal(page.next_cursor, null)
  assert.deepEqual((await m.incidents('api')).items.map((i) => i.id), [incident.id])
  const [stats] = await m.incidentStats('api', '1h')
  assert.equal(stats.check, 'api')
  assert.equal(stats.incidents, 1)
  assert.ok(stats.downtime_ms > 0)
  assert.ok(stats.mttr_ms > 0)
  // The resolved alert reaches the JS function too.
  await until(() => calls.some((a) => a.kind === 'resolved' && a.incident === incident.id), 5000, 'the resolved alert')
})

test('a muted check fires no alert to the function (held), maintenance windows show as active', async (t) => {
  const port = await closedPort()
  const m = new Monitor({
    hostInterval: 'off',
    checks: [{ name: 'db', kind: 'tcp', host: '127.0.0.1', port, interval: '1h', timeout: '2s' }],
  })
  t.after(() => m.close())
  const calls = []
  m.addNotifier({ name: 'fn', kind: 'callable' }, (alert) => void calls.push(alert))
  m.addAlert({ name: 'db-down', checks: ['db'], for: '0s', notify: ['fn'] })
  await m.mute('db', '30m')
  assert.deepEqual(m.alerting().mutes.map((x) => x.target), ['db'])
  assert.ok(m.alerting().mutes[0].remaining_ms > 29 * 60 * 1000)
  m.start()
  const held = m.status().alerts.held
  await until(async () => (await m.runNow('db'))[0].status === 'down', 5000, 'the closed port to be down')
  await until(() => m.status().alerts.held > held, 5000, 'the alert to be held')
  await new Promise((r) => setTimeout(r, 300))
  assert.deepEqual(calls, [], 'a muted check reaches no notifier')
  assert.equal(m.status().alerts.fired, 0)
  await m.unmute('db')
  assert.deepEqual(m.alerting().mutes, [])
  const report = m.alertsReport()
  assert.deepEqual(report.alerting, m.alerting())
  assert.deepEqual(report.status, m.status().alerts)
  assert.deepEqual(report.pending, [])

  m.addMaintenance({ name: 'now', checks: ['db'], from: new Date(Date.now() - 60000).toISOString(), to: new Date(Date.now() + 3600000).toISOString() })
  m.addMaintenance({ name: 'nightly', weekdays: ['sun'], start: '02:00', end: '02:30', timezone: 'Europe/Paris' })
  const windows = Object.fromEntries(m.alerting().maintenance.map((w) => [w.name, w]))
  assert.equal(windows.now.active, true)
  assert.equal(windows.now.schedule.type, 'once')
  assert.equal(windows.nightly.schedule.timezone, 'Europe/Paris')
  assert.equal(m.removeMaintenance('now'), true)
  assert.equal(m.removeMaintenance('now'), false)
  assert.equal(m.removeAlert('db-down'), true)
  assert.equal(m.removeNotifier('fn'), true)
  assert.equal(m.removeNotifier('fn'), false)
  assert.deepEqual(m.alerting().notifiers, [])
})

test('a mute asked of a second monitor on the file flags results where checks run; services have incidents', async (t) => {
  const port = await closedPort()
  const db = join(tempDir(t), 'shared.db')
  const config = {
    db,
    lease: '1s',
    hostInterval: 'off',
    checks: [{ name: 'db', service: 'backend', kind: 'tcp', host: '127.0.0.1', port, interval: '1h', timeout: '2s' }],
  }
  const holder = new Monitor(config)
  t.after(() => holder.close())
  holder.start()
  await until(() => holder.runsChecks(), 10000, 'the lease')
  const other = new Monitor(config)
  t.after(() => other.close())
  other.start()
  await new Promise((r) => setTimeout(r, 500))
  assert.equal(other.runsChecks(), false)

  await other.mute('backend', '1h')
  assert.deepEqual(holder.alerting().mutes.map((x) => x.target), ['backend'])
  const [down] = await holder.runNow('db')
  assert.equal(down.status, 'down')
  assert.equal(down.maintenance, true)
  await until(async () => (await other.history('db')).items.length === 1, 5000, 'the stored result')
  assert.equal((await other.history('db')).items[0].maintenance, true)

  const serviceIncidents = async () => (await other.incidents({ service: 'backend' })).items.filter((i) => i.scope === 'service')
  await until(async () => (await serviceIncidents()).length === 1, 5000, 'the service incident')
  const [open] = await serviceIncidents()
  assert.equal(open.open, true)
  assert.equal(open.check, 'db')
  assert.match(open.id, /^service:backend@\d+$/)
  await other.unmute('backend')
  assert.deepEqual(holder.alerting().mutes, [])
  // Reopened as a listener on the same port: the check comes back up.
  const server = net.createServer((s) => s.end())
  await new Promise((r) => server.listen(port, '127.0.0.1', r))
  t.after(() => server.close())
  const [up] = await holder.runNow('db')
  assert.equal(up.status, 'up')
  assert.equal(up.maintenance, undefined)
  await until(async () => (await serviceIncidents()).every((i) => !i.open), 5000, 'the service incident to resolve')
  const [resolved] = await serviceIncidents()
  assert.deepEqual(resolved.changes.map((c) => c.status), ['down', 'up'])
})

test('alerting errors name their field', async (t) => {
  const m = new Monitor({ hostInterval: 'off', services: [{ name: 'api' }] })
  t.after(() => m.close())
  await rejectsWith(assert, () => m.addAlert({ name: 'x', notify: ['nobody'] }), 'UPWATCH_SPEC', { path: 'notify[0]' })
  await rejectsWith(assert, () => m.addAlert({ name: 'x', for: 'soon' }), 'UPWATCH_SPEC', { path: 'for' })
  await rejectsWith(assert, () => m.addNotifier({ name: 'p', kind: 'callable' }), 'UPWATCH_INVALID_ARGUMENT', { path: 'fn' })
  await rejectsWith(assert, () => m.addNotifier({ name: 'w', kind: 'webhook', url: 'http://127.0.0.1:1/' }, () => {}), 'UPWATCH_INVALID_ARGUMENT', { path: 'fn' })
  await rejectsWith(assert, () => m.addNotifier({ name: 'w', kind: 'carrier-pigeon' }), 'UPWATCH_SPEC', { path: 'kind' })
  await rejectsWith(assert, () => m.addMaintenance({ name: 'w', weekdays: ['someday'], start: '02:00', end: '03:00' }), 'UPWATCH_SPEC')
  await rejectsWith(assert, () => m.mute('api', 'a while'), 'UPWATCH_INVALID_ARGUMENT', { path: 'duration' })
  await rejectsWith(assert, m.incidents({ limit: 0 }), 'UPWATCH_INVALID_ARGUMENT', { path: 'limit' })
  await rejectsWith(assert, m.incidentStats('api', 'forever'), 'UPWATCH_INVALID_ARGUMENT', { path: 'window' })
  assert.equal(m.removeAlert('nope'), false)
  assert.deepEqual(m.readiness(), { ready: true, services: { api: 'unknown' } })
  assert.deepEqual(m.readiness(['api', 'other']), { ready: true, services: { api: 'unknown', other: 'unknown' } })
  assert.deepEqual(await m.incidents(), { items: [], next_cursor: null })
  await m.close()
  await rejectsWith(assert, () => m.alerting(), 'UPWATCH_CLOSED')
  await rejectsWith(assert, () => m.readiness(), 'UPWATCH_CLOSED')
})

test('notifiers, rules and windows from the config; a config notifier named in a rule added later', async (t) => {
  const hook = await receiver()
  t.after(() => hook.close())
  const m = new Monitor({
    hostInterval: 'off',
    checks: [{ name: 'beat', kind: 'push', interval: '1h' }],
    notifiers: [{ name: 'hook', kind: 'webhook', url: hook.url, maxAttempts: 2 }],
    alerts: [{ name: 'beat', checks: ['beat'], for: '0s', notify: ['hook'] }],
    maintenance: [{ name: 'later', from: '2099-01-01T00:00:00Z', to: '2099-01-02T00:00:00Z' }],
  })
  t.after(() => m.close())
  const view = m.alerting()
  assert.deepEqual(view.notifiers.map((n) => [n.name, n.max_attempts]), [['hook', 2]])
  assert.equal(view.maintenance[0].active, false)
  m.start()
  await m.push('beat', { ok: false, message: 'missed' })
  const got = await until(() => hook.received[0], 5000, 'the webhook')
  assert.equal(JSON.parse(got.body).check, 'beat')
  m.addAlert({ name: 'also', checks: ['beat'], notify: ['hook'] })
  assert.deepEqual(m.alerting().rules.map((r) => r.name), ['beat', 'also'])
})
