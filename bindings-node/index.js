'use strict'
// The `upwatch` package (CommonJS): loads the native addon built by `napi build --platform`
// and adds what JS needs around it (the async-iterator protocol on event streams).
// Types: index.d.ts, generated from the Rust attributes (plus types.d.ts as its header).

const { join, resolve } = require('node:path')
const { existsSync } = require('node:fs')

function platformTriple() {
  const { platform, arch } = process
  if (platform === 'linux') {
    const glibc = !!(process.report && process.report.getReport().header.glibcVersionRuntime)
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`
  }
  if (platform === 'darwin') return `darwin-${arch}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function load() {
  // UPWATCH_NODE_ADDON: another build of the addon (the benchmarks load a release build).
  const file = process.env.UPWATCH_NODE_ADDON ? resolve(process.env.UPWATCH_NODE_ADDON) : join(__dirname, `upwatch.${platformTriple()}.node`)
  if (existsSync(file)) return require(file)
  const err = new Error(
    `upwatch: no native addon for ${process.platform}-${process.arch} (looked for ${file}); ` +
      'build it with `npm run build` in the package directory'
  )
  err.code = 'UPWATCH_NO_ADDON'
  throw err
}

const native = load()

// `for await (const e of monitor.events())`
native.EventStream.prototype[Symbol.asyncIterator] = function () {
  return this
}

module.exports = native
module.exports.Monitor = native.Monitor
module.exports.EventStream = native.EventStream
