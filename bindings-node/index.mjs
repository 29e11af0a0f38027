// The `upwatch` package as an ES module: `import { Monitor } from 'upwatch'`.
import native from './index.js'

export const { Monitor, EventStream } = native
export default native
