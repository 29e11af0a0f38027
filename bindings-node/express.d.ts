import type { Request, Response, Router } from 'express'
import type { Monitor } from './index'

export interface UpwatchRouterOptions {
  /**
   * Decides access to every endpoint (return or resolve `true` to allow; a 403 otherwise).
   * Required: pass `false` to leave the endpoints open on purpose.
   */
  auth: ((req: Request, res: Response) => boolean | Promise<boolean>) | false
  /** Services `GET ready` answers for (default: every declared service). */
  readyServices?: string[]
}

/** The shared endpoints (status, history, changes, uptime, host, metrics, ready, incidents, alerts) as an Express router. */
export declare function upwatchRouter(monitor: Monitor, options: UpwatchRouterOptions): Router

export declare const PROMETHEUS_CONTENT_TYPE: 'text/plain; version=0.0.4; charset=utf-8'
