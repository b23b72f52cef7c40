// The VM's services, reached over the doctor's SSH connection: Caddy's admin
// API, the tunnel server and its listeners, how it gets certificates (against
// the config's `tls`), the sink's health and version, and the VM's clock
// (the sink's HTTP Date header: works for a `tun` user whose shell is
// restricted, since it needs only the local forward every tunnel uses anyway).
import { request } from "node:http";
import type { TlsMode } from "../config/config.js";
import { CaddyAdmin, type CaddyHttpApp } from "../tunnel/caddy-admin.js";
import { chooseProbeListener } from "../tunnel/route.js";
import { oneLineError } from "../tunnel/prove.js";
import { fail, pass, type Check } from "./check.js";
import { forwardTo, hostPort, type DoctorContext } from "./context.js";
import { cliVersion } from "../version.js";
import { compatibleVersions } from "./version.js";

const HTTP_TIMEOUT_MS = 10_000;
/** Clocks further apart than this break lease expiry and log correlation (ms); Date has 1 s resolution. */
export const MAX_CLOCK_SKEW_MS = 10_000;

interface Answer {
  status: number;
  body: string;
  date: string | undefined;
  /** Local time halfway between sending and the answer (ms). */
  midMs: number;
}

function httpGet(port: number, path: string, hostHeader: string): Promise<Answer> {
  const sent = Date.now();
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path, headers: { host: hostHeader }, timeout: HTTP_TIMEOUT_MS },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            date: res.headers.date,
            midMs: Math.round((sent + Date.now()) / 2),
          }),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${HTTP_TIMEOUT_MS} ms`)));
    req.on("error", reject);
    req.end();
  });
}

/** Opens (and closes) one SSH channel to a VM-local address: null when something accepts there. */
function channelTo(c: DoctorContext, host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(`no answer within ${HTTP_TIMEOUT_MS} ms`), HTTP_TIMEOUT_MS);
    c.client!.forwardOut("127.0.0.1", 0, host, port, (err, channel) => {
      clearTimeout(timer);
      if (err) return resolve(err.message.replace(/^\(SSH\) Channel open failure: /, ""));
      channel.close();
      resolve(null);
    });
  });
}

/** Caddy's way of serving the tunnel server, in the config's terms. */
export function caddyTlsMode(app: CaddyHttpApp, tlsApp: unknown, server: string): TlsMode {
  if (app.servers?.[server]?.automatic_https?.disable) return "off";
  const policies = (tlsApp as { automation?: { policies?: { issuers?: { module?: string }[] }[] } } | null)
    ?.automation?.policies;
  const modules = (policies ?? []).flatMap((p) => (p.issuers ?? []).map((i) => i.module));
  return modules.length > 0 && modules.every((m) => m === "internal") ? "internal" : "acme";
}

const TLS_MEANING: Record<TlsMode, string> = {
  acme: "certificates from Let's Encrypt (ACME: needs the DNS records above and ports 80 and 443 open)",
  internal:
    "certificates from Caddy's internal CA (clients must trust its root: tun init --tls internal prints how)",
  off: "plain HTTP, no certificates",
};

export const vmChecks: readonly Check<DoctorContext>[] = [
  {
    id: "caddy.admin",
    needs: ["ssh.forward"],
    what: (c) => `Caddy admin API at ${c.config.caddyAdmin} on the VM`,
    run: async (c) => {
      const fwd = await forwardTo(c, "Caddy admin", hostPort(c.config.caddyAdmin));
      const admin = new CaddyAdmin(() => ({ host: "127.0.0.1", port: fwd.port }), c.config.caddyAdmin);
      try {
        const app = await admin.getHttpApp();
        c.caddy = { app: app ?? {}, port: fwd.port };
      } catch (err) {
        const why = fwd.lastOpenError ?? oneLineError(err as Error);
        return fail(
          `does not answer (${why})`,
          `start Caddy on the VM (sudo systemctl start caddy; journalctl -u caddy), or fix "caddyAdmin" in ${c.config.file}`,
        );
      }
      return pass("answers");
    },
  },
  {
    id: "caddy.server",
    needs: ["caddy.admin"],
    what: (c) => `Caddy tunnel server "${c.config.caddyServer}"`,
    run: async (c) => {
      const server = c.caddy!.app.servers?.[c.config.caddyServer];
      if (!server) {
        const names = Object.keys(c.caddy!.app.servers ?? {});
        return fail(
          `not in Caddy's config (servers: ${names.join(", ") || "none"})`,
          `fix "caddyServer" in ${c.config.file}, or install infra/caddy.json on the VM (infra/install.sh)`,
        );
      }
      const listen = server.listen ?? [];
      const probe = chooseProbeListener(server, c.caddy!.app.http_port);
      if (!probe)
        return fail(`no usable listen address (${listen.join(", ") || "none"})`, "fix Caddy's config");
      const err = await channelTo(c, probe.host, probe.port);
      if (err) {
        return fail(
          `configured for ${listen.join(", ")} but ${probe.text} does not accept connections (${err})`,
          "check Caddy's log on the VM (journalctl -u caddy): another process may hold the port",
        );
      }
      return pass(`listens on ${listen.join(", ")}`);
    },
  },
  {
    id: "caddy.tls",
    needs: ["caddy.server"],
    what: (c) => `TLS on the tunnel server (config tls: ${c.config.tls})`,
    run: async (c) => {
      let tlsApp: unknown = null;
      const r = await httpGet(c.caddy!.port, "/config/apps/tls", c.config.caddyAdmin);
      if (r.status === 200 && r.body.trim()) tlsApp = JSON.parse(r.body);
      const mode = caddyTlsMode(c.caddy!.app, tlsApp, c.config.caddyServer);
      if (mode !== c.config.tls) {
        return fail(
          `Caddy serves ${TLS_MEANING[mode]}, but the config says tls ${c.config.tls}`,
          `run tun init --tls ${mode} -y, or set TUN_TLS=${c.config.tls} in /etc/tun/install.env on the VM and run infra/install.sh`,
        );
      }
      return pass(TLS_MEANING[mode]);
    },
  },
  {
    id: "sink.health",
    needs: ["ssh.forward"],
    what: (c) => `the VM's sink at ${c.config.sink}`,
    run: async (c) => {
      const fwd = await forwardTo(c, "sink", hostPort(c.config.sink));
      let r: Answer;
      try {
        r = await httpGet(fwd.port, "/api/v1/health", c.config.sink);
      } catch (err) {
        return fail(
          `does not answer (${fwd.lastOpenError ?? oneLineError(err as Error)})`,
          `start it on the VM (sudo systemctl start smtpsink; journalctl -u smtpsink), or fix "sink" in ${c.config.file}`,
        );
      }
      let health: { status?: string; version?: string } = {};
      try {
        health = JSON.parse(r.body) as typeof health;
      } catch {
        // judged below
      }
      if (r.status !== 200 || health.status !== "ok") {
        return fail(
          `answered HTTP ${r.status} without a healthy status`,
          `check "sink" in ${c.config.file}: it must be the sink's HTTP listener; see journalctl -u smtpsink on the VM`,
        );
      }
      if (r.date) c.sinkDate = { header: r.date, localMs: r.midMs };
      c.sinkVersion = health.version ?? "unknown";
      return pass(`healthy, version ${c.sinkVersion}`);
    },
  },
  {
    id: "sink.version",
    needs: ["sink.health"],
    what: () => `the sink's version against this CLI (${cliVersion()})`,
    run: async (c) => {
      const mine = cliVersion();
      if (compatibleVersions(mine, c.sinkVersion ?? "")) return pass(`${c.sinkVersion}`);
      return fail(
        `the VM runs ${c.sinkVersion}, this CLI is ${mine}`,
        "upgrade the older side: on the VM cd /opt/tun && sudo git pull && sudo infra/install.sh; here npm install -g tunmail",
      );
    },
  },
  {
    id: "clock",
    needs: ["sink.health"],
    what: () => "clock skew against the VM",
    run: async (c) => {
      const vmMs = c.sinkDate ? Date.parse(c.sinkDate.header) : NaN;
      if (!Number.isFinite(vmMs)) return { skip: "the sink sent no Date header" };
      // Date has whole seconds: the VM's time is somewhere in [vmMs, vmMs + 1 s).
      const skew = vmMs + 500 - c.sinkDate!.localMs;
      const secs = (Math.abs(skew) / 1000).toFixed(0);
      const way = skew > 0 ? "ahead of" : "behind";
      if (Math.abs(skew) > MAX_CLOCK_SKEW_MS) {
        return fail(
          `the VM's clock is ${secs} s ${way} this machine's`,
          "enable time sync on both (timedatectl set-ntp true) so leases expire when they should",
        );
      }
      return pass(`within ${MAX_CLOCK_SKEW_MS / 1000} s (${secs} s)`);
    },
  },
];
