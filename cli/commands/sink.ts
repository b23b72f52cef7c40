// `tun sink`: run the SMTP sink in the foreground until SIGINT/SIGTERM.
import type { CommandModule } from "../command.js";
import type { SinkFlagValues } from "@tunmail/sink";
import { UsageError, UserError } from "../errors.js";

const command: CommandModule = {
  command: "sink",
  describe: "Run the SMTP sink: capture every message, store it in SQLite, serve it over HTTP",
  builder: (y) =>
    y
      .option("smtp", {
        type: "string",
        describe: "SMTP listener HOST:PORT [env TUN_SINK_SMTP] (default 127.0.0.1:2525)",
      })
      .option("http", {
        type: "string",
        describe: "HTTP API and WebSocket listener HOST:PORT [env TUN_SINK_HTTP] (default 127.0.0.1:8025)",
      })
      .option("db", {
        type: "string",
        describe:
          "SQLite file, or :memory: for one removed when the sink stops [env TUN_SINK_DB] (default $XDG_DATA_HOME/tun/sink.db)",
      })
      .option("max-message-size", {
        type: "string",
        describe:
          "Largest message in bytes (e.g. 10485760 or 10MiB) [env TUN_SINK_MAX_MESSAGE_SIZE] (default 10MiB)",
      })
      .option("max-messages", {
        type: "string",
        describe: "Keep at most this many messages, 0 = no limit [env TUN_SINK_MAX_MESSAGES] (default 50000)",
      })
      .option("max-age", {
        type: "string",
        describe:
          "Prune messages older than this (e.g. 7d, 12h), 0 = never [env TUN_SINK_MAX_AGE] (default 7d)",
      })
      .option("domain", {
        type: "string",
        array: true,
        describe:
          "Accept recipients only at this domain and its subdomains; repeatable [env TUN_SINK_DOMAIN, comma-separated]",
      })
      .option("shutdown-grace", {
        type: "string",
        describe:
          "On SIGINT/SIGTERM, how long sessions may finish before they get 421 [env TUN_SINK_SHUTDOWN_GRACE] (default 5s)",
      })
      .option("parse-workers", {
        type: "string",
        describe:
          "Threads that parse messages over 64 KiB, 0 = all on the main thread [env TUN_SINK_PARSE_WORKERS] (default: cores - 1)",
      })
      // issue 11: who may use the HTTP API from a browser, and how many at once
      .option("http-host", {
        type: "string",
        array: true,
        describe:
          "Also answer HTTP requests whose Host is NAME (NAME:PORT for exactly that port); repeatable [env TUN_SINK_HTTP_HOST, comma-separated]",
      })
      .option("cors", {
        type: "string",
        array: true,
        describe:
          "Allow web pages at ORIGIN (https://app.example:8443) to call the API, with CORS headers; repeatable [env TUN_SINK_CORS, comma-separated]",
      })
      .option("max-waits", {
        type: "string",
        describe: "Held wait requests at once, beyond: 503 [env TUN_SINK_MAX_WAITS] (default 1000)",
      })
      .option("max-subscribers", {
        type: "string",
        describe:
          "Stream subscribers at once, beyond: close code 1013 [env TUN_SINK_MAX_SUBSCRIBERS] (default 200)",
      })
      .option("max-http-connections", {
        type: "string",
        describe:
          "Open HTTP connections at once, beyond: 503 [env TUN_SINK_MAX_HTTP_CONNECTIONS] (default 1000)",
      })
      // issue 6: TLS, AUTH and limits for a sink that faces the internet (defaults in sink/smtp/limits.ts)
      .option("tls", {
        type: "string",
        describe:
          "STARTTLS: on, off, or auto = on unless --smtp is loopback-only [env TUN_SINK_TLS] (default auto)",
      })
      .option("tls-cert", {
        type: "string",
        describe:
          "PEM certificate for STARTTLS/smtps [env TUN_SINK_TLS_CERT] (default: self-signed, kept beside --db)",
      })
      .option("tls-key", { type: "string", describe: "PEM private key of --tls-cert [env TUN_SINK_TLS_KEY]" })
      .option("require-tls", {
        type: "boolean",
        describe: "Refuse MAIL before STARTTLS with 530 [env TUN_SINK_REQUIRE_TLS] (default false)",
      })
      .option("smtps", {
        type: "string",
        describe: "Second listener HOST:PORT with implicit TLS, for port 465 clients [env TUN_SINK_SMTPS]",
      })
      .option("auth", {
        type: "string",
        describe:
          "none = AUTH not offered; accept-any = AUTH PLAIN/LOGIN with any credentials, user kept [env TUN_SINK_AUTH] (default none)",
      })
      .option("max-connections", {
        type: "string",
        describe: "Open SMTP sessions in total, beyond: 421 [env TUN_SINK_MAX_CONNECTIONS] (default 1000)",
      })
      .option("max-connections-per-ip", {
        type: "string",
        describe:
          "Open sessions per client IP, beyond: 421 [env TUN_SINK_MAX_CONNECTIONS_PER_IP] (default 20)",
      })
      .option("max-messages-per-ip", {
        type: "string",
        describe:
          "Messages per client IP per minute, beyond: 451 [env TUN_SINK_MAX_MESSAGES_PER_IP] (default 300)",
      })
      .option("max-recipients", {
        type: "string",
        describe: "Recipients per message, beyond: 452 [env TUN_SINK_MAX_RECIPIENTS] (default 100)",
      })
      .option("max-line-length", {
        type: "string",
        describe: "Longest command line in bytes, beyond: 421 [env TUN_SINK_MAX_LINE_LENGTH] (default 4096)",
      })
      .option("idle-timeout", {
        type: "string",
        describe: "Close a silent session after this long (421) [env TUN_SINK_IDLE_TIMEOUT] (default 60s)",
      })
      .option("session-timeout", {
        type: "string",
        describe: "Close any session after this long (421) [env TUN_SINK_SESSION_TIMEOUT] (default 10m)",
      })
      .option("allow", {
        type: "string",
        array: true,
        describe:
          "Accept connections only from these CIDRs; repeatable [env TUN_SINK_ALLOW, comma-separated]",
      })
      .option("deny", {
        type: "string",
        array: true,
        describe:
          "Refuse connections from these CIDRs with 554; repeatable [env TUN_SINK_DENY, comma-separated]",
      })
      .option("limit-exempt", {
        type: "string",
        array: true,
        describe:
          "CIDRs the per-IP limits do not apply to, none = no one [env TUN_SINK_LIMIT_EXEMPT] (default 127.0.0.0/8,::1/128)",
      }),
  handler: async (argv) => {
    // Loaded here so `tun --help` never pulls in SQLite or smtp-server.
    const { resolveSinkConfig, runSink, SinkConfigError, SINK_FLAGS } = await import("@tunmail/sink");
    const flags: SinkFlagValues = {};
    for (const name of SINK_FLAGS) {
      const v = argv[name];
      if (v !== undefined) flags[name] = v as string | string[];
    }
    let config;
    try {
      config = resolveSinkConfig(flags, process.env);
    } catch (err) {
      if (err instanceof SinkConfigError) throw new UsageError(err.message);
      throw err;
    }
    let sink: Awaited<ReturnType<typeof runSink>>;
    try {
      sink = await runSink(config);
    } catch (err) {
      // listen and database failures ("could not listen for SMTP on 127.0.0.1:2525: …") are the user's to fix
      throw new UserError(`sink not started: ${(err as Error).message}`);
    }
    await new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals): void => {
        process.stdout.write(`[sink] ${signal}: shutting down\n`);
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        // a second signal while closing stops at once
        process.once("SIGINT", () => process.exit(130));
        process.once("SIGTERM", () => process.exit(143));
        sink.close().then(resolve, (err: unknown) => {
          process.stderr.write(`tun: error while shutting down the sink: ${(err as Error).message}\n`);
          process.exitCode = 1;
          resolve();
        });
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
  },
};
export default command;
