// Type-checked with `tsc --strict` (scripts/test.sh): the public types describe the API as it
// is used. Not run; the behaviour is tested by the *.test.mjs files.
import { Monitor, type CheckResult, type UpwatchError, type UpwatchEvent, type StatusSnapshot } from 'upwatch'
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

  const app = express()
  app.use('/upwatch', upwatchRouter(m, { auth: (req) => req.get('authorization') === 'Bearer x', readyServices: ['api'] }))
  app.use('/open', upwatchRouter(other, { auth: false }))
  await m.close()
  await other.close(1000)
  void results, one, down, changes, pct, mem, text, leader, m.closed
}
