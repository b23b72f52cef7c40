// vitest.globalSetup: one in-process sink for the whole run, handed to the tests.
import { startSink } from "@tunmail/sink";
import type { TestProject } from "vitest/node";

export default async function setup(project: TestProject) {
  const sink = await startSink(); // free ports, an in-memory database, no log output
  project.provide("sinkUrl", sink.url);
  project.provide("smtpPort", sink.smtp.port);
  return () => sink.close();
}

declare module "vitest" {
  export interface ProvidedContext {
    sinkUrl: string;
    smtpPort: number;
  }
}
