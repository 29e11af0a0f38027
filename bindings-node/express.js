'use strict'
// `upwatch/express`: the endpoints every framework integration serves (Django, Flask,
// Express, Laravel), as an Express router mounted under a prefix the application chooses:
//
//   GET status   -> monitor.status()
//   GET history?check=&service=&tag=&status=&since=&until=&cursor=&limit=  -> { items, next_cursor }
//   GET changes?...                                   -> a page of status changes, same shape
//   GET uptime?check=&service=&tag=&window=30d         -> { window, checks: [...] }
//   GET host     -> a host snapshot
//   GET metrics  -> Prometheus text (text/plain; version=0.0.4; charset=utf-8)
//   GET ready    -> 200 { ready: true, services: { api: 'up' } }, or 503 when a readiness service is down
//   GET incidents?check=&service=&tag=&status=&since=&until=&cursor=&limit=  -> a page of incidents
//   GET alerts   -> alertsReport(): { status: (as status().alerts), alerting: alerting(), pending: pendingAlerts() }
//
// check, service, tag and status may be repeated or comma lists. A bad query is a 400
// { error: { code: 'invalid_argument', field, message } }. Access goes through `auth`.

const express = require('express')

const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

class BadQuery extends Error {
  constructor(field, message) {
    super(`${field}: ${message}`)
    this.field = field
    this.detail = message
  }
}

function values(query, key) {
  const v = query[key]
  if (v === undefined) return []
  return (Array.isArray(v) ? v : [v]).map((x) => {
    if (typeof x !== 'string') throw new BadQuery(key, 'expected a plain value')
    return x
  })
}

function list(query, key) {
  const out = values(query, key)
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter(Boolean)
  return out.length ? out : undefined
}

function one(query, key) {
  const v = values(query, key)
  return v.length && v[v.length - 1] !== '' ? v[v.length - 1] : undefined
}

function limit(query) {
  const text = one(query, 'limit')
  if (text === undefined) return undefined
  if (!/^\s*-?\d+\s*$/.test(text)) throw new BadQuery('limit', `expected a whole number, got ${JSON.stringify(text)}`)
  return Number(text)
}

function historyQuery(query) {
  const q = {
    check: list(query, 'check'),
    service: list(query, 'service'),
    tag: list(query, 'tag'),
    status: list(query, 'status'),
    since: one(query, 'since'),
    until: one(query, 'until'),
    cursor: one(query, 'cursor'),
    limit: limit(query),
  }
  for (const k of Object.keys(q)) if (q[k] === undefined) delete q[k]
  return q
}

function sendError(res, status, code, message, field) {
  const error = { code, message }
  if (field !== undefined && field !== null) error.field = field
  res.status(status).json({ error })
}

/** The core's snake_case name of an upwatch error (`UPWATCH_INVALID_ARGUMENT` -> `invalid_argument`). */
function coreCode(err) {
  return typeof err.code === 'string' && err.code.startsWith('UPWATCH_') ? err.code.slice(8).toLowerCase() : null
}

function fail(res, err) {
  if (err instanceof BadQuery) return sendError(res, 400, 'invalid_argument', err.detail, err.field)
  const code = coreCode(err)
  if (code === null) throw err
  if (code === 'invalid_argument' || code === 'spec') return sendError(res, 400, 'invalid_argument', err.message, err.path)
  const status = ['closed', 'forwarded', 'store'].includes(code) ? 503 : 500
  return sendError(res, status, code, err.message, err.path)
}

/**
 * An Express router serving the monitor's endpoints.
 *
 * `auth(req, res)` decides access (return or resolve `true`); it is required: pass
 * `auth: false` to leave the endpoints open on purpose. `readyServices` lists the services
 * `GET ready` answers for (default: every declared service).
 */
function upwatchRouter(monitor, options = {}) {
  const { auth, readyServices } = options
  if (auth === undefined || (auth !== false && typeof auth !== 'function')) {
    throw new TypeError(
      'upwatchRouter(monitor, { auth }): auth must be a function (req, res) => boolean | Promise<boolean>, ' +
        'or false to leave the endpoints open'
    )
  }
  if (readyServices !== undefined && !(Array.isArray(readyServices) && readyServices.every((s) => typeof s === 'string'))) {
    throw new TypeError('upwatchRouter: readyServices must be a list of service names')
  }
  const router = express.Router()

  if (auth !== false) {
    router.use(async (req, res, next) => {
      try {
        if (await auth(req, res)) return next()
        if (!res.headersSent) sendError(res, 403, 'forbidden', 'not allowed')
      } catch (err) {
        next(err)
      }
    })
  }

  const route = (path, handler) =>
    router.get(path, async (req, res, next) => {
      try {
        await handler(req, res)
      } catch (err) {
        try {
          fail(res, err)
        } catch (other) {
          next(other)
        }
      }
    })

  route('/status', (req, res) => res.json(monitor.status()))
  route('/history', async (req, res) => res.json(await monitor.history(historyQuery(req.query))))
  route('/changes', async (req, res) => res.json(await monitor.statusChanges(historyQuery(req.query))))
  route('/uptime', async (req, res) => {
    const window = one(req.query, 'window') ?? '30d'
    const q = { check: list(req.query, 'check'), service: list(req.query, 'service'), tag: list(req.query, 'tag') }
    for (const k of Object.keys(q)) if (q[k] === undefined) delete q[k]
    res.json({ window, checks: await monitor.uptime(q, window) })
  })
  route('/host', async (req, res) => res.json(await monitor.host()))
  route('/metrics', (req, res) => {
    res.set('Content-Type', PROMETHEUS_CONTENT_TYPE).send(monitor.prometheus())
  })
  // The rule (which services, what counts as ready) lives in the core: monitor.readiness().
  route('/ready', (req, res) => {
    const body = monitor.readiness(readyServices)
    res.status(body.ready ? 200 : 503).json(body)
  })
  route('/incidents', async (req, res) => res.json(await monitor.incidents(historyQuery(req.query))))
  route('/alerts', (req, res) => res.json(monitor.alertsReport()))
  return router
}

module.exports = { upwatchRouter, PROMETHEUS_CONTENT_TYPE }
