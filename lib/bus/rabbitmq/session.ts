/* The types the parts of the RabbitMQ bus share about its connection. */
import type { ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';

/** One AMQP connection and what this bus set up on it. */
export interface Session {
  model: ChannelModel;
  /** Confirm channel for every publish (requests, casts, events, replies). */
  pub: ConfirmChannel;
  /** Exclusive, auto-delete queue this connection's calls get their replies on. */
  replyQueue: string;
  /** Topic queues declared on this connection. */
  declared: Set<string>;
  dead: boolean;
}

/** What the rest of the bus does as sessions come and go. */
export interface SessionHooks {
  /** A message on the reply queue. */
  onReply(msg: ConsumeMessage | null): void;
  /** Attaches every consumer to a session that is being set up; throws only if it died. */
  attachAll(s: Session): Promise<void>;
  /** The session died: what was attached to it is gone. */
  lost(s: Session): void;
  /** The session is the live one now. */
  activated(s: Session): void;
  /** The bus is closing: whatever still waits on it is rejected. */
  stopped(): void;
}

export interface Connection {
  /** The live session, or null while (re)connecting or closed. */
  current(): Session | null;
  isClosing(): boolean;
  /** The live session, waiting for a reconnection until `deadline`. */
  waitSession(deadline: number, what: string): Promise<Session>;
  /** Connects for the first time; throws if the broker cannot be reached. */
  start(): Promise<void>;
  /** Stops reconnecting and rejects whatever waits for a session. */
  stop(): void;
  /** Closes the live session gracefully; always resolves (see closeModel). */
  closeSession(): Promise<void>;
  /** Drops every connection at once, with no clean close and no reconnect. */
  destroy(): void;
}
