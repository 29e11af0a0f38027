// Type-checked with `tsc --strict` (scripts/test.sh): the public types describe the API as it
// is used. Not run; the behaviour is tested by the *.test.mjs files.
import { Monitor, type Alert, type CheckResult, type UpwatchError, type UpwatchEvent, type StatusSnapshot } from 'upwatch'
import { upwatchRouter } from 'upwatch/express'
import express from 'express'

export async function usage(): Promise<void> {
  const m = new Monitor({ db: 'upwatch.db', hostInterval: '15s', maxConcurrency: 64, retention: { raw: '7d', maxBytes: '1GiB' } })
  const other = Monitor.fromConfig('upwatch.toml')
  await m.register({ name: 'api', kind: 'http', url: 'https://example.com/health', interval: '30s', expect: { status: [200] } })
  await m.register({ name: 'db', kind: 'callable', interval: '30s' }, async () => 'ok')
  await m.register({ name: 'sync', kind: 'callable', interval: '30s' }, () => undefined)
  await m.registerMany([{ name: 'beat', kind: 'push', interval: '1m' }])
  await m.update({ name: 'beat', kind: 'push', interval: '5m' })
  await m.pause('beat')
  await m.resume('beat')
  const results: CheckResult[] = await m.runNow(['api'])
  const one: CheckResult = await m.push('beat', { ok: false, message: 'disk full' })
  await m.record('beat', { ok: true, durationMs: 12.5 })
  const status: StatusSnapshot = m.status()
  const down = status.checks.filter((c) => c.status === 'down').map((c) => c.last_result?.error?.kind)
  const page = await m.history({ check: ['api'], since: '24h', status: 'down', limit: 10 })
  const next: string | null = page.next_cursor
  const changes = await m.statusChanges({ cursor: next ?? undefined })
  const [u] = await m.uptime('api', '30d')
  const pct: number | null = u ? u.uptime_pct : null
  const host = await m.host()
  const mem: number = host.memory.used_pct
  const text: string = m.prometheus()
  m.start()
  const leader: boolean = m.runsChecks() && !m.isShared()

  m.on('checkFailed', (e) => {
    // narrowed to the check_failed event
    const kind: string | undefined = e.error?.kind
    const attempt: number = e.attempt
    void kind, attempt
  })
  m.on('serviceStatusChanged', (e) => void e.cause.check)
  const onAny = (e: UpwatchEvent) => void e.event
  m.on('check_status_changed', onAny).off('check_status_changed', onAny)
  for await (const e of m.events(['checkSucceeded', 'checkFailed'])) {
    if (e.event === 'check_failed') break
  }
  const e = await m.events().nextWithin(100)
  void e?.event

  try {
    await m.pause('nope')
  } catch (err) {
    const u = err as UpwatchError
    if (u.code === 'UPWATCH_SPEC') void u.problems?.map((p) => p.path)
  }

  m.addNotifier({ name: 'hook', kind: 'webhook', url: 'https://hooks.example.com/x', secret: 's', maxAttempts: 5 })
  m.addNotifier({ name: 'pager', kind: 'callable', backoff: '1s' }, async (alert: Alert) => {
    if (alert.kind === 'down' && alert.severity === 'critical') void alert.error?.message
  })
  m.addNotifier({ name: 'sync', kind: 'callable' }, (alert) => void alert.check)
  m.addAlert({ name: 'api', checks: ['api'], for: '2m', repeat: '1h', notify: ['hook', 'pager'], sendResolved: true })
  m.addMaintenance({ name: 'nightly', weekdays: ['mon'], start: '02:00', end: '02:30', timezone: 'Europe/Paris' })
  m.addMaintenance({ name: 'once', from: '2026-12-01T00:00:00Z', to: '2026-12-01T01:00:00Z' })
  await m.mute('api', '30m')
  await m.unmute('api')
  const view = m.alerting()
  const open: boolean = view.maintenance.some((w) => w.active) || view.notifiers.some((n) => n.function)
  const waiting: number = m.pendingAlerts().length + m.status().alerts.queued
  const incidents = await m.incidents({ check: 'api', since: '7d' })
  const lasted: number | undefined = incidents.items[0]?.duration_ms
  const [stats] = await m.incidentStats('api', '30d')
  const mttr: number | null = stats ? stats.mttr_ms : null
  const ready: boolean = m.readiness(['api']).ready && m.readiness().services['api'] !== 'down'
  const gone: boolean = m.removeAlert('api') && m.removeNotifier('hook') && m.removeMaintenance('once')
  m.on('alertFired', (a) => void a.rule)
  m.on('alertDeliveryFailed', (f) => void f.error)

  const app = express()
  app.use('/upwatch', upwatchRouter(m, { auth: (req) => req.get('authorization') === 'Bearer x', readyServices: ['api'] }))
  app.use('/open', upwatchRouter(other, { auth: false }))
  await m.close()
  await other.close(1000)
  void results, one, down, changes, pct, mem, text, leader, m.closed, open, waiting, lasted, mttr, ready, gone
}
