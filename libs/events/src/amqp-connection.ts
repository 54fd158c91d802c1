import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { connect, type ChannelModel } from 'amqplib';
import { APP_CONFIG, type AppConfig } from '@app/core';
import { declareTopology } from './topology';

type ConnectListener = (conn: ChannelModel) => Promise<void>;

/** Heartbeat (s): a broker that vanished without closing the socket is noticed within ~2 beats. */
const HEARTBEAT_S = 5;
const CONNECT_TIMEOUT_MS = 3000;
const RECONNECT_MIN_MS = 200;
const RECONNECT_MAX_MS = 5000;

/**
 * The process's one RabbitMQ connection (inert when `AMQP_URL` is unset). Connects in the
 * background, declares the topology on every (re)connect, then tells its listeners (the
 * publisher's and the consumers' channels) so they reopen; reconnects with capped backoff.
 */
@Injectable()
export class AmqpConnection implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(AmqpConnection.name);
  private readonly url: string | null;
  private conn: ChannelModel | null = null;
  private connecting = false;
  private closed = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly connectListeners: ConnectListener[] = [];
  private readonly disconnectListeners: (() => void)[] = [];
  private waiters: (() => void)[] = [];

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.url = config.amqpUrl;
  }

  get enabled(): boolean {
    return this.url !== null;
  }

  get isUp(): boolean {
    return this.conn !== null;
  }

  /** The live connection, or null while down. */
  get current(): ChannelModel | null {
    return this.conn;
  }

  /** Runs on every successful (re)connect, after the topology is declared. */
  onConnect(listener: ConnectListener): void {
    this.connectListeners.push(listener);
  }

  onDisconnect(listener: () => void): void {
    this.disconnectListeners.push(listener);
  }

  async onModuleInit(): Promise<void> {
    if (!this.enabled) return;
    this.start();
    await this.waitUntilUp(CONNECT_TIMEOUT_MS);
  }

  /** Starts connecting (idempotent). */
  start(): void {
    if (!this.enabled || this.closed || this.conn || this.connecting || this.timer) return;
    void this.attempt();
  }

  /** Resolves when connected, or after `timeoutMs` (the caller then just sees `isUp === false`). */
  waitUntilUp(timeoutMs: number): Promise<void> {
    if (this.conn || !this.enabled) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      const t = setTimeout(done, timeoutMs);
      this.waiters.push(done);
    });
  }

  private async attempt(): Promise<void> {
    this.timer = undefined;
    if (this.closed || !this.url) return;
    this.connecting = true;
    let conn: ChannelModel | null = null;
    try {
      conn = await connect(withHeartbeat(this.url), { timeout: CONNECT_TIMEOUT_MS });
      conn.on('error', (err: Error) => this.logger.warn(`connection error: ${err.message}`));
      const setup = await conn.createChannel();
      setup.on('error', () => undefined);
      await declareTopology(setup);
      await setup.close();
      if (this.closed) {
        await conn.close().catch(() => undefined);
        return;
      }
      const live = conn;
      live.on('close', () => this.lost(live));
      this.conn = live;
      if (this.failures > 0) this.logger.log('RabbitMQ connection restored');
      this.failures = 0;
      for (const l of this.connectListeners) {
        await l(live).catch((err: unknown) =>
          this.logger.warn(`a connect listener failed: ${(err as Error).message}`),
        );
      }
      for (const w of [...this.waiters]) w();
    } catch (err) {
      if (conn) await conn.close().catch(() => undefined);
      this.failures++;
      if (this.failures === 1 || this.failures % 20 === 0) {
        this.logger.warn(`RabbitMQ unavailable (${(err as Error).message}); retrying in the background`);
      }
      this.schedule();
    } finally {
      this.connecting = false;
    }
  }

  private lost(conn: ChannelModel): void {
    if (this.conn !== conn) return;
    this.conn = null;
    for (const l of this.disconnectListeners) l();
    if (this.closed) return;
    this.logger.warn('RabbitMQ connection lost; reconnecting');
    this.failures = Math.max(this.failures, 1);
    this.schedule();
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    const delay = Math.min(RECONNECT_MIN_MS * 2 ** Math.min(this.failures - 1, 10), RECONNECT_MAX_MS);
    this.timer = setTimeout(() => void this.attempt(), delay * (0.8 + Math.random() * 0.4));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const conn = this.conn;
    this.conn = null;
    if (conn) {
      for (const l of this.disconnectListeners) l();
      await conn.close().catch(() => undefined);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }
}

/** Adds `?heartbeat=` unless the URL sets its own. */
function withHeartbeat(url: string): string {
  const u = new URL(url);
  if (!u.searchParams.has('heartbeat')) u.searchParams.set('heartbeat', String(HEARTBEAT_S));
  return u.toString();
}
