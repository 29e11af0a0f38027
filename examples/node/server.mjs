// @ts-check
// A small Express service that monitors itself with upwatch, in-process:
//   - an HTTP check of its own /healthz, and a JS check of its "database",
//   - results from its own traffic (POST /checkout records each request on a push check),
//   - alerts: a rule on the shop's checks, sent to a JS function (here it logs them; a
//     pager or chat client goes in its place) and, when ALERT_WEBHOOK is set, to a webhook,
//   - the shared upwatch endpoints under /upwatch, behind a bearer token.
//
// Run: npm install && npm start      (PORT, UPWATCH_DB and UPWATCH_TOKEN are optional)
import express from 'express'
import { Monitor } from 'upwatch'
import { upwatchRouter } from 'upwatch/express'

const port = Number(process.env.PORT ?? 3000)
const token = process.env.UPWATCH_TOKEN ?? 'dev-token'

const monitor = new Monitor({
  db: process.env.UPWATCH_DB ?? 'upwatch-example.db',
  hostInterval: '15s',
  // A failing checkout takes the whole service down (and GET /upwatch/ready answers 503).
  checks: [{ name: 'checkout', kind: 'push', interval: '10m', service: 'shop' }],
  services: [{ name: 'shop', description: 'the checkout API', critical: ['checkout'] }],
})

let databaseUp = true
await monitor.register({ name: 'orders-db', kind: 'callable', interval: '30s', service: 'shop' }, async () => {
  if (!databaseUp) throw new Error('orders database unreachable')
  return 'connection ok'
})

monitor.on('checkStatusChanged', (e) => console.log(`upwatch: ${e.check} ${e.previous ?? 'new'} -> ${e.status}`))

// A notifier written in JS: throwing (or rejecting) counts as a failed attempt, retried.
monitor.addNotifier({ name: 'log', kind: 'callable', timeout: '5s' }, async (alert) => {
  console.log(`upwatch alert: [${alert.severity}] ${alert.kind} ${alert.check}: ${alert.message}`)
})
const notify = ['log']
if (process.env.ALERT_WEBHOOK) {
  monitor.addNotifier({ name: 'webhook', kind: 'webhook', url: process.env.ALERT_WEBHOOK, secret: process.env.ALERT_WEBHOOK_SECRET })
  notify.push('webhook')
}
monitor.addAlert({ name: 'shop-down', services: ['shop'], for: '0s', notify })

const app = express()
app.get('/healthz', (req, res) => {
  res.json({ ok: true })
})
app.post('/checkout', async (req, res) => {
  const started = performance.now()
  const ok = req.query.fail === undefined
  res.status(ok ? 200 : 502).json({ ok })
  await monitor.record('checkout', { ok, durationMs: performance.now() - started, message: ok ? undefined : 'payment gateway error' })
})
app.post('/database/:state', async (req, res) => {
  databaseUp = req.params.state === 'up'
  const [result] = await monitor.runNow('orders-db')
  res.json(result)
})
app.use(
  '/upwatch',
  upwatchRouter(monitor, {
    auth: (req) => req.get('authorization') === `Bearer ${token}`,
    readyServices: ['shop'],
  })
)

const server = app.listen(port, '127.0.0.1', async () => {
  const address = server.address()
  const actual = typeof address === 'object' && address ? address.port : port
  await monitor.register({ name: 'self', kind: 'http', url: `http://127.0.0.1:${actual}/healthz`, interval: '30s', service: 'shop' })
  monitor.start()
  console.log(`listening on http://127.0.0.1:${actual} (upwatch endpoints under /upwatch, token ${JSON.stringify(token)})`)
})

for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.on(signal, () => {
    server.close()
    monitor.close().then(() => process.exit(0))
  })
}
