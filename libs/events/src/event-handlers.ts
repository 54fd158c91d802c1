import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { PATTERN_HANDLER_METADATA, PATTERN_METADATA } from '@nestjs/microservices/constants';
import { PatternHandler } from '@nestjs/microservices/enums/pattern-handler.enum';
import type { EventContext } from './event-context';
import { ROUTING_KEYS, type DomainEvent, type RoutingKey } from './events';

type BoundHandler = (payload: unknown, ctx: EventContext) => unknown;

/** Thrown at boot when a routing key of SPEC §4 has nobody to apply it. */
export class MissingHandlersError extends Error {
  constructor(readonly keys: readonly string[]) {
    super(`no @EventPattern handler for: ${keys.join(', ')}`);
    this.name = 'MissingHandlersError';
  }
}

/**
 * Every `@EventPattern(routingKey)` method of the process's controllers, found by Nest's own
 * metadata (the same methods the worker's microservice transport dispatches to). The domain
 * libraries declare them; nothing is registered by hand. The api's direct paths (no broker, a
 * failed publish) and the outbox relay call them through {@link invoke}; several handlers of one
 * key run in discovery order.
 */
@Injectable()
export class EventHandlers implements OnModuleInit {
  private readonly byKey = new Map<RoutingKey, BoundHandler[]>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  onModuleInit(): void {
    this.byKey.clear();
    for (const wrapper of this.discovery.getControllers()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object') continue;
      const proto = Object.getPrototypeOf(instance) as object;
      for (const name of this.scanner.getAllMethodNames(proto)) {
        const method = instance[name];
        if (typeof method !== 'function') continue;
        if (Reflect.getMetadata(PATTERN_HANDLER_METADATA, method) !== PatternHandler.EVENT) continue;
        const patterns = (Reflect.getMetadata(PATTERN_METADATA, method) ?? []) as unknown[];
        for (const pattern of patterns) {
          if (typeof pattern !== 'string' || !(ROUTING_KEYS as string[]).includes(pattern)) continue;
          const key = pattern as RoutingKey;
          const bound = (method as BoundHandler).bind(instance);
          this.byKey.set(key, [...(this.byKey.get(key) ?? []), bound]);
        }
      }
    }
  }

  /** Routing keys without a handler. */
  missing(keys: readonly RoutingKey[] = ROUTING_KEYS): RoutingKey[] {
    return keys.filter((k) => !this.byKey.has(k));
  }

  /** Refuses to go on (throws {@link MissingHandlersError}) while a routing key has no handler. */
  assertComplete(keys: readonly RoutingKey[] = ROUTING_KEYS): void {
    const missing = this.missing(keys);
    if (missing.length > 0) throw new MissingHandlersError(missing);
  }

  /** Runs the event's handlers directly (no microservice pipeline). */
  async invoke(event: DomainEvent, ctx: EventContext): Promise<void> {
    const handlers = this.byKey.get(event.routingKey);
    if (!handlers) throw new MissingHandlersError([event.routingKey]);
    for (const h of handlers) await h(event.payload, ctx);
  }
}
