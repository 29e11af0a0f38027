// `import { upwatchRouter } from 'upwatch/express'`
import mod from './express.js'

export const { upwatchRouter, PROMETHEUS_CONTENT_TYPE } = mod
export default mod
