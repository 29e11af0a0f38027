// The Node side of benches/node/compare.sh: the same calls as `cargo bench --bench embed`
// (1,000 push checks that each have a result), plus event delivery to a JS listener while
// the event loop's delay is measured. Prints `node/<name>: <us> us/call (<n> calls)` lines.
import { createRequire } from 'node:module'
import { monitorEventLoopDelay } from 'node:perf_hooks'

const { Monitor } = createRequire(import.meta.url)('../../bindings-node/index.js')

const budgetMs = Number(process.env.BUDGET_MS ?? 3000)
const checks = 1000

async function report(name, f) {
  for (let i = 0; i < 3; i++) await f()
  const start = process.hrtime.bigint()
  let calls = 0
  while (Number(process.hrtime.bigint() - start) / 1e6 < budgetMs) {
    await f()
    calls++
  }
  const us = Number(process.hrtime.bigint() - start) / 1e3 / calls
  console.log(`node/${name}: ${us.toFixed(1)} us/call (${calls} calls)`)
  return us
}

const m = new Monitor({ hostInterval: 'off' })
const specs = []
for (let i = 0; i < checks; i++) {
  specs.push({ name: `check-${String(i).padStart(4, '0')}`, kind: 'push', interval: '1h', service: `svc-${i % 10}` })
}
await m.registerMany(specs)
for (let i = 0; i < checks; i++) await m.push(`check-${String(i).padStart(4, '0')}`, { ok: i % 7 !== 0 })

await report('status_1000_checks', () => {
  const s = m.status()
  if (s.checks.length !== checks) throw new Error('status')
})
await report('host_cached', () => m.host())
await report('push', () => m.push('check-0001'))

// Event delivery: pushes in batches on a timer; every push is one check_succeeded event that
// the listener receives on the JS thread. The event loop's delay is sampled meanwhile.
const rate = Number(process.env.EVENTS_PER_S ?? 10000)
const seconds = Number(process.env.EVENT_SECONDS ?? 5)
let received = 0
m.on('checkSucceeded', () => {
  received++
})
const batch = rate / 100
const lag = monitorEventLoopDelay({ resolution: 1 })
lag.enable()
const started = Date.now()
let sent = 0
await new Promise((resolve) => {
  const timer = setInterval(() => {
    const due = Math.min(rate * seconds, Math.round(((Date.now() - started) / 1000) * rate))
    const pushes = []
    while (sent < due) {
      pushes.push(m.push(`check-${String(sent % checks).padStart(4, '0')}`))
      sent++
    }
    if (sent >= rate * seconds) {
      clearInterval(timer)
      Promise.all(pushes).then(resolve)
    }
  }, 1000 / (rate / batch))
})
const until = Date.now() + 5000
while (received < sent && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
const elapsed = (Date.now() - started) / 1000
lag.disable()
const ms = (ns) => (ns / 1e6).toFixed(2)
console.log(
  `node/events: ${received} of ${sent} events reached the listener in ${elapsed.toFixed(2)} s = ${Math.round(received / elapsed)} events/s ` +
    `(target ${rate}/s); event-loop delay p50 ${ms(lag.percentile(50))} ms, p99 ${ms(lag.percentile(99))} ms, max ${ms(lag.max)} ms`
)
await m.close()
