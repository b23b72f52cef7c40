// infra/main.bicep, checked by reading it: no Bicep compiler is available here
// (the Bicep CLI is a .NET binary fetched from GitHub; nothing on the package
// registries this machine reaches can compile a template offline). So these are
// structural checks: the template has what issue 6 lists and agrees with the
// CLI's defaults, its parameters example and its cloud-init. Whether Azure
// accepts it is only known from `az deployment group what-if` / a deployment.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULTS } from "../../cli/config/config.js";

const INFRA = join(import.meta.dirname, "..", "..", "infra");
const bicep = readFileSync(join(INFRA, "main.bicep"), "utf8");
const cloudInit = readFileSync(join(INFRA, "cloud-init.yaml"), "utf8");
const installSh = readFileSync(join(INFRA, "install.sh"), "utf8");
const paramsExample = JSON.parse(readFileSync(join(INFRA, "main.parameters.example.json"), "utf8")) as {
  parameters: Record<string, { value: unknown }>;
};

/** Built-in role "Network Contributor". */
const NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7";

/** The template without // comments (string contents kept). */
const code = bicep
  .split("\n")
  .map((line) => line.replace(/^\s*\/\/.*$/, ""))
  .join("\n");

/** `param name type [= default]` declarations. */
const params = new Map(
  [...code.matchAll(/^param (\w+) (\w+)(?: = (.+))?$/gm)].map((m) => [m[1]!, { type: m[2]!, default: m[3] }]),
);

/** `var name = value` for single-line vars. */
const vars = new Map([...code.matchAll(/^var (\w+) = (.+)$/gm)].map((m) => [m[1]!, m[2]!.trim()]));

/** The body of `resource <symbol> '<type>@<version>' = { ... }` (up to the next top-level declaration). */
function resource(symbol: string): { type: string; body: string } {
  const start = new RegExp(`^resource ${symbol} '([^']+)' = \\{$`, "m").exec(code);
  if (!start) throw new Error(`main.bicep has no resource "${symbol}"`);
  const rest = code.slice(start.index + start[0].length);
  const end = /^(resource|var|param|output|@description)\b/m.exec(rest);
  return { type: start[1]!, body: end ? rest.slice(0, end.index) : rest };
}

const unquote = (v: string): string => v.replace(/^'(.*)'$/, "$1");

