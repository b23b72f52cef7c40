// Who we are to Azure: a ready-made bearer token (TUN_AZURE_ACCESS_TOKEN, for
// CI systems that already hold one) or DefaultAzureCredential (az login,
// service-principal environment variables, managed identity on the VM).
// @azure/identity is imported lazily: it is large and most commands never sign in.
import type { AccessToken, TokenCredential } from "@azure/identity";

export type CredentialSource = "access-token" | "default";

export interface ArmCredential {
  credential: TokenCredential;
  source: CredentialSource;
}

/** A static token's lifetime is unknown to us; the SDK only needs "not expired yet" (ms). */
const STATIC_TOKEN_ASSUMED_LIFETIME_MS = 60 * 60_000;

export async function resolveCredential(accessToken: string | null): Promise<ArmCredential> {
  if (accessToken) {
    const credential: TokenCredential = {
      getToken: async (): Promise<AccessToken> => ({
        token: accessToken,
        expiresOnTimestamp: Date.now() + STATIC_TOKEN_ASSUMED_LIFETIME_MS,
      }),
    };
    return { credential, source: "access-token" };
  }
  const { DefaultAzureCredential } = await import("@azure/identity");
  return { credential: new DefaultAzureCredential(), source: "default" };
}

const SIGN_IN_ERROR_NAMES = new Set([
  "CredentialUnavailableError",
  "AggregateAuthenticationError",
  "AuthenticationError",
  "AuthenticationRequiredError",
]);

export function isSignInError(err: unknown): boolean {
  return err instanceof Error && SIGN_IN_ERROR_NAMES.has(err.name);
}

/** One line naming what was tried and how to fix it. */
export function signInFailureMessage(source: CredentialSource, detail?: string): string {
  if (source === "access-token") {
    return (
      "Azure rejected the token in TUN_AZURE_ACCESS_TOKEN" +
      (detail ? ` (${detail})` : "") +
      "; get a fresh one with `az account get-access-token --query accessToken -o tsv`, or unset it to sign in with `az login`"
    );
  }
  return (
    "could not sign in to Azure (tried AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, workload identity, managed identity, Azure CLI, Azure PowerShell, azd)" +
    "; run `az login`, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or TUN_AZURE_ACCESS_TOKEN)"
  );
}
