import { ArgumentsHost, Catch, RpcExceptionFilter } from '@nestjs/common';
import { Observable, throwError } from 'rxjs';

/**
 * Hands a handler's error back to the transport unchanged. Nest's default RPC filter would log
 * it and replace it with `{status: 'error', message: 'Internal server error'}`; the transport needs
 * the original to tell an unreachable database (pause) from a failure of the message (retry,
 * dead-letter). The transport logs what it does with it.
 */
@Catch()
export class EventErrorFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    return throwError(() => exception);
  }
}
