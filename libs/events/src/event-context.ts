import { BaseRpcContext } from '@nestjs/microservices';
import type { ApplyContext } from './apply-context';
import type { DomainEvent, EventPayloads, RoutingKey } from './events';

/**
 * The context of every `@EventPattern` handler, in the worker (through Nest's microservice
 * pipeline) and in the api's direct paths alike: the event being applied and the
 * {@link ApplyContext} of its transaction. Handlers declare exactly
 * `(@Payload() payload, @Ctx() ctx: EventContext)`, in this order, so Nest and the direct
 * callers (which pass the two positionally) call them the same way.
 */
export class EventContext<K extends RoutingKey = RoutingKey> extends BaseRpcContext<
  [DomainEvent<K>, ApplyContext]
> {
  get event(): DomainEvent<K> {
    return this.args[0];
  }

  get routingKey(): K {
    return this.args[0].routingKey;
  }

  get payload(): EventPayloads[K] {
    return this.args[0].payload;
  }

  /** Deferred writes, after-commit effects, and the transaction's manager for reads. */
  get apply(): ApplyContext {
    return this.args[1];
  }
}

/** The shape of an `@EventPattern(key)` handler method. */
export type EventHandlerMethod<K extends RoutingKey> = (
  payload: EventPayloads[K],
  ctx: EventContext<K>,
) => void | Promise<void>;
