// The application's own code under test: a small client of the Midjourney proxy API (88API dialect) that
// submits an imagine and polls the task until it ends. Nothing in it knows about mockmj.

export interface Task {
  id: string;
  status: string;
  progress: string;
  imageUrl: string | null;
  failReason: string | null;
}

export class MidjourneyClient {
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
    private readonly pollMs = 200,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(this.baseUrl.replace(/\/$/, "") + path, {
      method,
      headers: { Authorization: `Bearer ${this.apiKey}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) {
      throw new Error(`${method} ${path} answered HTTP ${response.status}: ${await response.text()}`);
    }
    return (await response.json()) as T;
  }

  /** Submit an imagine; the task id, or an error carrying the API's code and description when refused. */
  async imagine(prompt: string): Promise<string> {
    const submitted = await this.call<{ code: number; description: string; result: string | null }>(
      "POST", "/mj/submit/imagine", { prompt });
    if (submitted.code !== 1 || !submitted.result) {
      throw new Error(`imagine refused with code ${submitted.code}: ${submitted.description}`);
    }
    return submitted.result;
  }

  /** Poll until SUCCESS, FAILURE or CANCEL, at most `maxPolls` times (the API has no push but callbacks). */
  async waitFor(taskId: string, maxPolls = 300): Promise<Task> {
    for (let poll = 0; poll < maxPolls; poll++) {
      const task = await this.call<Task>("GET", `/mj/task/${taskId}/fetch`);
      if (["SUCCESS", "FAILURE", "CANCEL"].includes(task.status)) {
        return task;
      }
      await new Promise((resolve) => setTimeout(resolve, this.pollMs));
    }
    throw new Error(`task ${taskId} did not finish within ${maxPolls} polls`);
  }
}
