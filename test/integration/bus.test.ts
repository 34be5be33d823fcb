// The Bus contract (lib/bus/bus.ts), run against the in-process bus and
// against RabbitMQ (NUBO_TEST_RABBITMQ_URL, default the local broker), plus
// RabbitMQ's recovery from a real broker restart.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { BusRemoteError, BusTimeoutError, type Bus, type Subscription } from '../../lib/bus/bus.ts';
import { createMemoryBus } from '../../lib/bus/memory.ts';
import { createRabbitBus, type RabbitBus } from '../../lib/bus/rabbitmq/index.ts';
import { createLogger } from '../../lib/log.ts';

const rabbitUrl = process.env.NUBO_TEST_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const prefix = `nubo-test-${randomBytes(4).toString('hex')}`;
const logger = createLogger({ level: process.env.NUBO_LOG_LEVEL ?? 'silent', name: 'bus-test' });
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let topics = 0;
const usedTopics = new Set<string>();
/** A topic name no other test uses. */
const freshTopic = (name: string) => {
  const topic = `${name}-${++topics}`;
  usedTopics.add(topic);
  return topic;
};

/** Resolves once `predicate` holds, polling; fails after `ms`. */
async function until(predicate: () => boolean, ms: number, what: string) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A promise with its resolve function, for handlers that report in. */
function signal<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Bounds `promise` by `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The buses of one test: each connect() is one more process on the same bus. */
interface Network {
  connect(): Promise<Bus>;
  /** Ends `bus` as a crashing process would while `sub`'s handler is still running. */
  kill(bus: Bus, sub: Subscription): Promise<void>;
  close(): Promise<void>;
}

interface BusFactory {
  name: string;
  network(): Network;
}

const memoryFactory: BusFactory = {
  name: 'memory bus',
  network() {
    // One in-process bus is the whole network; every "process" shares it.
    const bus = createMemoryBus();
    return {
      connect: async () => bus,
      kill: (_bus, sub) => sub.close(),
      close: () => bus.close(),
    };
  },
};

const rabbitFactory: BusFactory = {
  name: 'RabbitMQ bus',
  network() {
    const buses: RabbitBus[] = [];
    return {
      async connect() {
        const bus = await createRabbitBus(rabbitUrl, { logger, prefix, closeGraceMs: 500 });
        buses.push(bus);
        return bus;
      },
      // The socket goes without a goodbye; the broker requeues what was unacknowledged.
      kill: async (bus) => (bus as RabbitBus).destroy(),
      close: async () => void (await Promise.all(buses.map((b) => b.close()))),
    };
  },
};

/** Runs `body` with a fresh network, closing every bus afterwards. */
const withNetwork = (factory: BusFactory, body: (net: Network) => Promise<void>) => async () => {
  const net = factory.network();
  try {
    await body(net);
  } finally {
    await net.close();
  }
};

function busContract(factory: BusFactory) {
  describe(`${factory.name}: contract`, () => {
    test(
      'call returns the value the server handler resolves',
      withNetwork(factory, async (net) => {
        const [server, client] = [await net.connect(), await net.connect()];
        const topic = freshTopic('math');
        await server.serve(topic, {
          add: ({ a, b }: { a: number; b: number }) => a + b,
          echo: async (v: unknown) => v,
          nothing: () => undefined,
        });
        assert.equal(await client.call<number>(topic, 'add', { a: 2, b: 3 }, { timeoutMs: 5000 }), 5);
        const nested = { id: 'x', list: [1, 'two', { three: null }], flag: true };
        assert.deepEqual(await client.call(topic, 'echo', nested, { timeoutMs: 5000 }), nested);
        assert.equal(await client.call(topic, 'nothing', undefined, { timeoutMs: 5000 }), undefined);
        // Concurrent calls each get their own reply.
        const sums = await Promise.all([1, 2, 3, 4, 5].map((n) => client.call<number>(topic, 'add', { a: n, b: n }, { timeoutMs: 5000 })));
        assert.deepEqual(sums, [2, 4, 6, 8, 10]);
      }),
    );

    test(
      'a throwing handler comes back as a BusRemoteError with its message',
      withNetwork(factory, async (net) => {
        const [server, client] = [await net.connect(), await net.connect()];
        const topic = freshTopic('fail');
        await server.serve(topic, {
          boom: () => {
            throw new RangeError('boom: out of range');
          },
          asyncBoom: async () => {
            throw new Error('async boom');
          },
        });
        await assert.rejects(client.call(topic, 'boom', {}, { timeoutMs: 5000 }), (e: unknown) => {
          assert.ok(e instanceof BusRemoteError, `expected BusRemoteError, got ${e}`);
          assert.equal(e.message, 'boom: out of range');
          assert.equal(e.remoteName, 'RangeError');
          return true;
        });
        await assert.rejects(client.call(topic, 'asyncBoom', {}, { timeoutMs: 5000 }), (e: unknown) => {
          assert.ok(e instanceof BusRemoteError);
          assert.equal(e.message, 'async boom');
          return true;
        });
        await assert.rejects(client.call(topic, 'noSuchMethod', {}, { timeoutMs: 5000 }), (e: unknown) => {
          assert.ok(e instanceof BusRemoteError);
          assert.match(e.message, /noSuchMethod/);
          return true;
        });
      }),
    );

    test(
      'a call nobody serves fails with BusTimeoutError after its timeout',
      withNetwork(factory, async (net) => {
        const client = await net.connect();
        const timeoutMs = 300;
        const started = Date.now();
        await assert.rejects(client.call(freshTopic('nobody'), 'hello', {}, { timeoutMs }), BusTimeoutError);
        const elapsed = Date.now() - started;
        assert.ok(elapsed >= timeoutMs - 5, `rejected too early, after ${elapsed} ms`);
        assert.ok(elapsed < timeoutMs + 1000, `rejected too late, after ${elapsed} ms`);
      }),
    );

    test(
      'each cast is delivered to exactly one of two servers',
      withNetwork(factory, async (net) => {
        const [a, b, client] = [await net.connect(), await net.connect(), await net.connect()];
        const topic = freshTopic('work');
        const got: { server: string; n: number }[] = [];
        await a.serve(topic, { job: ({ n }: { n: number }) => void got.push({ server: 'a', n }) });
        await b.serve(topic, { job: ({ n }: { n: number }) => void got.push({ server: 'b', n }) });
        const count = 10;
        for (let n = 0; n < count; n++) await client.cast(topic, 'job', { n });
        await until(() => got.length >= count, 5000, 'every cast to arrive');
        await sleep(200); // room for a duplicate to show up
        assert.deepEqual(
          got.map((g) => g.n).sort((x, y) => x - y),
          Array.from({ length: count }, (_, n) => n),
        );
      }),
    );

    test(
      'publish reaches every one of three subscribers, and only them',
      withNetwork(factory, async (net) => {
        const buses = [await net.connect(), await net.connect(), await net.connect()];
        const publisher = await net.connect();
        const event = freshTopic('instance.update');
        const received: unknown[][] = [[], [], []];
        const others: unknown[] = [];
        for (const [i, bus] of buses.entries()) await bus.subscribe(event, (p) => void received[i].push(p));
        await buses[0].subscribe(`${event}.other`, (p) => void others.push(p));
        const payload = { id: 'i-1', status: 'ACTIVE', at: 42 };
        await publisher.publish(event, payload);
        await until(() => received.every((r) => r.length >= 1), 5000, 'all three subscribers');
        await sleep(100);
        for (const r of received) assert.deepEqual(r, [payload]);
        assert.deepEqual(others, []);
      }),
    );

    test(
      'a cast whose server dies before finishing is delivered again to another server',
      withNetwork(factory, async (net) => {
        const [first, second, client] = [await net.connect(), await net.connect(), await net.connect()];
        const topic = freshTopic('durable');
        const firstGot = signal<unknown>();
        const secondGot = signal<unknown>();
        const sub = await first.serve(topic, {
          job: (args: unknown) => {
            firstGot.resolve(args);
            return new Promise(() => {}); // never finishes
          },
        });
        await client.cast(topic, 'job', { id: 'job-1' });
        assert.deepEqual(await within(firstGot.promise, 5000, 'the first server'), { id: 'job-1' });
        await second.serve(topic, { job: (args: unknown) => void secondGot.resolve(args) });
        await net.kill(first, sub);
        assert.deepEqual(await within(secondGot.promise, 5000, 'the redelivery'), { id: 'job-1' });
      }),
    );

    test(
      'a cast sent before any server exists waits for the first one',
      withNetwork(factory, async (net) => {
        const client = await net.connect();
        const topic = freshTopic('early');
        await client.cast(topic, 'job', { n: 1 });
        await client.cast(topic, 'job', { n: 2 });
        await sleep(100);
        const got: number[] = [];
        const server = await net.connect();
        await server.serve(topic, { job: ({ n }: { n: number }) => void got.push(n) });
        await until(() => got.length >= 2, 5000, 'the queued casts');
        assert.deepEqual(got.sort(), [1, 2]);
      }),
    );

    test(
      'handlers run after call/cast/publish return, on copies of the payload',
      withNetwork(factory, async (net) => {
        const [server, client] = [await net.connect(), await net.connect()];
        const topic = freshTopic('copy');
        let sending = false;
        const ranWhileSending: string[] = [];
        const castGot = signal<{ list: number[] }>();
        const eventGot = signal<{ list: number[] }>();
        await server.serve(topic, {
          mutate: (args: { list: number[] }) => {
            if (sending) ranWhileSending.push('call');
            args.list.push(99);
            return args;
          },
          job: (args: { list: number[] }) => {
            if (sending) ranWhileSending.push('cast');
            castGot.resolve(args);
          },
        });
        await server.subscribe(topic, (p: { list: number[] }) => {
          if (sending) ranWhileSending.push('publish');
          eventGot.resolve(p);
        });
        const args = { list: [1, 2] };
        sending = true;
        const reply = client.call<{ list: number[] }>(topic, 'mutate', args, { timeoutMs: 5000 });
        const cast = client.cast(topic, 'job', args);
        const published = client.publish(topic, args);
        sending = false;
        assert.deepEqual(await reply, { list: [1, 2, 99] });
        await Promise.all([cast, published]);
        const [castArgs, event] = await within(Promise.all([castGot.promise, eventGot.promise]), 5000, 'cast and event');
        assert.deepEqual(castArgs, { list: [1, 2] });
        assert.deepEqual(event, { list: [1, 2] });
        assert.notEqual(castArgs, args);
        assert.deepEqual(args, { list: [1, 2] }, 'the handler changed the caller’s object');
        assert.deepEqual(ranWhileSending, []);
      }),
    );
  });
}

busContract(memoryFactory);
busContract(rabbitFactory);

describe('RabbitMQ bus: broker restart', () => {
  const rabbitmqctl = (...args: string[]) => run('rabbitmqctl', args, { timeout: 60_000 });

  test(
    'servers and subscriptions come back, and sends made meanwhile wait for the broker',
    { timeout: 60_000 },
    withNetwork(rabbitFactory, async (net) => {
      const [server, subscriber, client] = [await net.connect(), await net.connect(), await net.connect()];
      const topic = freshTopic('restart');
      const event = freshTopic('restart.event');
      const events: unknown[] = [];
      const casts: unknown[] = [];
      await server.serve(topic, { ping: (n: number) => `pong ${n}`, note: (n: unknown) => void casts.push(n) });
      await subscriber.subscribe(event, (p) => void events.push(p));
      assert.equal(await client.call(topic, 'ping', 1, { timeoutMs: 5000 }), 'pong 1');

      let during: Promise<unknown>;
      let castDuring: Promise<void>;
      await rabbitmqctl('stop_app');
      try {
        // Issued while the broker is down: they wait for the reconnection.
        during = client.call(topic, 'ping', 2, { timeoutMs: 30_000 });
        castDuring = client.cast(topic, 'note', 'while down');
        during.catch(() => {});
        castDuring.catch(() => {});
        await sleep(300);
      } finally {
        await rabbitmqctl('start_app');
        await rabbitmqctl('await_startup');
      }

      assert.equal(await client.call(topic, 'ping', 3, { timeoutMs: 20_000 }), 'pong 3');
      assert.equal(await during, 'pong 2');
      await castDuring;
      await until(() => casts.includes('while down'), 10_000, 'the cast made while the broker was down');

      // Events are best-effort until the subscription is bound again: publish until one lands.
      const deadline = Date.now() + 15_000;
      while (events.length === 0) {
        assert.ok(Date.now() < deadline, 'the subscription made before the restart never received an event');
        await client.publish(event, { after: 'restart' });
        await sleep(200);
      }
      assert.deepEqual(events[0], { after: 'restart' });
    }),
  );
});

after(async () => {
  // The topic queues are durable: remove what this run declared.
  const conn = await amqp.connect(rabbitUrl);
  try {
    const ch = await conn.createChannel();
    for (const topic of usedTopics) await ch.deleteQueue(`${prefix}.topic.${topic}`);
    await ch.deleteExchange(`${prefix}.events`);
    await ch.close();
  } finally {
    await conn.close();
  }
});
