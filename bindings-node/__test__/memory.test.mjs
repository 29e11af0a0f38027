// 10,000 register/delete cycles (plain and JS callable checks, with a listener attached)
// leave neither the JS heap nor the process's RSS growing.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import v8 from 'node:v8'
import vm from 'node:vm'
import { Monitor } from 'upwatch'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc')

async function settle() {
  for (let i = 0; i < 5; i++) {
    gc()
    await new Promise((r) => setTimeout(r, 20))
  }
  return { rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed }
}

test('10,000 register/delete cycles without memory growth', async (t) => {
  const m = new Monitor({ hostInterval: 'off' })
  t.after(() => m.close())
  let events = 0
  m.on('checkRegistered', () => events++)
  const cycle = async (i) => {
    if (i % 2) {
      await m.register({ name: `c${i}`, kind: 'callable', interval: '1h' }, async () => 'ok')
    } else {
      await m.register({ name: `c${i}`, kind: 'http', url: 'http://127.0.0.1:9/x', interval: '1h', tags: ['a', 'b'] })
    }
    await m.delete(`c${i}`)
  }
  for (let i = 0; i < 2000; i++) await cycle(i) // warm-up: allocator pools, JIT, broadcast buffers
  const before = await settle()
  for (let i = 0; i < 10000; i++) await cycle(i)
  const after = await settle()
  const mb = (n) => (n / 1048576).toFixed(1)
  const rssGrowth = after.rss - before.rss
  const heapGrowth = after.heap - before.heap
  t.diagnostic(`rss ${mb(before.rss)} -> ${mb(after.rss)} MiB, heap ${mb(before.heap)} -> ${mb(after.heap)} MiB, ${events} events`)
  assert.equal(m.status().checks.length, 0)
  // A leak of one spec or one threadsafe function per cycle is >= 1 KiB x 10,000 = 10 MiB.
  assert.ok(rssGrowth < 8 * 1048576, `RSS grew by ${mb(rssGrowth)} MiB`)
  assert.ok(heapGrowth < 2 * 1048576, `the JS heap grew by ${mb(heapGrowth)} MiB`)
})
