// A Testcontainers for Node module for mockmj, the counterpart of the Python package's
// mockmj.testcontainers: a pinned image tag, setters that each set one MOCKMJ_* variable, an HTTP wait on
// the health endpoint, getUrl() and a few control-plane helpers.
import { AbstractStartedContainer, GenericContainer, StartedTestContainer, Wait } from "testcontainers";

export const MOCKMJ_PORT = 8080;
// the image of the mockmj version this example was written against (build it from the project's Dockerfile)
export const DEFAULT_IMAGE = "mockmj:0.1.0";

export class MockMJContainer extends GenericContainer {
  private apiKey = "sk-testcontainers";
  private controlToken: string | undefined;

  constructor(image = DEFAULT_IMAGE) {
    super(image);
    this.withExposedPorts(MOCKMJ_PORT)
      .withWaitStrategy(Wait.forHttp("/_mockmj/health", MOCKMJ_PORT).forStatusCode(200))
      .withStartupTimeout(60_000)
      .withEnvironment({ MOCKMJ_TIMING: "fast", MOCKMJ_API_KEY: this.apiKey });
  }

  /** Any setting of `mockmj serve` by its field name, e.g. withSetting("journal_size", 50). */
  withSetting(name: string, value: string | number | boolean): this {
    return this.withEnvironment({ [`MOCKMJ_${name.toUpperCase()}`]: String(value) });
  }

  withTiming(profile: "fast" | "realistic" | "per-poll" | "manual"): this {
    return this.withSetting("timing", profile);
  }

  withSeed(seed: number): this {
    return this.withSetting("seed", seed);
  }

  withDialect(dialect: "88api" | "proxy"): this {
    return this.withSetting("dialect", dialect);
  }

  /** The keys the mock accepts; the first is the one the started container's apiKey names. */
  withApiKeys(first: string, ...others: string[]): this {
    this.apiKey = first;
    return this.withSetting("api_key", [first, ...others].join(","));
  }

  withControlToken(token: string): this {
    this.controlToken = token;
    return this.withSetting("control_token", token);
  }

  override async start(): Promise<StartedMockMJContainer> {
    return new StartedMockMJContainer(await super.start(), this.apiKey, this.controlToken);
  }
}

export class StartedMockMJContainer extends AbstractStartedContainer {
  constructor(
    started: StartedTestContainer,
    readonly apiKey: string,
    private readonly controlToken: string | undefined,
  ) {
    super(started);
  }

  /** The mock's base URL as the tests' host reaches it, e.g. http://localhost:32771. */
  getUrl(): string {
    return `http://${this.getHost()}:${this.getMappedPort(MOCKMJ_PORT)}`;
  }

  /** Any control-plane call (/_mockmj/...); throws with the mock's error message unless it answers 200. */
  async control<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (this.controlToken) headers["X-MockMJ-Control-Token"] = this.controlToken;
    const response = await fetch(`${this.getUrl()}/_mockmj${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status !== 200) {
      throw new Error(`mockmj control ${method} ${path} answered ${response.status}: ${await response.text()}`);
    }
    return (await response.json()) as T;
  }

  /** A rule: requests matching `match` get `respond` (e.g. {code: 25}), `times` times at most. */
  addRule(match: Record<string, unknown>, respond: Record<string, unknown>, times?: number) {
    return this.control<{ id: string }>("POST", "/rules", { match, respond, ...(times ? { times } : {}) });
  }

  /** Move the mock's clock on (manual timing): due transitions have happened when this resolves. */
  advance(seconds: number) {
    return this.control("POST", "/clock/advance", { seconds });
  }

  /** Forget every task, balance, journal entry and rule. */
  reset() {
    return this.control("POST", "/reset", {});
  }
}
