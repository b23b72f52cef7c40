// sshd refuses a port forward (remote or local) when the user may not forward:
// not in the VM's `tun` group, so `AllowTcpForwarding no` applies, or a
// `PermitOpen`/`PermitListen` that excludes the target. That is neither
// Caddy's nor the sink's fault, so every caller says the same one line.

/** RFC 4254 SSH_OPEN_ADMINISTRATIVELY_PROHIBITED: sshd's reason for a forbidden direct-tcpip channel. */
export const SSH_OPEN_ADMINISTRATIVELY_PROHIBITED = 1;

export function forwardRefusedMessage(user: string): string {
  return (
    `the VM refused the port forward: is ${user} in the tun group? ` +
    `(on the VM: sudo usermod -aG tun ${user}, or add ${user} to TUN_USERS in /etc/tun/install.env and run infra/install.sh)`
  );
}

/** True when a channel-open error from ssh2 is sshd's policy refusal (not e.g. "Connection refused"). */
export function isForwardRefusal(err: Error & { reason?: unknown }): boolean {
  return err.reason === SSH_OPEN_ADMINISTRATIVELY_PROHIBITED;
}
