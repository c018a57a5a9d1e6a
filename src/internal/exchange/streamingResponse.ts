/**
 * The StreamingResponse over an exchange: its head as the exchange received it, and its body read through the
 * exchange (a stream pull per batch of chunks, one wait for the whole rest, or reads straight into the reader's own
 * buffer).
 *
 * It sees the exchange only through `StreamedExchange`, so that the exchange may make one without an import circle.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as Chunk from "effect/Chunk"
import type * as Option from "effect/Option"
import type * as HttpError from "../../HttpError.js"
import type { Limits } from "../core/limits.js"
import type { Timings } from "../core/model.js"
import type { Request } from "../message/request.js"
import type { BodyPull, BodyReadInto, Response, StreamingResponse } from "../message/response.js"
import { StreamingBase } from "../message/response.js"
import { Phase, versionNames } from "./phase.js"
import type { Resume, Version } from "./phase.js"

/**
 * A streaming response whose exchange its holder owns without a Scope (the platform adapter's): it lets go with
 * `abandon`, and may take a body that is all in already without a wait.
 */
export interface OwnedResponse extends StreamingResponse {
  /** `close`, at once. */
  abandon(): void
  /** Letting go would still do something: body bytes are still to come, or the body may yet be decoded. */
  readonly unfinished: boolean
  /** `read` at once, when the whole body is in and has nothing to undo; undefined when `read` has to wait. */
  readNow(): Response | undefined
}

/** An exchange, as the streaming response over it sees it. */
export interface StreamedExchange {
  readonly status: number
  readonly reason: string
  readonly version: Version
  readonly rawHeaders: ReadonlyArray<string>
  readonly target: { readonly href: string }
  readonly startedAt: number
  readonly limits: Limits
  readonly codings: ReadonlyArray<string> | undefined
  readonly transferCodings: ReadonlyArray<string>
  /** a reader has asked for body bytes (see `Exchange.bodyAsked`) */
  bodyAsked: boolean
  readonly unfinished: boolean
  readonly wholeBodyIn: boolean
  makeRequest(): Request
  /** where its time went so far (see timings.ts) */
  measuredTimings(): Timings
  pull(guarded?: boolean): Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<HttpError.HttpError>>
  waitInto(into: IntoRead, resume: Resume): void
  await<A, E>(phase: Phase): Effect.Effect<A, E>
  takeWholeBody(): Uint8Array
  readerInterrupted(): void
  abandon(): void
}

/**
 * A response straight from the pool has no redirects behind it (the client sets a history of its own). One shared
 * list rather than a literal per response: V8 may decide to allocate a literal site's objects straight in the old
 * generation, where each would keep its young neighbours alive until a full collection.
 */
const NO_HISTORY: ReadonlyArray<never> = Object.freeze([])

export class StreamingResponseImpl extends StreamingBase implements OwnedResponse {
  // Built when a reader first pulls: a response read whole (or not at all) never needs them.
  private pullEffect: BodyPull | undefined = undefined
  private guardedPullEffect: BodyPull | undefined = undefined

  constructor(private readonly exchange: StreamedExchange) {
    super(
      exchange.status,
      exchange.reason,
      versionNames[exchange.version],
      exchange.rawHeaders,
      exchange.target.href,
      exchange,
      NO_HISTORY,
      exchange.startedAt
    )
  }

  protected rawBody(): Stream.Stream<Uint8Array, HttpError.HttpError> {
    return Stream.repeatEffectChunkOption(this.pullEffect ??= Effect.suspend(() => this.exchange.pull()))
  }

  protected override transferCodings(): ReadonlyArray<string> {
    return this.exchange.transferCodings
  }

  /** As the exchange found them when the head came in: none when it delivers the body as sent. */
  protected override codings(): ReadonlyArray<string> | undefined {
    return this.exchange.codings
  }

  protected override maxBodySize(): number {
    return this.exchange.limits.maxBodySize
  }

  protected override rawPull(): BodyPull {
    return this.guardedPullEffect ??= Effect.suspend(() => this.exchange.pull(true))
  }

  protected override readerInterrupted(): Effect.Effect<void> {
    return Effect.sync(() => this.exchange.readerInterrupted())
  }

  protected override rawReadInto(buffer: Buffer): BodyReadInto {
    return new IntoRead(this.exchange, buffer)
  }

  /** One wait for the whole rest of the body, rather than a stream pull per chunk. */
  override get read(): Effect.Effect<Response, HttpError.BodyError> {
    return Effect.suspend(() => {
      const consumed = this.claimBody()
      if (consumed !== undefined) return Effect.fail(consumed)
      this.exchange.bodyAsked = true
      return Effect.map(
        this.exchange.await<Uint8Array, HttpError.BodyError>(Phase.Rest),
        (content) => this.toBuffered(content)
      )
    })
  }

  override readNow(): Response | undefined {
    const exchange = this.exchange
    if (!exchange.wholeBodyIn || this.claimBody() !== undefined) return undefined
    return this.toBuffered(exchange.takeWholeBody())
  }

  get unfinished(): boolean {
    return this.exchange.unfinished
  }

  get close(): Effect.Effect<void> {
    return Effect.sync(() => this.exchange.abandon())
  }

  /** `close`, at once: for an owner that manages the exchange's lifetime without a Scope. */
  abandon(): void {
    this.exchange.abandon()
  }
}

/** A reader's reads straight into its buffer (see `BodyReadInto`): one `Effect.async` for all of them. */
export class IntoRead implements BodyReadInto {
  /** bytes the last wait put in `buffer`; -1: the body ended */
  taken = 0
  readonly wait: Effect.Effect<void, HttpError.HttpError>
  constructor(exchange: StreamedExchange, readonly buffer: Buffer) {
    this.wait = Effect.async<void, HttpError.HttpError>((resume) => exchange.waitInto(this, resume))
  }
}