describe("infra/main.bicep", () => {
  it("is balanced: every bracket closes (a cheap stand-in for a parser)", () => {
    const stack: string[] = [];
    const pairs: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
    let inString = false;
    for (let i = 0; i < code.length; i++) {
      const c = code[i]!;
      if (inString) {
        if (c === "\\") i++;
        else if (c === "'") inString = false;
      } else if (c === "'") inString = true;
      else if ("([{".includes(c)) stack.push(c);
      else if (c in pairs) expect(stack.pop(), `unbalanced "${c}" at offset ${i}`).toBe(pairs[c]);
    }
    expect(inString).toBe(false);
    expect(stack).toEqual([]);
  });

  it("names the NSG with a parameter, the value the CLI's azure.nsg must hold", () => {
    expect(params.get("nsgName")?.type).toBe("string");
    expect(resource("nsg").body).toMatch(/^\s*name: nsgName$/m);
    expect(bicep).toMatch(/azure\.nsg/);
  });

  it("allows 22 (from a parameter prefix), 80 and 443, and has no rule for 25", () => {
    const nsg = resource("nsg");
    expect(nsg.type).toMatch(/^Microsoft\.Network\/networkSecurityGroups@/);
    const ports = [...nsg.body.matchAll(/destinationPortRange: '([^']+)'/g)].map((m) => m[1]);
    expect(ports).toEqual(["22", "80", "443"]);
    expect(nsg.body).not.toMatch(/destinationPortRanges/);
    expect(nsg.body).not.toMatch(/'25'/);
    expect(params.get("sshSourcePrefix")?.type).toBe("string");
    const sshRule = nsg.body.slice(0, nsg.body.indexOf("destinationPortRange: '22'"));
    expect(sshRule).toMatch(/sourceAddressPrefix: sshSourcePrefix\n[^]*$/);
    // Nothing else in the template opens anything.
    expect(code.match(/Microsoft\.Network\/networkSecurityGroups\/securityRules/)).toBeNull();
  });

  it("keeps its fixed rules out of the CLI's lease priority range", () => {
    const [low, high] = DEFAULTS.priorityRange;
    expect(unquote(vars.get("leasePriorityRange") ?? "")).toBe(`${low}-${high}`);
    expect(bicep).toMatch(new RegExp(`default ${low}-${high}`));
    const priorities = [...resource("nsg").body.matchAll(/priority: (\w+)/g)].map((m) =>
      Number(vars.get(m[1]!) ?? m[1]),
    );
    expect(priorities).toHaveLength(3);
    for (const p of priorities) {
      expect(Number.isInteger(p)).toBe(true);
      expect(p < low || p > high, `priority ${p}`).toBe(true);
    }
  });

  it("gives a user-assigned identity Network Contributor on that NSG only", () => {
    expect(resource("identity").type).toMatch(/^Microsoft\.ManagedIdentity\/userAssignedIdentities@/);
    expect(unquote(vars.get("networkContributorRoleId") ?? "")).toBe(NETWORK_CONTRIBUTOR);
    const role = resource("nsgNetworkContributor");
    expect(role.type).toMatch(/^Microsoft\.Authorization\/roleAssignments@/);
    expect(role.body).toMatch(/^\s*scope: nsg$/m);
    expect(role.body).toMatch(/principalId: identity\.properties\.principalId/);
    expect(role.body).toMatch(/roleDefinitions', networkContributorRoleId\)/);
    // Exactly one role assignment in the template.
    expect(code.match(/Microsoft\.Authorization\/roleAssignments@/g)).toHaveLength(1);

    const vm = resource("vm").body;
    expect(vm).toMatch(/type: 'UserAssigned'/);
    expect(vm).toMatch(/'\$\{identity\.id\}': \{\}/);
  });

  it("runs Ubuntu 24.04 on a NIC with the NSG, a static public IP, in a VNet/subnet", () => {
    const vm = resource("vm");
    expect(vm.type).toMatch(/^Microsoft\.Compute\/virtualMachines@/);
    expect(vm.body).toMatch(/publisher: 'Canonical'/);
    expect(vm.body).toMatch(/offer: 'ubuntu-24_04-lts'/);
    expect(vm.body).toMatch(/disablePasswordAuthentication: true/);
    expect(resource("publicIp").body).toMatch(/publicIPAllocationMethod: 'Static'/);
    expect(resource("vnet").body).toMatch(/subnets: \[/);
    const nic = resource("nic").body;
    expect(nic).toMatch(/networkSecurityGroup: \{\s*id: nsg\.id/);
    expect(nic).toMatch(/publicIPAddress: \{\s*id: publicIp\.id/);
  });

  it("boots with cloud-init that gets every placeholder filled", () => {
    expect(resource("vm").body).toMatch(/customData: base64\(cloudInit\)/);
    expect(bicep).toMatch(/loadTextContent\('cloud-init\.yaml'\)/);
    const inYaml = new Set(cloudInit.match(/__[A-Z_]+__/g));
    const inBicep = new Set(bicep.match(/__[A-Z_]+__/g));
    expect(inYaml.size).toBeGreaterThan(0);
    expect(inBicep).toEqual(inYaml);
    expect(bicep).toMatch(/'__AZURE_CLIENT_ID__',\s*identity\.properties\.clientId/);
    expect(bicep).toMatch(/'__AZURE_NSG__',\s*nsgName/);
  });

  it("outputs the public IP and the DNS records to create (A, wildcard A, MX)", () => {
    expect(code).toMatch(/^output publicIpAddress string = publicIp\.properties\.ipAddress$/m);
    const records = /^output dnsRecords array = \[([^]*?)^\]/m.exec(code)?.[1] ?? "";
    const entries = [...records.matchAll(/name: ([^\n]+)\n\s*type: '(\w+)'\n\s*value: ([^\n]+)/g)].map(
      (m) => `${m[2]} ${m[1]} ${m[3]}`,
    );
    expect(entries).toEqual([
      "A tunnelDomain publicIp.properties.ipAddress",
      "A '*.${tunnelDomain}' publicIp.properties.ipAddress",
      "MX '*.${tunnelDomain}' '10 ${tunnelDomain}'",
    ]);
  });

  it("has a parameters example that sets every required parameter and nothing unknown", () => {
    const required = [...params].filter(([, p]) => p.default === undefined).map(([name]) => name);
    expect(required.sort()).toEqual(["adminSshPublicKey", "repoUrl", "sshSourcePrefix", "tunnelDomain"]);
    for (const name of required) expect(paramsExample.parameters, name).toHaveProperty(name);
    for (const name of Object.keys(paramsExample.parameters)) expect(params.has(name), name).toBe(true);
  });
});

describe("infra/cloud-init.yaml", () => {
  it("writes the settings install.sh reads and runs install.sh from the clone", () => {
    expect(cloudInit.startsWith("#cloud-config\n")).toBe(true);
    const keys = [...cloudInit.matchAll(/^\s+([A-Z_]+)=__[A-Z_]+__$/gm)].map((m) => m[1]!);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(installSh, key).toMatch(new RegExp(`\\$\\{${key}:-`));
    expect(cloudInit).toMatch(/path: \/etc\/tun\/install\.env/);
    expect(cloudInit).toMatch(/^ {2}- bash \/opt\/tun\/infra\/install\.sh$/m);
  });

  it("is valid YAML with the cloud-config keys in the right shape (parsed by python3-yaml)", () => {
    const script = [
      "import json, sys, yaml",
      "d = yaml.safe_load(sys.stdin)",
      "print(json.dumps({k: d[k] for k in ('write_files', 'runcmd', 'packages')}))",
    ].join("\n");
    const r = spawnSync("python3", ["-c", script], { input: cloudInit, encoding: "utf8" });
    if (r.error || r.status !== 0) {
      // python3 with PyYAML is on Debian/Ubuntu images; say so rather than pass silently.
      throw new Error(`python3 -c 'import yaml' failed: ${r.error?.message ?? r.stderr}`);
    }
    const doc = JSON.parse(r.stdout) as {
      write_files: { path: string; permissions: string }[];
      runcmd: string[];
      packages: string[];
    };
    expect(doc.write_files.map((f) => [f.path, f.permissions])).toEqual([["/etc/tun/install.env", "0600"]]);
    expect(doc.runcmd).toEqual([
      'test -d /opt/tun/.git || git clone --depth 1 --branch "__REPO_REF__" "__REPO_URL__" /opt/tun',
      "bash /opt/tun/infra/install.sh",
    ]);
    expect(doc.packages).toContain("git");
  });
});
