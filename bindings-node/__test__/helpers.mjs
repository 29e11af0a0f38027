// Shared by the tests: real loopback HTTP servers, temp dirs, child processes.
import http from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'

/** A loopback HTTP server: /health 200 "ok", /status/N answers N, /slow/MS waits. */
export async function httpTarget() {
  let hits = 0
  const server = http.createServer((req, res) => {
    hits++
    const m = /^\/status\/(\d+)/.exec(req.url)
    if (m) {
      res.writeHead(Number(m[1]), { 'content-type': 'text/plain' })
      return res.end('status')
    }
    const slow = /^\/slow\/(\d+)/.exec(req.url)
    if (slow) return setTimeout(() => res.end('late'), Number(slow[1]))
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"status":"ok"}')
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    hits: () => hits,
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}

export function tempDir(t) {
  const dir = mkdtempSync(join(tmpdir(), 'upwatch-node-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Runs `node -e code` (or a file); resolves { code, signal, stdout, stderr, timedOut }. */
export function runNode(args, { env = {}, timeoutMs = 20000, cwd } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, timedOut })
    })
  })
}

/** Polls `f` until it returns a truthy value (or throws after `ms`). */
export async function until(f, ms = 10000, what = 'condition') {
  const end = Date.now() + ms
  for (;;) {
    const v = await f()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Asserts that `promise` rejects (or `fn` throws) with an upwatch error of `code`. */
export async function rejectsWith(assert, fnOrPromise, code, extra = {}) {
  let err
  try {
    await (typeof fnOrPromise === 'function' ? fnOrPromise() : fnOrPromise)
  } catch (e) {
    err = e
  }
  assert.ok(err, `expected an error ${code}, got none`)
  assert.ok(err instanceof Error, `expected an Error, got ${err}`)
  assert.equal(err.code, code, `${err.code}: ${err.message}`)
  for (const [k, v] of Object.entries(extra)) assert.deepEqual(err[k], v, `${k} of ${err.message}`)
  return err
}
